# Rate limits side by side: plain proxying; the module's key-auth + a plan
# of two Redis limits (one round trip); a Redis limit keyed by address; the
# module's local (shared memory) limit; nginx's own limit_req; and two
# OpenResty peers: the Kong-like one, key check + a Redis counter per
# request in access_by_lua, the way Kong's "redis" policy works (GET the
# usage, then a pipelined EVAL of INCRBY + EXPIRE, connection from a
# keepalive pool); and the lean one, a Lua key table + one pooled EVAL per
# request that counts both limits (fixed windows).  Limits are high:
# nothing is rejected.  Then Redis commands per request, from INFO
# commandstats, each store on its own redis-server.  The table's "aux us"
# is the CPU time the variant's redis-server spent a request.
. "$(dirname "$0")/lib.sh"

bench_init

bench_redis REDIS_US
REDIS_US_PID=${BENCH_REDIS_PIDS[-1]}
bench_redis REDIS_PEER
REDIS_PEER_PID=${BENCH_REDIS_PIDS[-1]}

awk 'BEGIN {
    printf "{\"plans\": {\"gold\": {\"limits\": [\"100000r/s\", \"100000000r/d\"]}},\n";
    printf " \"consumers\": [\n";
    for (i = 1; i <= 10000; i++) {
        printf "  {\"id\": \"c%d\", \"plan\": \"gold\", \"keys\": [\"k-bench-%d\"]}%s\n",
               i, i, (i < 10000) ? "," : "";
    }
    printf "]}\n";
}' > "$BENCH_DIR/consumers.json"

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

bench_nginx gw "
    location /plain    { $proxy }
    location /key-redis {
        api_led_auth key;
        api_led_rate_limit plan on_error=open;
        $proxy
    }
    location /addr-redis {
        api_led_rate_limit 100000r/s on_error=open;
        $proxy
    }
    location /limit-req {
        limit_req zone=bench burst=100000 nodelay;
        $proxy
    }" \
    "api_led_consumers $BENCH_DIR/consumers.json;
     api_led_redis $(bench_redis_addr "$REDIS_US");
     limit_req_zone \$binary_remote_addr zone=bench:1m rate=100000r/s;"
bench_aux gw "$REDIS_US_PID"

# no api_led_redis: the limits are counted in shared memory
bench_nginx gwlocal "
    location /key-local {
        api_led_auth key;
        api_led_rate_limit plan;
        $proxy
    }" \
    "api_led_consumers $BENCH_DIR/consumers.json;"

bench_nginx peer "
    location /lua {
        access_by_lua_block {
            local consumer = bench_keys[ngx.var.http_x_api_key or '']
            if not consumer then
                return ngx.exit(401)
            end

            local red = redis:new()
            red:set_timeouts(1000, 1000, 1000)

            local ok = red:connect($(bench_redis_lua "$REDIS_PEER"))
            if not ok then
                return    -- fault tolerant, as Kong's default
            end

            local key = 'ratelimit:' .. consumer .. ':'
                        .. math.floor(ngx.time() / 60)
            local cur = red:get(key)
            if cur and cur ~= ngx.null and tonumber(cur) >= 6000000 then
                red:set_keepalive(10000, 100)
                return ngx.exit(429)
            end

            red:init_pipeline()
            red:eval(incr_script, 1, key, 1, 60)
            red:commit_pipeline()
            red:set_keepalive(10000, 100)
        }
        $proxy
    }
    location /lean {
        access_by_lua_block {
            local consumer = bench_keys[ngx.var.http_x_api_key or '']
            if not consumer then
                return ngx.exit(401)
            end

            local red = redis:new()
            red:set_timeouts(1000, 1000, 1000)

            local ok = red:connect($(bench_redis_lua "$REDIS_PEER"))
            if not ok then
                return
            end

            local now = ngx.time()
            local over = red:eval(lean_script, 2,
                                  'rl:' .. consumer .. ':s:' .. now,
                                  'rl:' .. consumer .. ':d:'
                                  .. math.floor(now / 86400),
                                  100000, 100000000)
            red:set_keepalive(10000, 100)
            if over == 1 then
                return ngx.exit(429)
            end
        }
        $proxy
    }" \
    "lua_package_path '/usr/share/lua/5.1/?.lua;;';
     init_by_lua_block {
         redis = require 'nginx.redis'
         incr_script = [[
             local key, value, expiration = KEYS[1], tonumber(ARGV[1]), ARGV[2]
             if redis.call('incrby', key, value) == value then
                 redis.call('expire', key, expiration)
             end
         ]]
         -- two fixed windows (a second, a day), counted in one call
         lean_script = [[
             local a = redis.call('incr', KEYS[1])
             if a == 1 then redis.call('expire', KEYS[1], 2) end
             local b = redis.call('incr', KEYS[2])
             if b == 1 then redis.call('expire', KEYS[2], 86400) end
             if a > tonumber(ARGV[1]) or b > tonumber(ARGV[2]) then
                 return 1
             end
             return 0
         ]]
         bench_keys = {}
         for i = 1, 10000 do
             bench_keys['k-bench-' .. i] = 'c' .. i
         end
     }" \
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;
     load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"
