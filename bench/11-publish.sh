#!/usr/bin/env bash
# Publishing events (issue 12): a proxied API with api_led_event (an event
# on every 2xx, data from nginx variables; and one whose data also reads
# the response body) vs the same API without events (the baseline), and
# vs the OpenResty peer doing the same: log_by_lua builds the CloudEvents
# envelope with lua-cjson and hands it to ngx.timer.at, whose callback
# sends one XADD with resty.redis from a keepalive pool (the usual way to
# publish after the response without delaying it).  Each gateway has its
# own redis-server (the table's "aux us": its CPU a request).  Then, each
# variant alone: Redis calls per event (INFO commandstats: the module's
# EVALSHA/EVAL, whose XADDs run inside Redis, or the peer's XADD, divided
# by the events published, counted with XLEN) and CPU per event.
#
#   bench/run 11-publish.sh
#   BENCH_ROUNDS=9 BENCH_DURATION=3 bench/11-publish.sh
. "$(dirname "$0")/lib.sh"

bench_init

bench_redis REDIS_US
REDIS_US_PID=${BENCH_REDIS_PIDS[-1]}
bench_redis REDIS_PEER
REDIS_PEER_PID=${BENCH_REDIS_PIDS[-1]}

# streams are capped (memory of long runs); the cost runs below stay under
MAXLEN=${BENCH_MAXLEN:-300000}

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

bench_nginx gw "
    location /plain {
        api_led_api orders;
        $proxy
    }
    location /event {
        api_led_api orders;
        api_led_event order.created stream=bench:vars on=2xx maxlen=$MAXLEN
                      'data={\"id\":\"\$arg_id\",\"method\":\"\$request_method\"}';
        $proxy
    }
    location /event-body {
        api_led_api orders;
        api_led_event order.created stream=bench:body on=2xx maxlen=$MAXLEN
                      'data={\"id\":{response/id},\"tier\":{response/tier}}';
        $proxy
    }" \
    "api_led_redis $(bench_redis_addr "$REDIS_US");
     api_led_event_outbox 16m;"
bench_aux gw "$REDIS_US_PID"

bench_nginx peer "
    location /lua {
        log_by_lua_block {
            local status = ngx.status
            if status < 200 or status > 299 then
                return
            end
            local id = ngx.var.request_id
            local envelope = cjson.encode({
                specversion = '1.0',
                id = id,
                source = 'orders',
                type = 'order.created',
                subject = ngx.var.uri,
                time = ngx.utctime(),
                datacontenttype = 'application/json',
                correlationid = id,
                data = { id = ngx.var.arg_id,
                         method = ngx.req.get_method() },
            })
            local ok, err = ngx.timer.at(0, publish, envelope)
            if not ok then
                ngx.log(ngx.ERR, 'event not published: ', err)
            end
        }
        $proxy
    }" \
    "lua_package_path '/usr/share/lua/5.1/?.lua;;';
     lua_max_pending_timers 65536;
     lua_max_running_timers 4096;
     init_by_lua_block {
         redis = require 'nginx.redis'
         cjson = require 'cjson'
         function publish(premature, envelope)
             if premature then
                 return
             end
             local red = redis:new()
             red:set_timeouts(1000, 1000, 1000)
             local ok, err = red:connect($(bench_redis_lua "$REDIS_PEER"))
             if not ok then
                 ngx.log(ngx.ERR, 'redis: ', err)
                 return
             end
             local res, err = red:xadd('bench:peer', 'MAXLEN', '~', $MAXLEN,
                                       '*', 'type', 'order.created',
                                       'event', envelope)
             if not res then
                 ngx.log(ngx.ERR, 'xadd: ', err)
                 return
             end
             red:set_keepalive(10000, 100)
         end
     }" \
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;
     load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"
bench_aux peer "$REDIS_PEER_PID"

bench_variant plain          gw   '/plain?id=42'
bench_variant event          gw   '/event?id=42'
bench_variant event+body     gw   '/event-body?id=42'
bench_variant openresty-peer peer '/lua?id=42'

