# Redis Cluster vs a single Redis, the same gateway: key-auth (10,000
# consumers) + a plan of two Redis limits, the consumer's key drawn at
# random for each request (so that a cluster's requests spread over its
# slots, as real traffic does), on a single redis-server and on a Redis
# Cluster of 3 masters (no replicas: their replication would take the
# CPU of this 2-core machine).  Then, each alone at 8 and 64 connections:
# the gateway's CPU a request, the Redis servers' CPU a request (summed
# over the nodes) and the Redis calls a request (EVALSHA + EVAL over all
# the nodes, INFO commandstats): requests share a call on a single Redis,
# and in a cluster only those of one hash slot do.  The numbers feed the
# scale model of bench/README.md.
. "$(dirname "$0")/lib.sh"

bench_init

bench_redis SINGLE
SINGLE_PID=${BENCH_REDIS_PIDS[-1]}

CLUSTER=()
CLUSTER_PIDS=()
for _ in 1 2 3; do
    bench_redis port --cluster-enabled yes --cluster-config-file nodes.conf
    CLUSTER+=("$port")
    CLUSTER_PIDS+=("${BENCH_REDIS_PIDS[-1]}")
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${CLUSTER[@]}") \
    --cluster-replicas 0 --cluster-yes > "$BENCH_DIR/cluster-create.log" 2>&1
for _ in $(seq 1 500); do
    redis-cli -p "${CLUSTER[0]}" cluster info | grep -q 'cluster_state:ok' \
        && break
    sleep 0.02
done

awk 'BEGIN {
    printf "{\"plans\": {\"gold\": {\"limits\": [\"100000r/s\", \"100000000r/d\"]}},\n";
    printf " \"consumers\": [\n";
    for (i = 1; i <= 10000; i++) {
        printf "  {\"id\": \"c%d\", \"plan\": \"gold\", \"keys\": [\"k-bench-%d\"]}%s\n",
               i, i, (i < 10000) ? "," : "";
    }
    printf "]}\n";
}' > "$BENCH_DIR/consumers.json"

# a consumer's key at random for each request
cat > "$BENCH_DIR/keys.lua" <<'LUA'
math.randomseed(os.time())
request = function()
    return wrk.format(nil, nil,
                      { ["X-API-Key"] = "k-bench-" .. math.random(1, 10000) })
end
LUA

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'
locs="
    location /plain { $proxy }
    location /key-redis {
        api_led_auth key;
        api_led_rate_limit plan on_error=open;
        $proxy
    }"

bench_nginx single "$locs" \
    "api_led_consumers $BENCH_DIR/consumers.json;
     api_led_redis 127.0.0.1:$SINGLE;"
bench_aux single "$SINGLE_PID"

bench_nginx cluster "$locs" \
    "api_led_consumers $BENCH_DIR/consumers.json;
     api_led_redis $(printf '127.0.0.1:%s ' "${CLUSTER[@]}") cluster;"
bench_aux cluster "${CLUSTER_PIDS[@]}"

keys="-s $BENCH_DIR/keys.lua"
bench_variant plain          single  /plain
bench_variant single-redis   single  /key-redis "$keys"
bench_variant cluster-3      cluster /key-redis "$keys"
bench_variant cluster-1key   cluster /key-redis -H "'X-API-Key: k-bench-4242'"

bench_check plain 200
for s in single cluster; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: k-bench-7' \
          "http://127.0.0.1:${BENCH_PORT[$s]}/key-redis")
    [ "$got" = 200 ] || { echo "bench: $s answered $got" >&2; exit 1; }
done

# BENCH_COST_ONLY=1: the costs only (no rounds)
[ -n "${BENCH_COST_ONLY:-}" ] || bench_run plain ""
[ -n "$BENCH_PROFILE" ] && exit 0

# Cost per request, each variant alone: the gateway's CPU, its Redis
# servers' CPU, the script calls a request (over every node)
bench_cost() {
    local name=$1 conns=$2 out reqs n0 n1 r0 r1 pids rpids calls p c u usec
    shift 2
    local ports=("$@")
    pids=$(bench_pids "${BENCH_SERVER[$name]}")
    rpids=${BENCH_AUX[${BENCH_SERVER[$name]}]}
    for p in "${ports[@]}"; do
        redis-cli -p "$p" config resetstat > /dev/null
    done
    # shellcheck disable=SC2086
    r0=$(bench_cpu_ns $rpids)
    # shellcheck disable=SC2086
    n0=$(bench_cpu_ns $pids)
    out=$(bench_wrk "$name" "$conns" 3)
    # shellcheck disable=SC2086
    n1=$(bench_cpu_ns $pids)
    # shellcheck disable=SC2086
    r1=$(bench_cpu_ns $rpids)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    # the calls, and the time Redis spent running them (its own measure:
    # a shard's capacity, apart from the noise of a shared machine)
    calls=0
    usec=0
    for p in "${ports[@]}"; do
        read -r c u < <(redis-cli -p "$p" info commandstats | tr -d '\r' \
            | awk -F'[_:=,]' '$2 == "evalsha" || $2 == "eval" {
                                  n += $4; u += $6 }
                              END { print n + 0, u + 0 }')
        calls=$((calls + c))
        usec=$((usec + u))
    done
    printf '%-14s %3d conns %8.0f req/s  nginx %6.1f us/req  redis %6.1f us/req  %5.3f calls/req  %5.1f req/call  %6.1f us/call in Redis\n' \
        "$name" "$conns" \
        "$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')" \
        "$(awk -v a="$n0" -v b="$n1" -v r="$reqs" 'BEGIN { print (b - a) / 1000 / r }')" \
        "$(awk -v a="$r0" -v b="$r1" -v r="$reqs" 'BEGIN { print (b - a) / 1000 / r }')" \
        "$(awk -v c="$calls" -v r="$reqs" 'BEGIN { print c / r }')" \
        "$(awk -v c="$calls" -v r="$reqs" 'BEGIN { if (c) print r / c; else print 0 }')" \
        "$(awk -v c="$calls" -v u="$usec" 'BEGIN { if (c) print u / c; else print 0 }')"
}

echo
echo "cost per request (each variant alone, 3 s):"
for c in 8 64; do
    bench_cost single-redis "$c" "$SINGLE"
    bench_cost cluster-3    "$c" "${CLUSTER[@]}"
    bench_cost cluster-1key "$c" "${CLUSTER[@]}"
done
