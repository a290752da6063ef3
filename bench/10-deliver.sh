#!/usr/bin/env bash
# Delivery throughput: events a second through a listener
# (api_led_event_deliver) to a location, acknowledged.  A stream is filled
# with BENCH_EVENTS events at once (one Lua call in Redis), then the time
# until the group has read them all and none is pending is measured
# (XINFO GROUPS: lag 0, pending 0).  Two targets: a location that proxies
# to a local upstream (plain nginx, 200), and one that answers itself
# (return 204: the cost of the request without a client alone), each with
# the default concurrency (16 entries at once a worker) and with 64.  The
# gateway is one process (master_process off): its CPU time an event is
# given too.  BENCH_ROUNDS rounds, medians.
#
#   bench/run 10-deliver.sh
#   BENCH_EVENTS=20000 BENCH_ROUNDS=3 bench/10-deliver.sh
set -euo pipefail

EVENTS=${BENCH_EVENTS:-20000}
ROUNDS=${BENCH_ROUNDS:-3}
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
TOP=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${MODULE:-$TOP/build/objs/ngx_api_led_module.so}
DIR=$(mktemp -d /tmp/bench-deliver.XXXXXX)
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$DIR" --daemonize no --logfile "$DIR/redis.log" &
PIDS+=($!)
for _ in $(seq 1 500); do
    redis-cli -p "$RP" ping 2>/dev/null | grep -q PONG && break
    sleep 0.01
done

# the local upstream
UP=$(free_port)
mkdir -p "$DIR/up/logs"
cat > "$DIR/up/nginx.conf" <<EOF
daemon off;
master_process off;
error_log $DIR/up/logs/error.log warn;
pid $DIR/up/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$UP backlog=1024;
        keepalive_requests 100000;
        location / { return 200 '{"ok":true}'; }
    }
}
EOF
"$NGINX" -p "$DIR/up/" -c "$DIR/up/nginx.conf" &
PIDS+=($!)

# the gateway: two listeners, one per target
GP=$(free_port)
mkdir -p "$DIR/gw/logs"
cat > "$DIR/gw/nginx.conf" <<EOF
load_module $MODULE;
daemon off;
master_process off;
error_log $DIR/gw/logs/error.log warn;
pid $DIR/gw/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    api_led_redis 127.0.0.1:$RP;

    upstream backend {
        server 127.0.0.1:$UP;
        keepalive 32;
    }

    api_led_event_deliver bench.proxy group=g to=/hook/proxy;
    api_led_event_deliver bench.local group=g to=/hook/local;
    api_led_event_deliver bench.proxy64 group=g to=/hook/proxy concurrency=64;
    api_led_event_deliver bench.local64 group=g to=/hook/local concurrency=64;

    server {
        listen 127.0.0.1:$GP;

        location /hook/proxy {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend/events;
        }

        location /hook/local {
            return 204;
        }
    }
}
EOF
"$NGINX" -p "$DIR/gw/" -c "$DIR/gw/nginx.conf" &
GW=$!
PIDS+=($GW)
sleep 0.5

EVENT='{"specversion":"1.0","id":"00000000-0000-4000-8000-000000000000","source":"bench","type":"thing.happened","time":"2026-01-01T00:00:00.000Z","datacontenttype":"application/json","correlationid":"bench","data":{"customer":"42","name":"Ada Lovelace","email":"ada@example.com"}}'

FILL='for i = 1, tonumber(ARGV[1]) do
  redis.call("XADD", KEYS[1], "*", "type", "thing.happened", "event", ARGV[2])
end
return 1'

cpu_ns() {
    awk '{ print $1 }' "/proc/$GW/schedstat"
}

# group_done KEY: 1 when the group read everything and nothing is pending
group_done() {
    redis-cli -p "$RP" --no-raw XINFO GROUPS "$1" 2>/dev/null \
        | tr -d '"' | awk '
            /pending/ { getline; p = $NF }
            /lag/     { getline; l = $NF }
            END { print (p == "0" && l == "0") ? 1 : 0 }'
}

measure() {
    local key=$1 t0 t1 c0 c1
    redis-cli -p "$RP" DEL "$key" >/dev/null
    redis-cli -p "$RP" XGROUP CREATE "$key" g '$' MKSTREAM >/dev/null
    c0=$(cpu_ns)
    t0=$(date +%s.%N)
    redis-cli -p "$RP" EVAL "$FILL" 1 "$key" "$EVENTS" "$EVENT" >/dev/null
    until [ "$(group_done "$key")" = 1 ]; do
        sleep 0.02
    done
    t1=$(date +%s.%N)
    c1=$(cpu_ns)
    python3 -c "import sys; t=$t1-$t0; print('%.0f %.1f' % ($EVENTS/t, ($c1-$c0)/1000/$EVENTS))"
}

# the listeners made their groups from the stream's start: they are
# recreated per round (DEL, then XGROUP CREATE), which the listener sees as
# a group that went away and makes again: warm that path up first
KEYS="bench.proxy bench.local bench.proxy64 bench.local64"

for key in $KEYS; do
    measure "$key" >/dev/null
done

declare -A RATE CPU
for key in $KEYS; do
    RATE[$key]=""
    CPU[$key]=""
done

for r in $(seq 1 "$ROUNDS"); do
    for key in $KEYS; do
        read -r rate cpu < <(measure "$key")
        RATE[$key]+="$rate "
        CPU[$key]+="$cpu "
    done
done

median() {
    tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

printf '%-44s %12s %14s\n' "delivery ($EVENTS events, $ROUNDS rounds)" "events/s" "cpu us/event"
printf '%-44s %12s %14s\n' "listener -> proxy_pass to a local upstream" \
    "$(echo "${RATE[bench.proxy]}" | median)" "$(echo "${CPU[bench.proxy]}" | median)"
printf '%-44s %12s %14s\n' "listener -> return 204 (no upstream)" \
    "$(echo "${RATE[bench.local]}" | median)" "$(echo "${CPU[bench.local]}" | median)"
printf '%-44s %12s %14s\n' "the same, concurrency=64: to the upstream" \
    "$(echo "${RATE[bench.proxy64]}" | median)" "$(echo "${CPU[bench.proxy64]}" | median)"
printf '%-44s %12s %14s\n' "concurrency=64: return 204" \
    "$(echo "${RATE[bench.local64]}" | median)" "$(echo "${CPU[bench.local64]}" | median)"

if grep -q '\[\(alert\|crit\|emerg\)\]' "$DIR/gw/logs/error.log"; then
    echo "the gateway logged alerts:" >&2
    grep '\[\(alert\|crit\|emerg\)\]' "$DIR/gw/logs/error.log" | head >&2
    exit 1
fi
