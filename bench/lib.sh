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
# BENCH_ROUNDS (default 5), BENCH_CONNS (connections, default 32),
# BENCH_WORKERS (nginx workers of each gateway and of the upstream,
# default 1: one process, master_process off; 2: a master and two workers,
# whose CPU is summed), BENCH_THREADS (wrk threads, default 1),
# BENCH_ONLY (a regular expression: measure only the variants it matches,
# and the baseline).
#
# BENCH_PROFILE=callgrind: instead of the rounds, each gateway runs under
# valgrind's callgrind (one process) and each variant gets the gateway's
# user-space instructions a request (exact, the same on a busy machine as
# on a quiet one) and its top functions (self instructions a request),
# BENCH_PROFILE_SECONDS (default 6) of 2 connections.
# BENCH_PROFILE=perf: each variant is measured once at BENCH_CONNS while
# "perf record" samples the gateway (and its aux process, Redis: see
# bench_aux), kernel included; prints CPU us a request and the top
# functions of each.  The profiles are kept in BENCH_KEEP (a directory)
# when it is set.

set -euo pipefail

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${MODULE:=$BENCH_TOP/build/objs/ngx_api_led_module.so}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BENCH_DURATION:=3}"
: "${BENCH_ROUNDS:=5}"
: "${BENCH_CONNS:=32}"
: "${BENCH_WORKERS:=1}"
: "${BENCH_UPSTREAM_WORKERS:=$BENCH_WORKERS}"
: "${BENCH_THREADS:=1}"
: "${BENCH_ONLY:=}"
: "${BENCH_PROFILE:=}"
: "${BENCH_PROFILE_SECONDS:=6}"
: "${BENCH_PROFILE_TOP:=15}"
: "${BENCH_KEEP:=}"

BENCH_DIR=
BENCH_PIDS=()
BENCH_REDIS_PIDS=()
BENCH_NAMES=()
declare -A BENCH_URL BENCH_ARGS BENCH_PORT BENCH_PID BENCH_SERVER BENCH_AUX
declare -A BENCH_CONF

bench_free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1,
                                      LocalAddr => "127.0.0.1:0") or die $!;
        print $s->sockport, "\n";'
}

# bench_redis VAR [args...]: a private redis-server (args added to its
# command line), its port in VAR, stopped by bench_cleanup.  The port is
# at most 55535: a cluster node's bus is its port + 10000.
# BENCH_REDIS_NICE=-10 gives the Redis servers (ours and the peer's) the
# CPU first, as if Redis had a core (or a machine) of its own.
# Each also listens on a Unix socket: with BENCH_REDIS_UNIX=1 the gateways
# (the module and the peers alike) talk to Redis through it
# (bench_redis_addr, bench_redis_lua).
bench_redis() {
    local var=$1 rport
    shift
    rport=$(bench_free_port)
    while [ "$rport" -gt 55535 ]; do
        rport=$(bench_free_port)
    done
    mkdir -p "$BENCH_DIR/redis-$rport"
    # the socket is reached by workers that are not root
    chmod 711 "$BENCH_DIR" "$BENCH_DIR/redis-$rport"
    ${BENCH_REDIS_NICE:+nice -n "$BENCH_REDIS_NICE"} \
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$BENCH_DIR/redis-$rport" --daemonize no \
        --logfile "$BENCH_DIR/redis-$rport/redis.log" \
        --unixsocket "$BENCH_DIR/redis-$rport/redis.sock" \
        --unixsocketperm 777 "$@" &
    BENCH_REDIS_PIDS+=($!)
    for _ in $(seq 1 500); do
        redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break
        sleep 0.01
    done
    printf -v "$var" '%s' "$rport"
}

# bench_redis_addr PORT: the address of that Redis for api_led_redis
bench_redis_addr() {
    if [ "${BENCH_REDIS_UNIX:-0}" = 1 ]; then
        echo "unix:$BENCH_DIR/redis-$1/redis.sock"
    else
        echo "127.0.0.1:$1"
    fi
}

# bench_redis_lua PORT: the same as the arguments of a Lua redis connect()
bench_redis_lua() {
    if [ "${BENCH_REDIS_UNIX:-0}" = 1 ]; then
        echo "'unix:$BENCH_DIR/redis-$1/redis.sock'"
    else
        echo "'127.0.0.1', $1"
    fi
}

bench_cleanup() {
    local p
    for p in "${BENCH_REDIS_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        kill -QUIT "$p" 2>/dev/null || true
    done
    for p in "${BENCH_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$BENCH_DIR" ] && [ -n "$BENCH_KEEP" ]; then
        mkdir -p "$BENCH_KEEP"
        cp -a "$BENCH_DIR"/. "$BENCH_KEEP"/ 2>/dev/null || true
    fi
    [ -n "$BENCH_DIR" ] && rm -rf "$BENCH_DIR"
}

