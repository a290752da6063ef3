# Versions that mean something: $api_led_api_version, the Deprecation
# (RFC 9745) and Sunset (RFC 8594) headers of api_led_api deprecated= and
# sunset=, and spec= checked at nginx -t.  Each configuration mistake
# names its file and line.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: $api_led_api_version, inherited from the server
--- config
    api_led_api orders layer=experience version=v2;
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Version "$api_led_api_version";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Version: v2
!Deprecation
!Sunset
--- no_error_log
[error]



=== TEST 2: no version: the variable is empty
--- config
    location /t {
        api_led_api orders layer=experience;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Version "[$api_led_api_version]";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Version: []



=== TEST 3: deprecated= and sunset= send Deprecation and Sunset
--- config
    location /t {
        api_led_api orders layer=experience version=v1
                    deprecated=2025-01-01 sunset=2026-06-30T12:00:00Z;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
Deprecation: @1735689600
Sunset: Tue, 30 Jun 2026 12:00:00 GMT
--- response_body
ok



=== TEST 4: the headers also go with the module's own refusals
--- config
    location /t {
        api_led_api orders layer=system sunset=2030-01-01;
        api_led_callers process;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 403
--- response_headers
Sunset: Tue, 01 Jan 2030 00:00:00 GMT
!Deprecation



=== TEST 5: another API of the same server has no such headers
--- config
    location /old {
        api_led_api orders layer=experience deprecated=2024-02-29;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /new {
        api_led_api orders layer=experience version=v2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /old", "GET /new"]
--- response_headers eval
["Deprecation: \@1709164800", "!Deprecation"]



=== TEST 6: an invalid date fails nginx -t
--- config
    location /t {
        api_led_api orders deprecated=2025-02-30;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid date "2025-02-30" in "deprecated=2025-02-30", must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ in \S+nginx\.conf:\d+/



=== TEST 7: a date of another form fails nginx -t
--- config
    location /t {
        api_led_api orders sunset=01/02/2026;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid date "01\/02\/2026" in "sunset=01\/02\/2026"/



=== TEST 8: a sunset before the deprecation fails nginx -t
--- config
    location /t {
        api_led_api orders deprecated=2026-01-01 sunset=2025-12-31;
        return 200;
    }
--- must_die
--- error_log eval
qr/the sunset date of api "orders" is before its deprecation date in \S+nginx\.conf:\d+/



=== TEST 9: a missing spec file fails nginx -t with the line of api_led_api
--- config
    location /t {
        api_led_api orders spec=$TEST_NGINX_HTML_DIR/nope.json;
        return 200;
    }
--- must_die
--- error_log eval
qr/cannot open spec file "\S+nope\.json" in \S+nginx\.conf:\d+/



=== TEST 10: a spec that is not JSON (YAML) fails nginx -t
--- user_files
>>> orders.yaml
openapi: 3.0.3
info:
  title: Orders
--- config
    location /t {
        api_led_api orders spec=$TEST_NGINX_HTML_DIR/orders.yaml;
        return 200;
    }
--- must_die
--- error_log eval
qr/spec file "\S+orders\.yaml" is not JSON \(.*\) in \S+nginx\.conf:\d+/



=== TEST 11: JSON that is no OpenAPI document fails nginx -t
--- user_files
>>> orders.json
{"title": "Orders", "paths": {}}
--- config
    location /t {
        api_led_api orders spec=$TEST_NGINX_HTML_DIR/orders.json;
        return 200;
    }
--- must_die
--- error_log eval
qr/spec file "\S+orders\.json" is no OpenAPI document \(an object with "openapi" or "swagger"\) in \S+nginx\.conf:\d+/



=== TEST 12: a good spec loads
--- user_files
>>> orders.json
{"openapi": "3.0.3", "info": {"title": "Orders", "version": "1"}, "paths": {}}
--- config
    location /t {
        api_led_api orders spec=$TEST_NGINX_HTML_DIR/orders.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 13: an invalid version fails nginx -t
--- config
    location /t {
        api_led_api orders "version=v1\nX-Injected: 1";
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid version/



=== TEST 14: a version that is not UTF-8 is a metric label Prometheus can read: U+FFFD for the byte
--- http_config
    api_led_metrics_zone t062:1m;
--- config eval
"location /t {
    api_led_api orders version=v\xff1;
    return 200 'ok';
}
location = /metrics {
    api_led_metrics;
}"
--- request eval
["GET /t", "GET /metrics"]
--- response_body_like eval
[qr/^ok$/, qr/\Qapi_led_requests_total{api="orders",layer="",version="v\E\xef\xbf\xbd\Q1",method="GET",status="200",plan=""} 1\E\n/]



=== TEST 15: a parameter given twice fails nginx -t (the last one was taken silently)
--- config
    location /t {
        api_led_api orders layer=system version=v1 layer=experience;
        return 200;
    }
--- must_die
--- error_log eval
qr/"layer=" is given twice in \S+nginx\.conf:\d+/



=== TEST 16: 1970-01-01 is a date like any other, not "no date"
--- config
    location /t {
        api_led_api orders layer=experience
                    deprecated=1970-01-01 sunset=1970-01-01T00:00:00Z;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
Deprecation: @0
Sunset: Thu, 01 Jan 1970 00:00:00 GMT
--- response_body
ok



=== TEST 17: a sunset of 1970-01-01 is before any later deprecation: nginx -t fails
--- config
    location /t {
        api_led_api orders deprecated=2026-01-01 sunset=1970-01-01;
        return 200;
    }
--- must_die
--- error_log eval
qr/the sunset date of api "orders" is before its deprecation date in \S+nginx\.conf:\d+/
