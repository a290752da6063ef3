# Baseline sanity: plain proxying vs. the same location marked as an API
# (correlation id generated, forwarded and returned).
. "$(dirname "$0")/lib.sh"

bench_init
bench_nginx gw '
    location /plain { proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /api   { api_led_api orders layer=experience;
                      proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection ""; }'
bench_variant plain gw /plain
bench_variant api   gw /api
bench_check plain 200
bench_check api 200
bench_run plain
