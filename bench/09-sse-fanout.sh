# SSE fan-out: SUBSCRIBERS (1,000) Server-Sent Events clients of one
# api_led_event_stream location on one nginx worker, one event added to the
# stream (XADD): the time from Redis's reply to the XADD to the moment the
# last subscriber received the event, over EVENTS (10) events.  The worker
# reads the stream with one blocking XREAD for all its subscribers
# (checked: the XREAD connections Redis sees), formats the entry once and
# writes it to each.  The client (bench/sse-fanout.py, one Python process
# with epoll) shares the 2 cores: its own reading is part of the time.
. "$(dirname "$0")/lib.sh"

SUBSCRIBERS=${SUBSCRIBERS:-1000}
EVENTS=${EVENTS:-10}

bench_init

REDIS_PORT=$(bench_free_port)
mkdir -p "$BENCH_DIR/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$BENCH_DIR/redis" --daemonize no \
    --logfile "$BENCH_DIR/redis/redis.log" &
REDIS_PID=$!
bench_redis_cleanup() {
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
    bench_cleanup
}
trap bench_redis_cleanup EXIT
for _ in $(seq 1 500); do
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.01
done

bench_nginx sse "
        location /changes {
            api_led_event_stream bench:sse heartbeat=60s;
        }" "api_led_redis 127.0.0.1:$REDIS_PORT;"

ulimit -n 65536 2>/dev/null || ulimit -n 4096
echo "SSE fan-out: $SUBSCRIBERS subscribers on one worker, $EVENTS events"
python3 "$(dirname "$0")/sse-fanout.py" "${BENCH_PORT[sse]}" /changes \
    "$REDIS_PORT" bench:sse "$SUBSCRIBERS" "$EVENTS"
printf 'blocking XREADs Redis saw from the worker: %s\n' \
    "$(redis-cli -p "$REDIS_PORT" CLIENT LIST | grep -c 'cmd=xread')"