bench_wait_port() {
    local port=$1 tries=${2:-500} i
    for i in $(seq 1 "$tries"); do
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
    # wrk and the OpenResty peer's packages, also for a script run alone
    "$BENCH_TOP/demo/deps" --bench
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

# bench_start_raw NAME HTTP_CONF [MAIN_CONF] [GATEWAY]: an nginx with the
# module loaded (unless BENCH_WITHOUT_MODULE=1), HTTP_CONF inside http {};
# BENCH_UPSTREAM_WORKERS workers, or BENCH_WORKERS for a GATEWAY (1), which
# runs under callgrind with BENCH_PROFILE=callgrind
bench_start_raw() {
    local name=$1 http=$2 main=${3:-} gw=${4:-0} dir=$BENCH_DIR/$1 load=
    local workers=$BENCH_UPSTREAM_WORKERS procs wrap=()
    mkdir -p "$dir/logs"
    if [ "${BENCH_WITHOUT_MODULE:-0}" != 1 ]; then
        load="load_module $MODULE;"
    fi
    if [ "$gw" = 1 ]; then
        workers=$BENCH_WORKERS
        if [ "$BENCH_PROFILE" = callgrind ]; then
            workers=1
            wrap=(valgrind -q --tool=callgrind
                  "--callgrind-out-file=$dir/cg.out")
        fi
    fi
    if [ "$workers" -gt 1 ]; then
        procs="master_process on; worker_processes $workers;"
    else
        procs="master_process off;"
    fi
    cat > "$dir/nginx.conf" <<CONF
$load
$main
daemon off;
$procs
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
    BENCH_CONF[$name]=$dir/nginx.conf
    "${wrap[@]}" "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" &
    BENCH_PIDS+=($!)
    BENCH_PID[$name]=$!
}

# bench_aux SERVER PID...: processes whose CPU counts for the variants of
# SERVER too (its Redis): the table's "aux us" column
bench_aux() {
    local server=$1
    shift
    BENCH_AUX[$server]="$*"
}

# bench_pids SERVER: the processes of a gateway (the master and its workers)
bench_pids() {
    local pid=${BENCH_PID[$1]}
    echo "$pid" $(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ')
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
        }" "$main" 1
    bench_wait_port "$port" 3000
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

# bench_paired "A1 A2 ..." "B1 B2 ...": the median of the rounds' ratios
# Ai / Bi.  Each round measures every variant within seconds of the
# others, so a ratio within a round cancels the machine's drift between
# rounds, which a ratio of two medians does not.
bench_paired() {
    paste -d ' ' <(echo "$1" | tr ' ' '\n' | grep .) \
                 <(echo "$2" | tr ' ' '\n' | grep .) \
        | awk '$2 > 0 { print $1 / $2 }' | bench_median
}

# wrk latency "1.23ms" / "850.00us" / "1.02s" in milliseconds
bench_ms() {
    awk '{ v = $1; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
           if (u == "us") v /= 1000; else if (u == "s") v *= 1000;
           print v }'
}

# CPU time (ns) processes have run
bench_cpu_ns() {
    local p t=0 v
    for p in "$@"; do
        v=$(awk '{ print $1 }' "/proc/$p/schedstat" 2>/dev/null || echo 0)
        t=$((t + v))
    done
    echo "$t"
}

# the machine's idle and total CPU time so far, in clock ticks: "idle total"
# (idle counts iowait: a core waiting for the disk could run a process)
bench_machine_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i;
                       print $5 + $6, t; exit }' /proc/stat
}

# bench_wrk NAME CONNS SECONDS [more wrk args]: one wrk run of a variant
bench_wrk() {
    local n=$1 conns=$2 secs=$3
    shift 3
    # shellcheck disable=SC2086
    eval wrk -t"$BENCH_THREADS" -c"$conns" -d"${secs}s" "$@" \
        ${BENCH_ARGS[$n]} "'${BENCH_URL[$n]}'"
}

# the variants to measure: all, or the baseline and those BENCH_ONLY matches
bench_selected() {
    local base=$1 n
    for n in "${BENCH_NAMES[@]}"; do
        if [ -z "$BENCH_ONLY" ] || [ "$n" = "$base" ] \
           || [[ $n =~ $BENCH_ONLY ]]; then
            echo "$n"
        fi
    done
}

