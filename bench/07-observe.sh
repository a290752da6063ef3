# Metrics on vs off, trace context on vs off.  Metrics: the same
# Experience API (key-auth, a Redis limit, proxying) on two gateways, one
# counting every request in a metrics zone (api_led_metrics_zone: a
# log-phase handler, a few atomic additions in shared memory), one without
# a zone (target: on >= 0.97 of off).  Trace: an Experience API with
# key-auth and proxying (no Redis limit: how requests happen to share Redis
# calls would swamp the difference) on the gateway without metrics, where
# the trace is on (the default), and on a third gateway with
# "api_led_trace off" (the client's traceparent goes upstream as it came;
# no span id made, no header edited) (target: on >= 0.98 of off).  Every
# request carries a client's traceparent.  The table's baseline is
# metrics-off; the two ratios are printed below it.  Plain proxying is
# shown for scale.  Then CPU per request and instructions per request
# (callgrind), and the metrics are scraped once, to show the requests were
# counted.
. "$(dirname "$0")/lib.sh"

bench_init

BENCH_REDIS_PID=

bench_redis_cleanup() {
    if [ -n "$BENCH_REDIS_PID" ]; then
        kill "$BENCH_REDIS_PID" 2>/dev/null || true
        wait "$BENCH_REDIS_PID" 2>/dev/null || true
    fi
    bench_cleanup
}
trap bench_redis_cleanup EXIT

REDIS_PORT=$(bench_free_port)
mkdir -p "$BENCH_DIR/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$BENCH_DIR/redis" --daemonize no \
    --logfile "$BENCH_DIR/redis/redis.log" &
BENCH_REDIS_PID=$!
for _ in $(seq 1 500); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.01
done

awk 'BEGIN {
    printf "{\"plans\": {\"gold\": {\"limits\": [\"100000r/s\"]}},\n";
    printf " \"consumers\": [\n";
    for (i = 1; i <= 10000; i++) {
        printf "  {\"id\": \"c%d\", \"plan\": \"gold\", \"keys\": [\"k-bench-%d\"]}%s\n",
               i, i, (i < 10000) ? "," : "";
    }
    printf "]}\n";
}' > "$BENCH_DIR/consumers.json"

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

api="
    location /plain { $proxy }
    location /v1/orders {
        api_led_api orders layer=experience version=v1;
        api_led_auth key;
        api_led_rate_limit plan on_error=open;
        $proxy
    }
    location /v1/customers {
        api_led_api customers layer=experience version=v1;
        api_led_auth key;
        $proxy
    }"

common="api_led_consumers $BENCH_DIR/consumers.json;
        api_led_redis 127.0.0.1:$REDIS_PORT;"

bench_nginx off "$api" "$common"

bench_nginx on "$api
    location = /metrics { api_led_metrics; }" \
    "$common
     api_led_metrics_zone bench:1m;"

bench_nginx notrace "$api" "$common
     api_led_trace off;"

key="'X-API-Key: k-bench-4242'"
tp="'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'"

bench_variant metrics-off off     /v1/orders -H "$key" -H "$tp"
bench_variant metrics-on  on      /v1/orders -H "$key" -H "$tp"
bench_variant trace-on    off     /v1/customers -H "$key" -H "$tp"
bench_variant trace-off   notrace /v1/customers -H "$key" -H "$tp"
bench_variant plain       off /plain

for v in metrics-off metrics-on trace-on trace-off plain; do
    bench_check "$v" 200
done

bench_aux off "$BENCH_REDIS_PID"
bench_aux on "$BENCH_REDIS_PID"
bench_aux notrace "$BENCH_REDIS_PID"
bench_run metrics-off "" | tee "$BENCH_DIR/table"
awk '$1 == "metrics-on" { m = $5 } $1 == "trace-on" { a = $5; ac = $6 }
     $1 == "trace-off" { t = $5; tc = $6 }
     END { if (m && a && t) printf "metrics on/off %.3f (target >= 0.97), " \
                                   "trace on/off %.3f (target >= 0.98); " \
                                   "trace cpu on/off %.3f\n", m, a / t, ac / tc }' \
    "$BENCH_DIR/table"
[ -n "$BENCH_PROFILE" ] && exit 0

