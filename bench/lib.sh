# bench/lib.sh: sourced by the bench/NN-*.sh scripts.
#
# A benchmark registers variants (an nginx server per variant, all started
# side by side), then bench_run measures them in interleaved rounds (round 1:
# A B C, round 2: A B C, ...) so that the noise of a shared machine hits all
# of them alike, and prints the median requests/s, p50 and p99 latency and
# the ratios to the baseline variant (the first) and to the peer.  With
# master_process off each gateway is one process: the CPU time it spent
# per request (from /proc/PID/schedstat, nanoseconds) is measured too, and
# its ratio (baseline CPU / variant CPU: 1.00 is "costs the same", 0.90
# "costs 11% more"), which the rest of a shared machine disturbs much less
# than requests/s.
#
#   . bench/lib.sh
#   bench_init
#   bench_nginx plain 'location / { proxy_pass http://upstream; }'
#   bench_variant plain /
#   bench_variant key   /key -H 'X-API-Key: k1'
#   bench_run plain peer-name        # baseline, peer (or "")
#
# Environment: BENCH_DURATION (seconds a measurement, default 3),
# BENCH_ROUNDS (default 5), BENCH_CONNS (default 32).

set -euo pipefail

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${MODULE:=$BENCH_TOP/build/objs/ngx_api_led_module.so}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BENCH_DURATION:=3}"
: "${BENCH_ROUNDS:=5}"
: "${BENCH_CONNS:=32}"

BENCH_DIR=
BENCH_PIDS=()
BENCH_NAMES=()
declare -A BENCH_URL BENCH_ARGS BENCH_PORT BENCH_PID BENCH_SERVER

bench_free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1,
                                      LocalAddr => "127.0.0.1:0") or die $!;
        print $s->sockport, "\n";'
}

bench_cleanup() {
    local p
    for p in "${BENCH_PIDS[@]}"; do
        kill -QUIT "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    [ -n "$BENCH_DIR" ] && rm -rf "$BENCH_DIR"
}

bench_wait_port() {
    local port=$1 i
    for i in $(seq 1 500); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.01
    done
    echo "bench: nothing listens on port $port" >&2
    return 1
}

# bench_init: a work directory and the shared upstream (plain nginx that
# answers a small JSON document), $BENCH_UPSTREAM_PORT
bench_init() {
    BENCH_DIR=$(mktemp -d /tmp/api-led-bench.XXXXXX)
    trap bench_cleanup EXIT
    BENCH_UPSTREAM_PORT=$(bench_free_port)
    bench_start_raw upstream "
        server {
            listen 127.0.0.1:$BENCH_UPSTREAM_PORT;
            keepalive_requests 100000;
            location / {
                default_type application/json;
                return 200 '{\"id\":42,\"name\":\"Ada\",\"tier\":\"gold\",\"tags\":[\"a\",\"b\"]}';
            }
        }"
    bench_wait_port "$BENCH_UPSTREAM_PORT"
}

# bench_start_raw NAME HTTP_CONF [MAIN_CONF]: an nginx with the module
# loaded (unless BENCH_WITHOUT_MODULE=1), one worker, HTTP_CONF inside
# http {}
bench_start_raw() {
    local name=$1 http=$2 main=${3:-} dir=$BENCH_DIR/$1 load=
    mkdir -p "$dir/logs"
    if [ "${BENCH_WITHOUT_MODULE:-0}" != 1 ]; then
        load="load_module $MODULE;"
    fi
    cat > "$dir/nginx.conf" <<CONF
$load
$main
daemon off;
master_process off;
worker_rlimit_nofile 65536;
error_log $dir/logs/error.log warn;
pid $dir/logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000;
    upstream bench_upstream {
        server 127.0.0.1:${BENCH_UPSTREAM_PORT:-1};
        keepalive 64;
    }
    $http
}
CONF
    "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" &
    BENCH_PIDS+=($!)
    BENCH_PID[$name]=$!
}

# bench_nginx NAME LOCATIONS [HTTP_CONF] [MAIN_CONF]: a gateway server on
# a free port whose locations are LOCATIONS; sets BENCH_PORT[NAME]
bench_nginx() {
    local name=$1 locs=$2 http=${3:-} main=${4:-} port
    port=$(bench_free_port)
    BENCH_PORT[$name]=$port
    bench_start_raw "$name" "
        $http
        server {
            listen 127.0.0.1:$port;
            $locs
        }" "$main"
    bench_wait_port "$port"
}

# bench_nginx_without_module NAME LOCATIONS [HTTP_CONF]: the same, plain
# nginx without the module (the baseline "a location without module
# directives costs nothing" is measured against)
bench_nginx_without_module() {
    BENCH_WITHOUT_MODULE=1 bench_nginx "$@"
}

# bench_variant NAME SERVER URI [wrk args...]: measure URI on the gateway
# SERVER (a bench_nginx NAME)
bench_variant() {
    local name=$1 server=$2 uri=$3
    shift 3
    BENCH_NAMES+=("$name")
    BENCH_URL[$name]="http://127.0.0.1:${BENCH_PORT[$server]}$uri"
    BENCH_SERVER[$name]=$server
    BENCH_ARGS[$name]="$*"
}

