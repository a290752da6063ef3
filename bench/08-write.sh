# A write through three layers: a PATCH with a 1 KB JSON body reaches an
# Experience API, which reshapes it (request transformation 1) and passes it
# to a Process API, which reshapes it again (transformation 2), writes it to
# the System API (the database service's stand-in: the shared upstream),
# then posts a contact built from the written record to the CRM's System
# API (the upstream again), merges both answers, and the Experience API
# answers the updated customer.  Module (api_led_request_json, then
# api_led_compose PATCH { ... body=@request ...; crm ... '{record/...}' })
# vs the OpenResty peer doing the same with ngx.location.capture and cjson
# (read, decode, reshape, encode, capture, decode, build, capture, merge,
# encode, at both layers).  Plain proxying of the PATCH is the baseline.
. "$(dirname "$0")/lib.sh"

bench_init

# ≈1 KB: what a mobile app sends to update a customer
body=$(awk 'BEGIN {
    printf "{\"mail\":\"ada.lovelace@example.com\",\"first_name\":\"Ada\",";
    printf "\"last_name\":\"Lovelace\",\"tier\":\"gold\",";
    printf "\"phone\":\"+44 20 7946 0018\",";
    printf "\"address\":{\"street\":\"12 St James Square\",\"city\":\"London\",";
    printf "\"zip\":\"SW1Y 4JH\",\"country\":\"GB\"},";
    printf "\"preferences\":{\"language\":\"en-GB\",\"newsletter\":true,";
    printf "\"channels\":[\"email\",\"sms\",\"post\"]},";
    printf "\"consents\":[";
    for (i = 1; i <= 6; i++) {
        printf "%s{\"id\":\"c-%d\",\"given\":true,\"at\":\"2024-0%d-01T10:00:00Z\"}", \
               (i > 1) ? "," : "", i, i;
    }
    printf "],\"debug\":{\"app\":\"mobile-7.4.1\",\"device\":\"pixel-8\",";
    printf "\"trace\":\"f3a9c2e1b7d4\"},";
    printf "\"notes\":\"";
    for (i = 0; i < 22; i++) printf "prefers morning calls; ";
    printf "\"}";
}')

cat > "$BENCH_DIR/patch.lua" <<LUA
wrk.method = "PATCH"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

systems='
    proxy_http_version  1.1;
    proxy_set_header    Connection "";

    location /system/customers/ {
        api_led_api      customers-db layer=system;
        api_led_callers  process;
        proxy_pass       http://bench_upstream/customers/;
    }
    location /system/crm/ {
        api_led_api      crm layer=system;
        api_led_callers  process;
        proxy_pass       http://bench_upstream/crm/;
    }'

bench_nginx gw "
    $systems

    location /plain {
        proxy_pass http://bench_upstream;
    }

    # Experience API: the channel's names in, the customer out
    location ~ ^/v1/customers/(?<id>c-[0-9]+)\$ {
        api_led_api      customers layer=experience;
        api_led_callers  client;

        api_led_request_json  remove /debug;
        api_led_request_json  rename /mail /email;
        api_led_request_json  set    /channel mobile;

        api_led_compose PATCH {
            customer  PATCH \"/process/customers/\$id\" body=@request
                      status=pass;
        }
    }

    # Process API: the database's names, the write, then the CRM
    location ~ ^/process/customers/(?<id>c-[0-9]+)\$ {
        api_led_api      customer layer=process;
        api_led_callers  experience;

        api_led_request_json  rename /email /email_addr;
        api_led_request_json  remove /channel;
        api_led_request_json  set    /source gateway;

        api_led_compose_merge  deep;
        api_led_compose PATCH {
            record  PATCH \"/system/customers/\$id\" body=@request
                    status=pass;
            crm     POST \"/system/crm/contacts/{record/id}\"
                    'body={\"external_id\":{record/id},\"name\":\"{record/name}\",\"segment\":{record/tier}}';
        }
    }"