# CPU per request, measured apart from throughput (steadier on a busy
# machine): each variant alone, the CPU time its nginx used for the
# requests wrk made
bench_cost() {
    local name=$1 n0 n1 out reqs pids
    pids=$(bench_pids "${BENCH_SERVER[$name]}")
    # shellcheck disable=SC2086
    n0=$(bench_cpu_ns $pids)
    out=$(bench_wrk "$name" 8 "$BENCH_DURATION")
    # shellcheck disable=SC2086
    n1=$(bench_cpu_ns $pids)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    awk -v a="$n0" -v b="$n1" -v r="$reqs" \
        'BEGIN { printf "%.2f\n", (b - a) / 1000 / r }'
}

cost_off=() cost_on=() cost_trace=() cost_notrace=()
for _ in $(seq 1 "$BENCH_ROUNDS"); do
    cost_off+=("$(bench_cost metrics-off)")
    cost_on+=("$(bench_cost metrics-on)")
    cost_trace+=("$(bench_cost trace-on)")
    cost_notrace+=("$(bench_cost trace-off)")
done
off=$(printf '%s\n' "${cost_off[@]}" | bench_median)
on=$(printf '%s\n' "${cost_on[@]}" | bench_median)
trace=$(printf '%s\n' "${cost_trace[@]}" | bench_median)
notrace=$(printf '%s\n' "${cost_notrace[@]}" | bench_median)
echo
printf 'nginx CPU per request (8 connections, median of %s rounds): ' \
    "$BENCH_ROUNDS"
printf 'metrics off %s us, on %s us, on/off %.3f; ' "$off" "$on" \
    "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')"
printf 'trace off %s us, on %s us, on/off %.3f\n' "$notrace" "$trace" \
    "$(awk -v a="$trace" -v b="$notrace" 'BEGIN { print a / b }')"

# Instructions per request, counted by callgrind (deterministic: the load
# of a shared machine does not change them): each gateway's configuration
# in an nginx of its own under valgrind --tool=callgrind, 500 and 1500
# requests on one keepalive connection; the difference of the two runs'
# instructions over 1000 requests leaves out starting and stopping.
bench_callgrind() {
    local name=$1 uri=$2 n=$3 dir port out
    dir=$BENCH_DIR/cg-$name-$n
    port=$(bench_free_port)
    mkdir -p "$dir/logs"
    sed -e "s|listen 127.0.0.1:[0-9]*;|listen 127.0.0.1:$port;|" \
        -e 's|master_process on; worker_processes [0-9]*;|master_process off;|' \
        -e "s|$BENCH_DIR/$name/logs|$dir/logs|g" \
        "$BENCH_DIR/$name/nginx.conf" > "$dir/nginx.conf"
    valgrind -q --tool=callgrind --callgrind-out-file="$dir/cg.out" \
        "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" &
    local pid=$!
    for _ in $(seq 1 3000); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.01
    done
    # shellcheck disable=SC2046
    curl -s -H 'X-API-Key: k-bench-4242' \
        -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
        $(for _ in $(seq 1 "$n"); do echo "http://127.0.0.1:$port$uri"; done) \
        > /dev/null
    kill -QUIT "$pid"
    wait "$pid" 2>/dev/null || true
    out=$(awk '/^summary:/ { print $2 }' "$dir/cg.out")
    echo "${out:-0}"
}

if command -v valgrind > /dev/null; then
    declare -A ir
    for v in off on; do
        a=$(bench_callgrind "$v" /v1/orders 500)
        b=$(bench_callgrind "$v" /v1/orders 1500)
        ir[$v]=$(( (b - a) / 1000 ))
    done
    for v in off notrace; do
        a=$(bench_callgrind "$v" /v1/customers 500)
        b=$(bench_callgrind "$v" /v1/customers 1500)
        ir[t$v]=$(( (b - a) / 1000 ))
    done
    printf 'nginx instructions per request (callgrind, 1000 requests): '
    printf 'metrics off %s, on %s, on/off %.4f; ' "${ir[off]}" "${ir[on]}" \
        "$(awk -v a="${ir[on]}" -v b="${ir[off]}" 'BEGIN { print a / b }')"
    printf 'trace off %s, on %s, on/off %.4f\n' "${ir[tnotrace]}" \
        "${ir[toff]}" \
        "$(awk -v a="${ir[toff]}" -v b="${ir[tnotrace]}" 'BEGIN { print a / b }')"
fi

echo
echo "counted by the gateway with metrics:"
curl -s "http://127.0.0.1:${BENCH_PORT[on]}/metrics" \
    | grep -E '^api_led_requests_total|^api_led_request_duration_seconds_count'