bench_aux peer "$REDIS_PEER_PID"

bench_variant plain          gw      /plain
bench_variant key+redis      gw      /key-redis  -H "'X-API-Key: k-bench-4242'"
bench_variant addr+redis     gw      /addr-redis
bench_variant key+local      gwlocal /key-local  -H "'X-API-Key: k-bench-4242'"
bench_variant limit_req      gw      /limit-req
bench_variant openresty-peer peer    /lua        -H "'X-API-Key: k-bench-4242'"
bench_variant lean-peer      peer    /lean       -H "'X-API-Key: k-bench-4242'"

for v in plain key+redis addr+redis key+local limit_req openresty-peer \
         lean-peer; do
    bench_check "$v" 200
done

# the limits really go to Redis (keys of such high rates expire within a
# millisecond: count the script calls instead)
redis-cli -p "$REDIS_US" info commandstats | grep -q '^cmdstat_evalsha:calls=[1-9]' \
    || { echo "bench: the module did not call Redis" >&2; exit 1; }

bench_run plain "${BENCH_PEER:-lean-peer}"
[ -n "$BENCH_PROFILE" ] && exit 0

# Cost per request, measured apart from throughput (robust on a busy
# machine): a short run of each variant alone, the CPU time its nginx and
# its redis-server used, and the Redis commands it sent (INFO commandstats:
# client commands, i.e. round trips, vs. those a script runs inside Redis).
bench_cost() {
    local name=$1 rport=${2:-} top=${3:-} out reqs n0 n1 r0 r1 rpid= pids
    local conns=${BENCH_COST_CONNS:-8}
    pids=$(bench_pids "${BENCH_SERVER[$name]}")
    if [ -n "$rport" ]; then
        rpid=$(redis-cli -p "$rport" info server | tr -d '\r' \
               | awk -F: '$1 == "process_id" { print $2 }')
        redis-cli -p "$rport" config resetstat > /dev/null
        r0=$(bench_cpu_ns "$rpid")
    fi
    # shellcheck disable=SC2086
    n0=$(bench_cpu_ns $pids)
    out=$(bench_wrk "$name" "$conns" 2)
    # shellcheck disable=SC2086
    n1=$(bench_cpu_ns $pids)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    printf '%-16s nginx %6.1f us/req' "$name" \
        "$(awk -v a="$n0" -v b="$n1" -v r="$reqs" \
           'BEGIN { print (b - a) / 1000 / r }')"
    if [ -z "$rport" ]; then
        printf '\n'
        return
    fi
    r1=$(bench_cpu_ns "$rpid")
    printf '   redis %6.1f us/req' \
        "$(awk -v a="$r0" -v b="$r1" -v r="$reqs" \
           'BEGIN { print (b - a) / 1000 / r }')"
    redis-cli -p "$rport" info commandstats | tr -d '\r' \
        | grep -v '^cmdstat_\(config\|info\)' \
        | awk -F'[_:=,]' -v reqs="$reqs" -v top=" $top " '
        /^cmdstat_/ {
            c = $2; n = $4;
            if (index(top, " " c " ")) {
                rt += n; tl = tl " " c; us += $6
            } else { inner = inner sprintf(" %s=%.2f", c, n / reqs) }
        }
        END {
            printf "   %.2f Redis commands/req (%s, %.1f us a call inside" \
                   " Redis)%s%s\n", rt / reqs, substr(tl, 2),
                   rt ? us / rt : 0, inner ? "; inside Redis:" : "", inner
        }'
}

for BENCH_COST_CONNS in 8 "$BENCH_CONNS"; do
    echo
    echo "cost per request (each variant alone, $BENCH_COST_CONNS connections, 2 s):"
    bench_cost plain
    bench_cost limit_req
    bench_cost key+local
    bench_cost key+redis      "$REDIS_US"   "evalsha eval"
    bench_cost addr+redis     "$REDIS_US"   "evalsha eval"
    bench_cost openresty-peer "$REDIS_PEER" "get eval evalsha select"
    bench_cost lean-peer      "$REDIS_PEER" "get eval evalsha select"
done