# bench_check NAME EXPECTED_STATUS: one request, fails loudly if the
# variant does not answer as expected (a benchmark of errors is no benchmark)
bench_check() {
    local name=$1 want=$2 got
    # shellcheck disable=SC2086
    got=$(eval curl -s -o /dev/null -w '%{http_code}' \
          $(bench_curl_args "${BENCH_ARGS[$name]}") "'${BENCH_URL[$name]}'")
    if [ "$got" != "$want" ]; then
        echo "bench: $name answered $got, expected $want" >&2
        return 1
    fi
}

# wrk's "-H 'Name: v'" arguments, for curl
bench_curl_args() {
    echo "$1"
}

bench_median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print 0; exit }
        if (NR % 2) print a[(NR + 1) / 2];
        else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# wrk latency "1.23ms" / "850.00us" / "1.02s" in milliseconds
bench_ms() {
    awk '{ v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
           if (u == "us") v /= 1000; else if (u == "s") v *= 1000;
           print v }'
}

# CPU time (ns) a process has run
bench_cpu_ns() {
    awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo 0
}

# bench_run BASELINE [PEER]: interleaved rounds, then the table
bench_run() {
    local base=$1 peer=${2:-} r n out pid c0 c1 reqs
    local -A rps p50 p99 cpu
    for n in "${BENCH_NAMES[@]}"; do
        rps[$n]=""; p50[$n]=""; p99[$n]=""; cpu[$n]=""
        # warm-up, also opens upstream keepalive connections
        # shellcheck disable=SC2086
        eval wrk -t1 -c"$BENCH_CONNS" -d1s ${BENCH_ARGS[$n]} \
            "'${BENCH_URL[$n]}'" > /dev/null
    done
    for r in $(seq 1 "$BENCH_ROUNDS"); do
        for n in "${BENCH_NAMES[@]}"; do
            pid=${BENCH_PID[${BENCH_SERVER[$n]}]}
            c0=$(bench_cpu_ns "$pid")
            # shellcheck disable=SC2086
            out=$(eval wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_DURATION}s" \
                  --latency ${BENCH_ARGS[$n]} "'${BENCH_URL[$n]}'")
            c1=$(bench_cpu_ns "$pid")
            reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
            cpu[$n]+="$(awk -v a="$c0" -v b="$c1" -v n="$reqs" \
                        'BEGIN { if (n > 0) print (b - a) / n / 1000 }') "
            if echo "$out" | grep -q 'Non-2xx'; then
                echo "bench: $n: $(echo "$out" | grep Non-2xx)" >&2
            fi
            rps[$n]+="$(echo "$out" | awk '/^Requests\/sec/ { print $2 }') "
            p50[$n]+="$(echo "$out" | awk '$1 == "50%" { print $2 }' \
                        | bench_ms) "
            p99[$n]+="$(echo "$out" | awk '$1 == "99%" { print $2 }' \
                        | bench_ms) "
        done
    done

    local brps prps m bcpu mcpu
    brps=$(echo "${rps[$base]}" | tr ' ' '\n' | grep . | bench_median)
    bcpu=$(echo "${cpu[$base]}" | tr ' ' '\n' | grep . | bench_median)
    prps=
    [ -n "$peer" ] && prps=$(echo "${rps[$peer]}" | tr ' ' '\n' | grep . \
                              | bench_median)

    printf '%-28s %10s %9s %9s %9s %9s %9s %9s\n' variant 'req/s' 'p50 ms' \
        'p99 ms' "/$base" 'cpu us' 'cpu/base' "${peer:+/$peer}"
    for n in "${BENCH_NAMES[@]}"; do
        m=$(echo "${rps[$n]}" | tr ' ' '\n' | grep . | bench_median)
        mcpu=$(echo "${cpu[$n]}" | tr ' ' '\n' | grep . | bench_median)
        printf '%-28s %10.0f %9.3f %9.3f %9.2f %9.2f %9.3f' "$n" "$m" \
            "$(echo "${p50[$n]}" | tr ' ' '\n' | grep . | bench_median)" \
            "$(echo "${p99[$n]}" | tr ' ' '\n' | grep . | bench_median)" \
            "$(awk -v a="$m" -v b="$brps" 'BEGIN { print a / b }')" \
            "$mcpu" \
            "$(awk -v a="$mcpu" -v b="$bcpu" \
               'BEGIN { if (a > 0) print b / a; else print 0 }')"
        if [ -n "$prps" ]; then
            printf ' %9.2f' "$(awk -v a="$m" -v b="$prps" \
                               'BEGIN { print a / b }')"
        fi
        printf '\n'
    done
    echo "(medians of $BENCH_ROUNDS interleaved rounds of ${BENCH_DURATION}s," \
         "$BENCH_CONNS connections, 1 worker each)"
}
