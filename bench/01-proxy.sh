# Baseline sanity: plain nginx without the module; a location without
# module directives in an nginx where the module is loaded and used by
# another location (it must cost nothing: same speed as plain nginx); the
# same location marked as an API (correlation id generated, forwarded and
# returned); and plain nginx doing the same header work by itself (a
# request id forwarded as X-Correlation-ID and in a traceparent, returned
# as X-Correlation-ID): what those three header lines cost nginx, whoever
# asks for them.
. "$(dirname "$0")/lib.sh"

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

bench_init
bench_nginx_without_module nginx "
    location /plain { $proxy }
    location /ids {
        proxy_set_header X-Correlation-ID \$request_id;
        proxy_set_header traceparent 00-\$request_id-00f067aa0ba902b7-01;
        add_header X-Correlation-ID \$request_id;
        $proxy
    }"
bench_nginx gw "
    location /plain { $proxy }
    location /api   { api_led_api orders layer=experience; $proxy }"
bench_variant nginx nginx /plain
bench_variant plain gw    /plain
bench_variant api   gw    /api
bench_variant nginx+ids nginx /ids
bench_check nginx 200
bench_check nginx+ids 200
bench_check plain 200
bench_check api 200
bench_run nginx