# bench_run BASELINE [PEER]: interleaved rounds, then the table (or the
# profiles, with BENCH_PROFILE)
bench_run() {
    case "$BENCH_PROFILE" in
    callgrind) bench_profile_callgrind "$@"; return ;;
    perf)      bench_profile_perf "$@"; return ;;
    esac

    local base=$1 peer=${2:-} r n out pids aux c0 c1 a0 a1 m0 m1 reqs names
    local -A rps p50 p99 cpu acpu idle
    mapfile -t names < <(bench_selected "$base")
    for n in "${names[@]}"; do
        rps[$n]=""; p50[$n]=""; p99[$n]=""; cpu[$n]=""; acpu[$n]=""
        idle[$n]=""
        # warm-up, also opens upstream keepalive connections
        bench_wrk "$n" "$BENCH_CONNS" 1 > /dev/null
    done
    for r in $(seq 1 "$BENCH_ROUNDS"); do
        for n in "${names[@]}"; do
            pids=$(bench_pids "${BENCH_SERVER[$n]}")
            aux=${BENCH_AUX[${BENCH_SERVER[$n]}]:-}
            # shellcheck disable=SC2086
            c0=$(bench_cpu_ns $pids)
            # shellcheck disable=SC2086
            a0=$(bench_cpu_ns $aux)
            m0=$(bench_machine_ticks)
            out=$(bench_wrk "$n" "$BENCH_CONNS" "$BENCH_DURATION" --latency)
            m1=$(bench_machine_ticks)
            # shellcheck disable=SC2086
            c1=$(bench_cpu_ns $pids)
            # shellcheck disable=SC2086
            a1=$(bench_cpu_ns $aux)
            reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
            idle[$n]+="$(echo "$m0 $m1" | awk '$4 > $2 {
                          print ($3 - $1) / ($4 - $2) }') "
            cpu[$n]+="$(awk -v a="$c0" -v b="$c1" -v n="$reqs" \
                        'BEGIN { if (n > 0) print (b - a) / n / 1000 }') "
            if [ -n "$aux" ]; then
                acpu[$n]+="$(awk -v a="$a0" -v b="$a1" -v n="$reqs" \
                             'BEGIN { if (n > 0) print (b - a) / n / 1000 }') "
            fi
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

    local prps m mcpu show_aux=
    prps=
    [ -n "$peer" ] && [ -n "${rps[$peer]:-}" ] && prps=1
    for n in "${names[@]}"; do
        [ -n "${acpu[$n]}" ] && show_aux=1
    done

    printf '%-28s %10s %9s %9s %9s %9s %9s' variant 'req/s' 'p50 ms' \
        'p99 ms' "/$base" 'cpu us' 'cpu/base'
    [ -n "$show_aux" ] && printf ' %9s' 'aux us'
    [ -n "$prps" ] && printf ' %9s' "/$peer"
    printf ' %7s\n' 'idle'
    for n in "${names[@]}"; do
        m=$(echo "${rps[$n]}" | tr ' ' '\n' | grep . | bench_median)
        mcpu=$(echo "${cpu[$n]}" | tr ' ' '\n' | grep . | bench_median)
        printf '%-28s %10.0f %9.3f %9.3f %9.3f %9.2f %9.3f' "$n" "$m" \
            "$(echo "${p50[$n]}" | tr ' ' '\n' | grep . | bench_median)" \
            "$(echo "${p99[$n]}" | tr ' ' '\n' | grep . | bench_median)" \
            "$(bench_paired "${rps[$n]}" "${rps[$base]}")" \
            "$mcpu" \
            "$(bench_paired "${cpu[$base]}" "${cpu[$n]}")"
        if [ -n "$show_aux" ]; then
            if [ -n "${acpu[$n]}" ]; then
                printf ' %9.2f' "$(echo "${acpu[$n]}" | tr ' ' '\n' | grep . \
                                   | bench_median)"
            else
                printf ' %9s' ''
            fi
        fi
        if [ -n "$prps" ]; then
            printf ' %9.2f' "$(bench_paired "${rps[$n]}" "${rps[$peer]}")"
        fi
        printf ' %7.3f\n' "$(echo "${idle[$n]}" | tr ' ' '\n' | grep . \
                             | bench_median)"
    done
    echo "(medians of $BENCH_ROUNDS interleaved rounds of ${BENCH_DURATION}s;" \
         "ratios: the median of the rounds' ratios;" \
         "$BENCH_CONNS connections, $BENCH_WORKERS worker(s) each;" \
         "cpu us: the gateway's CPU a request${show_aux:+, aux us: its Redis CPU};" \
         "idle: the machine's idle share of its CPU during the rounds)"
}

# the instructions of the newest callgrind dump of a gateway: its total,
# then its top functions by self cost, "count function" lines
bench_callgrind_dump() {
    local dir=$1 f
    f=$(ls -t "$dir"/cg.out.* 2>/dev/null | head -1)
    [ -n "$f" ] || { echo 0; return; }
    awk '/^(summary|totals):/ { print $2; exit }' "$f"
    callgrind_annotate --inclusive=no --auto=no --threshold=100 "$f" 2>/dev/null \
        | awk '/^ *[0-9,]+ +\([ 0-9.]+%\) +[^ ]/ && !/\([0-9,]+x\)/ {
              c = $1; gsub(",", "", c);
              f = $0; sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, "", f);
              sub(/ \[.*$/, "", f); sub(/^.*:/, "", f);
              print c, f }'
}

