# Instructions per request of bench/01's three variants, counted by
# valgrind's callgrind in the gateway process (user space only: the
# kernel's share of a request is not counted).  Unlike requests/s, the
# count does not depend on what else runs on the machine, so a small
# difference (a location without module directives against plain nginx)
# can be seen exactly.  Not run by "make bench": bash bench/callgrind.sh
. "$(dirname "$0")/lib.sh"

: "${BENCH_CALLGRIND_SECONDS:=8}"

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

# bench_callgrind NAME LOCATIONS URI [load the module: 0|1]
bench_callgrind() {
    local name=$1 locs=$2 uri=$3 with=${4:-1} dir port pid out n ir load=
    dir=$BENCH_DIR/cg-$name
    port=$(bench_free_port)
    mkdir -p "$dir/logs"
    [ "$with" = 1 ] && load="load_module $MODULE;"
    cat > "$dir/nginx.conf" <<CONF
$load
daemon off;
master_process off;
error_log $dir/logs/error.log warn;
pid $dir/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream bench_upstream {
        server 127.0.0.1:$BENCH_UPSTREAM_PORT;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$port;
        $locs
    }
}
CONF
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
        "$NGINX_BIN" -p "$dir/" -c "$dir/nginx.conf" 2> "$dir/valgrind.log" &
    pid=$!
    bench_wait_port "$port"
    wrk -t1 -c2 -d2s "http://127.0.0.1:$port$uri" > /dev/null
    callgrind_control -z "$pid" > /dev/null 2>&1
    out=$(wrk -t1 -c2 -d"${BENCH_CALLGRIND_SECONDS}s" \
              "http://127.0.0.1:$port$uri")
    callgrind_control -d "$pid" > /dev/null 2>&1
    sleep 1
    kill -QUIT "$pid"
    wait "$pid" 2> /dev/null || true
    n=$(echo "$out" | awk '/requests in/ { print $1 }')
    ir=$(grep -h -E '^(summary|totals):' "$dir"/cg.out.* | head -1 \
         | awk '{ print $2 }')
    echo "$name $((ir / n))"
}

bench_init

nginx=$(bench_callgrind nginx "location /plain { $proxy }" /plain 0)
plain=$(bench_callgrind plain "location /plain { $proxy }
    location /api { api_led_api orders layer=experience; $proxy }" /plain)
api=$(bench_callgrind api "location /plain { $proxy }
    location /api { api_led_api orders layer=experience; $proxy }" /api)

base=${nginx#* }
printf '%-8s %14s %9s\n' variant 'instr/request' '/nginx'
for v in "$nginx" "$plain" "$api"; do
    printf '%-8s %14s %9.3f\n' "${v% *}" "${v#* }" \
        "$(awk -v a="${v#* }" -v b="$base" 'BEGIN { print b / a }')"
done
echo "(callgrind, the gateway's user-space instructions a request;" \
     "/nginx: plain nginx's count over the variant's)"
