# Orchestration: a three-part composition (three subrequests in parallel,
# JSON validated and merged) vs the OpenResty peer (ngx.location.capture_multi
# of the same three locations, cjson decode and encode), side by side; plain
# proxying of one call as the baseline.
#
# Two kinds of parts: proxied to the shared upstream (realistic; on a small
# machine the upstream, which serves three requests for each composition,
# bounds both gateways alike), and local System APIs (internal locations
# answering JSON themselves: the orchestration's own cost).
#
# The floor: nginx's SSI (no module code, no JSON) including the same three
# proxied parts as parallel subrequests and relaying their bodies: what three
# proxied subrequests cost nginx before any composing, for either gateway.
. "$(dirname "$0")/lib.sh"

bench_init

parts='
    location /p/ {
        internal;
        proxy_pass http://bench_upstream/;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }
    location /l/ {
        internal;
        default_type application/json;
        return 200 '"'"'{"id":42,"name":"Ada","tier":"gold","tags":["a","b"]}'"'"';
    }'

bench_nginx gw "
    location /plain {
        proxy_pass http://bench_upstream;
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
    }
    location /compose {
        api_led_compose {
            customer /p/customer;
            orders   /p/orders;
            crm      /p/crm;
        }
    }
    location /compose-deep {
        api_led_compose_merge deep conflict=last;
        api_led_compose {
            customer /p/customer;
            orders   /p/orders;
            crm      /p/crm;
        }
    }
    location /ssi-floor {
        ssi on;
        ssi_types application/json;
        default_type application/json;
        return 200 '<!--# include virtual=\"/p/customer\" --><!--# include virtual=\"/p/orders\" --><!--# include virtual=\"/p/crm\" -->';
    }
    location /local {
        api_led_compose {
            customer /l/customer;
            orders   /l/orders;
            crm      /l/crm;
        }
    }
    $parts"

bench_nginx lua "
    location ~ ^/(?<kind>compose|local)$ {
        content_by_lua_block {
            local cjson = require \"cjson\"
            local p = ngx.var.kind == \"local\" and \"/l/\" or \"/p/\"
            local customer, orders, crm = ngx.location.capture_multi({
                { p .. \"customer\" }, { p .. \"orders\" }, { p .. \"crm\" }
            })
            if customer.status ~= 200 or orders.status ~= 200
               or crm.status ~= 200
            then
                return ngx.exit(502)
            end
            ngx.header.content_type = \"application/json\"
            ngx.say(cjson.encode({
                customer = cjson.decode(customer.body),
                orders = cjson.decode(orders.body),
                crm = cjson.decode(crm.body)
            }))
        }
    }
    $parts" "" \
    "load_module /usr/lib/nginx/modules/ndk_http_module.so;
     load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"

bench_variant plain         gw  /plain
bench_variant compose       gw  /compose
# a client that accepts gzip: the parts get headers of their own, without
# Accept-Encoding (a System that compresses would fail the JSON)
bench_variant compose-ae    gw  /compose "-H 'Accept-Encoding: gzip'"
bench_variant compose-deep  gw  /compose-deep
bench_variant lua-capture   lua /compose
bench_variant lua-capture-ae lua /compose "-H 'Accept-Encoding: gzip'"
bench_variant ssi-floor     gw  /ssi-floor
bench_variant local         gw  /local
bench_variant lua-local     lua /local

bench_check plain 200
bench_check compose 200
bench_check compose-ae 200
bench_check compose-deep 200
bench_check lua-capture 200
bench_check lua-capture-ae 200
bench_check ssi-floor 200
# the floor relays the three parts' bodies (SSI ran, nothing left of it)
floor=$(curl -s "${BENCH_URL[ssi-floor]}")
if [ "$(echo "$floor" | grep -o '"id"' | wc -l)" -lt 3 ] \
   || echo "$floor" | grep -q '<!--#'
then
    echo "bench: ssi-floor answered: $floor" >&2
    exit 1
fi
bench_check local 200
bench_check lua-local 200

bench_run plain lua-capture