bench_profile_callgrind() {
    local base=$1 n pid out reqs dir total names
    local -A ir
    mapfile -t names < <(bench_selected "$base")
    for n in "${names[@]}"; do
        pid=${BENCH_PID[${BENCH_SERVER[$n]}]}
        dir=$BENCH_DIR/${BENCH_SERVER[$n]}
        bench_wrk "$n" 2 2 > /dev/null
        callgrind_control -z "$pid" > /dev/null 2>&1
        out=$(bench_wrk "$n" 2 "$BENCH_PROFILE_SECONDS")
        callgrind_control -d "$pid" > /dev/null 2>&1
        sleep 1
        reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
        if echo "$out" | grep -q 'Non-2xx'; then
            echo "bench: $n: $(echo "$out" | grep Non-2xx)" >&2
        fi
        bench_callgrind_dump "$dir" > "$BENCH_DIR/cg-$n.txt"
        total=$(head -1 "$BENCH_DIR/cg-$n.txt")
        ir[$n]=$((total / reqs))
        echo "== $n: $reqs requests, ${ir[$n]} instructions a request; top:"
        # (the dump gives main and its callers the whole count: left out)
        awk -v r="$reqs" -v t="$total" -v top="$BENCH_PROFILE_TOP" '
            NR > 1 && $1 < t && k++ < top {
                printf "  %8.0f  %s\n", $1 / r, $2 }' "$BENCH_DIR/cg-$n.txt"
    done
    echo
    printf '%-28s %14s %9s\n' variant 'instr/request' "$base/"
    for n in "${names[@]}"; do
        printf '%-28s %14s %9.3f\n' "$n" "${ir[$n]}" \
            "$(awk -v a="${ir[$n]}" -v b="${ir[$base]}" 'BEGIN { print b / a }')"
    done
    echo "(callgrind: the gateway's user-space instructions a request;" \
         "$base/: the baseline's count over the variant's)"
}

# perf report's top symbols of a perf.data: "percent symbol [dso]"
bench_perf_top() {
    perf report -i "$1" --no-children --sort dso,sym --stdio 2>/dev/null \
        | awk '/^ +[0-9.]+%/ { p = $1; $1 = ""; sub(/^ +/, "");
                               if (k++ < top) print p, $0 }' \
              top="$BENCH_PROFILE_TOP"
}

bench_profile_perf() {
    local base=$1 n pids aux out reqs c0 c1 a0 a1 names f
    mapfile -t names < <(bench_selected "$base")
    for n in "${names[@]}"; do
        pids=$(bench_pids "${BENCH_SERVER[$n]}")
        aux=${BENCH_AUX[${BENCH_SERVER[$n]}]:-}
        bench_wrk "$n" "$BENCH_CONNS" 1 > /dev/null
        f=$BENCH_DIR/perf-$n
        perf record -q -e cpu-clock -F 4000 -g -o "$f.data" \
            -p "$(echo $pids | tr ' ' ',')" 2> /dev/null &
        local rec=$!
        local arec=
        if [ -n "$aux" ]; then
            perf record -q -e cpu-clock -F 4000 -g -o "$f-aux.data" \
                -p "$(echo $aux | tr ' ' ',')" 2> /dev/null &
            arec=$!
        fi
        sleep 0.3
        # shellcheck disable=SC2086
        c0=$(bench_cpu_ns $pids); a0=$(bench_cpu_ns $aux)
        out=$(bench_wrk "$n" "$BENCH_CONNS" "$BENCH_PROFILE_SECONDS")
        # shellcheck disable=SC2086
        c1=$(bench_cpu_ns $pids); a1=$(bench_cpu_ns $aux)
        kill -INT $rec $arec 2>/dev/null
        wait $rec $arec 2>/dev/null || true
        reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
        printf '== %s: %s req/s, gateway %.2f us a request' "$n" \
            "$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')" \
            "$(awk -v a="$c0" -v b="$c1" -v n="$reqs" \
               'BEGIN { print (b - a) / n / 1000 }')"
        if [ -n "$aux" ]; then
            printf ', aux %.2f us' "$(awk -v a="$a0" -v b="$a1" -v n="$reqs" \
                                    'BEGIN { print (b - a) / n / 1000 }')"
        fi
        printf '\n  gateway:\n'
        bench_perf_top "$f.data" | sed 's/^/    /'
        if [ -n "$aux" ]; then
            printf '  aux:\n'
            bench_perf_top "$f-aux.data" | sed 's/^/    /'
        fi
    done
}