bench_nginx peer "
    proxy_http_version  1.1;
    proxy_set_header    Connection \"\";

    location /system/customers/ {
        internal;
        proxy_pass  http://bench_upstream/customers/;
    }
    location /system/crm/ {
        internal;
        proxy_pass  http://bench_upstream/crm/;
    }

    location ~ ^/v1/customers/(?<id>c-[0-9]+)\$ {
        content_by_lua_block {
            if ngx.req.get_method() ~= \"PATCH\" then
                return ngx.exit(405)
            end
            local cjson = require \"cjson.safe\"
            ngx.req.read_body()
            local doc = cjson.decode(ngx.req.get_body_data() or \"\")
            if type(doc) ~= \"table\" then
                return ngx.exit(400)
            end
            doc.debug = nil
            doc.email = doc.mail
            doc.mail = nil
            doc.channel = \"mobile\"
            local res = ngx.location.capture(\"/process/customers/\" .. ngx.var.id,
                { method = ngx.HTTP_PATCH, body = cjson.encode(doc) })
            if res.status ~= 200 then
                return ngx.exit(res.status < 500 and res.status or 502)
            end
            local customer = cjson.decode(res.body)
            if customer == nil then
                return ngx.exit(502)
            end
            ngx.header.content_type = \"application/json\"
            ngx.say(cjson.encode({ customer = customer }))
        }
    }

    location ~ ^/process/customers/(?<id>c-[0-9]+)\$ {
        internal;
        content_by_lua_block {
            local cjson = require \"cjson.safe\"
            ngx.req.read_body()
            local doc = cjson.decode(ngx.req.get_body_data() or \"\")
            if type(doc) ~= \"table\" then
                return ngx.exit(400)
            end
            doc.email_addr = doc.email
            doc.email = nil
            doc.channel = nil
            doc.source = \"gateway\"
            local res = ngx.location.capture(\"/system/customers/\" .. ngx.var.id,
                { method = ngx.HTTP_PATCH, body = cjson.encode(doc) })
            if res.status ~= 200 then
                return ngx.exit(res.status < 500 and res.status or 502)
            end
            local record = cjson.decode(res.body)
            if type(record) ~= \"table\" then
                return ngx.exit(502)
            end
            local crm = ngx.location.capture(\"/system/crm/contacts/\" .. record.id,
                { method = ngx.HTTP_POST,
                  body = cjson.encode({ external_id = record.id,
                                        name = tostring(record.name),
                                        segment = record.tier }) })
            if crm.status ~= 200 then
                return ngx.exit(502)
            end
            local contact = cjson.decode(crm.body)
            if type(contact) ~= \"table\" then
                return ngx.exit(502)
            end
            for k, v in pairs(contact) do
                if record[k] == nil then
                    record[k] = v
                end
            end
            ngx.header.content_type = \"application/json\"
            ngx.say(cjson.encode(record))
        }
    }" "" \
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;
     load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"

wrk_args="-s $BENCH_DIR/patch.lua"
bench_variant plain      gw   /plain             "$wrk_args"
bench_variant api-led    gw   /v1/customers/c-42 "$wrk_args"
bench_variant openresty  peer /v1/customers/c-42 "$wrk_args"

# both must answer 200 with the same document (member order aside)
patch() {
    curl -s -f -X PATCH -H 'Content-Type: application/json' --data "$body" \
        "http://127.0.0.1:${BENCH_PORT[$1]}$2"
}

same=$(python3 - "$(patch gw /v1/customers/c-42)" \
                 "$(patch peer /v1/customers/c-42)" <<'PY'
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
ok = a == b and a["customer"]["id"] == 42
print("yes" if ok else "no")
PY
)
if [ "$same" != yes ]; then
    echo "bench: api-led and openresty do not answer alike" >&2
    patch gw /v1/customers/c-42 >&2; echo >&2
    patch peer /v1/customers/c-42 >&2; echo >&2
    exit 1
fi

bench_run plain openresty
[ -n "$BENCH_PROFILE" ] && exit 0

# The gateway's own cost per update, measured apart from throughput
# (robust on a busy machine, where the client and the upstream compete for
# the cores): the CPU time the gateway's nginx used for a run of the
# variant alone, per request.  The upstream's share is the same for both.
bench_cost() {
    local name=$1 out reqs c0 c1 pids
    pids=$(bench_pids "${BENCH_SERVER[$name]}")
    # shellcheck disable=SC2086
    c0=$(bench_cpu_ns $pids)
    out=$(bench_wrk "$name" 8 3)
    # shellcheck disable=SC2086
    c1=$(bench_cpu_ns $pids)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    awk -v a="$c0" -v b="$c1" -v r="$reqs" 'BEGIN { print (b - a) / 1000 / r }'
}

echo
echo "gateway CPU per update (each variant alone, 8 connections, 3 s;"
echo "median of $BENCH_ROUNDS interleaved runs):"
cost_m=""; cost_p=""
for r in $(seq 1 "$BENCH_ROUNDS"); do
    cost_m+="$(bench_cost api-led) "
    cost_p+="$(bench_cost openresty) "
done
m=$(echo "$cost_m" | tr ' ' '\n' | grep . | bench_median)
p=$(echo "$cost_p" | tr ' ' '\n' | grep . | bench_median)
printf '%-16s %8.1f us/update\n' api-led "$m"
printf '%-16s %8.1f us/update\n' openresty "$p"
printf 'the peer needs %.2f times the module'"'"'s CPU per update\n' \
    "$(awk -v a="$p" -v b="$m" 'BEGIN { print a / b }')"
