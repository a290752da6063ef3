# Transformation: the same request and response JSON reshaping done by the
# module (C, jansson) and by the OpenResty peer (Lua, lua-cjson:
# access_by_lua reads and rewrites the body, body_filter_by_lua buffers and
# rewrites the response), next to plain proxying of the same POST.
#
# Request (≈0.5 KB): remove /password, move /name to /profile/name, remove
# /items/*/internal, set /source, set /address/country.
# Response (≈1.5 KB): remove /password, remove /orders/*/internal_ref,
# rename /tier to /plan, set /served_by, wrap the whole under /data.
. "$(dirname "$0")/lib.sh"

bench_init

# the upstream: reads the body and answers a JSON document
resp=$(awk 'BEGIN {
    printf "{\"id\":42,\"name\":\"Ada Lovelace\",\"password\":\"secret\",";
    printf "\"tier\":\"gold\",\"tags\":[\"math\",\"engines\",\"poetry\"],";
    printf "\"orders\":[";
    for (i = 1; i <= 12; i++) {
        printf "%s{\"id\":%d,\"total\":%d.5,\"currency\":\"EUR\",", \
               (i > 1) ? "," : "", 1000 + i, i * 10;
        printf "\"internal_ref\":\"ref-%06d\",\"status\":\"shipped\"}", i;
    }
    printf "],\"meta\":{\"version\":3,\"generated\":\"2024-01-01T00:00:00Z\"}}";
}')

JSON_PORT=$(bench_free_port)
bench_start_raw jsonup "
    server {
        listen 127.0.0.1:$JSON_PORT;
        keepalive_requests 100000;
        client_body_buffer_size 16k;
        location / {
            default_type application/json;
            return 200 '$resp';
        }
        # for the check: answers the request body it got
        location /echo-req {
            client_body_in_single_buffer on;
            proxy_pass http://127.0.0.1:$JSON_PORT/ret;
            proxy_pass_request_body off;
            proxy_set_header Content-Length \"\";
            proxy_set_header X-Body \$request_body;
        }
        location /ret {
            default_type application/json;
            return 200 \$http_x_body;
        }
    }"
bench_wait_port "$JSON_PORT"

req='{"id":42,"name":"Ada Lovelace","password":"secret","email":"ada@example.com","address":{"street":"12 St James Square","city":"London","zip":"SW1Y 4JH"},"items":[{"sku":"a1","qty":1,"internal":"x1"},{"sku":"b2","qty":2,"internal":"x2"},{"sku":"c3","qty":3,"internal":"x3"},{"sku":"d4","qty":4,"internal":"x4"}],"note":"deliver to the front desk, ring twice"}'

cat > "$BENCH_DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$req'
wrk.headers["Content-Type"] = "application/json"
LUA

upstream="upstream json_upstream { server 127.0.0.1:$JSON_PORT; keepalive 64; }"
proxy='proxy_pass http://json_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

c_request='
        api_led_request_json remove /password;
        api_led_request_json rename /name /profile/name;
        api_led_request_json remove /items/*/internal;
        api_led_request_json set /source gateway;
        api_led_request_json set /address/country GB;'

c_response='
        api_led_response_json remove /password;
        api_led_response_json remove /orders/*/internal_ref;
        api_led_response_json rename /tier plan;
        api_led_response_json set /served_by gateway;
        api_led_response_json wrap /data;'

lua_request='
        access_by_lua_block {
            local cjson = require "cjson.safe"
            ngx.req.read_body()
            local body = ngx.req.get_body_data()
            local doc = cjson.decode(body or "{}")
            if type(doc) ~= "table" then
                return ngx.exit(400)
            end
            doc.password = nil
            if doc.name ~= nil then
                doc.profile = doc.profile or {}
                doc.profile.name = doc.name
                doc.name = nil
            end
            if type(doc.items) == "table" then
                for _, it in ipairs(doc.items) do
                    if type(it) == "table" then it.internal = nil end
                end
            end
            doc.source = "gateway"
            doc.address = doc.address or {}
            doc.address.country = "GB"
            ngx.req.set_body_data(cjson.encode(doc))
        }'

lua_response='
        proxy_set_header Accept-Encoding "";
        header_filter_by_lua_block {
            ngx.header.content_length = nil
            ngx.header.etag = nil
        }
        body_filter_by_lua_block {
            local ctx = ngx.ctx
            local chunk, eof = ngx.arg[1], ngx.arg[2]
            if chunk ~= "" then
                ctx.parts = ctx.parts or {}
                ctx.parts[#ctx.parts + 1] = chunk
            end
            if not eof then
                ngx.arg[1] = nil
                return
            end
            local cjson = require "cjson.safe"
            local text = table.concat(ctx.parts or {})
            local doc = cjson.decode(text)
            if type(doc) ~= "table" then
                ngx.arg[1] = text
                return
            end
            doc.password = nil
            if type(doc.orders) == "table" then
                for _, o in ipairs(doc.orders) do
                    if type(o) == "table" then o.internal_ref = nil end
                end
            end
            if doc.tier ~= nil then
                doc.plan = doc.tier
                doc.tier = nil
            end
            doc.served_by = "gateway"
            ngx.arg[1] = cjson.encode({ data = doc })
        }'

bench_nginx gw "
    location /plain { $proxy }
    location /api-led { $c_request $c_response $proxy }
    location /api-led-req {
        $c_request
        proxy_pass http://json_upstream/echo-req;
    }" "$upstream"

bench_nginx peer "
    location /openresty { $lua_request $lua_response $proxy }
    location /openresty-req {
        $lua_request
        proxy_pass http://json_upstream/echo-req;
    }" "$upstream" "load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"

wrk_args="-s $BENCH_DIR/post.lua"
bench_variant plain     gw   /plain     "$wrk_args"
bench_variant api-led   gw   /api-led   "$wrk_args"
bench_variant openresty peer /openresty "$wrk_args"

# both must answer 200 with the same documents (member order aside)
post() {
    curl -s -f -X POST -H 'Content-Type: application/json' --data "$req" \
        "http://127.0.0.1:${BENCH_PORT[$1]}$2"
}

same=$(python3 - "$(post gw /api-led)" "$(post peer /openresty)" \
                 "$(post gw /api-led-req)" "$(post peer /openresty-req)" <<'PY'
import json, sys
a, b, c, d = (json.loads(x) for x in sys.argv[1:5])
ok = (a == b and a["data"]["plan"] == "gold" and "password" not in a["data"]
      and c == d and c["profile"]["name"] == "Ada Lovelace"
      and "password" not in c and c["address"]["country"] == "GB")
print("yes" if ok else "no")
PY
)
if [ "$same" != yes ]; then
    echo "bench: api-led and openresty do not transform alike" >&2
    for v in "gw /api-led" "peer /openresty" "gw /api-led-req" \
             "peer /openresty-req"; do
        # shellcheck disable=SC2086
        post $v >&2; echo >&2
    done
    exit 1
fi

bench_run plain openresty