for v in plain event event+body openresty-peer; do
    bench_check "$v" 200
done
sleep 0.5

# every variant publishes what it should (an envelope with its data)
bench_stream_check() {
    local port=$1 key=$2 want=$3 got
    got=$(redis-cli -p "$port" xrevrange "$key" + - count 1 | tail -1)
    if [[ $got != *"$want"* ]]; then
        echo "bench: $key holds no event with $want: $got" >&2
        exit 1
    fi
}
bench_stream_check "$REDIS_US"   bench:vars '"data":{"id":"42","method":"GET"}'
bench_stream_check "$REDIS_US"   bench:body '"data":{"id":42,"tier":"gold"}'
bench_stream_check "$REDIS_PEER" bench:peer '"data":{'

bench_run plain openresty-peer
[ -n "$BENCH_PROFILE" ] && exit 0

# bench_publish_cost NAME REDIS_PORT STREAM: the variant alone (8 and
# BENCH_CONNS connections, 2 s): requests, events added (XLEN of the
# stream, emptied before), Redis calls from the gateway a request and an
# event, the gateway's and Redis's CPU an event
bench_publish_cost() {
    local name=$1 rport=$2 key=$3 conns=$4 out reqs n0 n1 r0 r1 rpid pids
    local len stats calls xadd
    pids=$(bench_pids "${BENCH_SERVER[$name]}")
    rpid=$(redis-cli -p "$rport" info server | tr -d '\r' \
           | awk -F: '$1 == "process_id" { print $2 }')
    redis-cli -p "$rport" del "$key" > /dev/null
    redis-cli -p "$rport" config resetstat > /dev/null
    r0=$(bench_cpu_ns "$rpid")
    # shellcheck disable=SC2086
    n0=$(bench_cpu_ns $pids)
    out=$(bench_wrk "$name" "$conns" 2)
    sleep 1    # the last events leave the outbox / the timers
    # shellcheck disable=SC2086
    n1=$(bench_cpu_ns $pids)
    r1=$(bench_cpu_ns "$rpid")
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    len=$(redis-cli -p "$rport" xlen "$key")
    stats=$(redis-cli -p "$rport" info commandstats | tr -d '\r')
    # a script's XADDs are counted as xadd too: the gateway's own calls
    # are its scripts when it sent any, else its XADDs
    calls=$(echo "$stats" | awk -F'[_:=,]' '
        $2 == "evalsha" || $2 == "eval" { n += $4 }
        END { print n + 0 }')
    xadd=$(echo "$stats" | awk -F'[_:=,]' '$2 == "xadd" { print $4 }')
    [ "$calls" -eq 0 ] && calls=${xadd:-0}
    printf '%-16s %4d conns %8d req %8d events %6.3f calls/event' \
        "$name" "$conns" "$reqs" "$len" \
        "$(awk -v c="$calls" -v e="$len" 'BEGIN { print e ? c / e : 0 }')"
    printf '   nginx %5.1f us/event   redis %5.1f us/event\n' \
        "$(awk -v a="$n0" -v b="$n1" -v e="$len" \
           'BEGIN { print e ? (b - a) / 1000 / e : 0 }')" \
        "$(awk -v a="$r0" -v b="$r1" -v e="$len" \
           'BEGIN { print e ? (b - a) / 1000 / e : 0 }')"
    if [ "$len" -lt "$reqs" ]; then
        echo "bench: $name: $reqs requests but $len events" >&2
    fi
}

echo
echo "Redis calls per event (each variant alone, 2 s; XLEN counts the events):"
for c in 8 "$BENCH_CONNS"; do
    bench_publish_cost event          "$REDIS_US"   bench:vars "$c"
    bench_publish_cost event+body     "$REDIS_US"   bench:body "$c"
    bench_publish_cost openresty-peer "$REDIS_PEER" bench:peer "$c"
done
