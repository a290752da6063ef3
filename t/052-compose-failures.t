# api_led_compose when parts fail: 502 upstream_failed naming each failed
# part and its status, 504 upstream_timeout from the per-part timer,
# optional parts (null + API-Led-Partial), parts that cannot run, and a
# client that goes away in the middle of a composition.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Backend = <<'_EOC_';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location /ok {
            return 200 '{"id":"c-42","path":"a/b","n":[1,2]}';
        }

        location /slow {
            echo_sleep $arg_s;
            echo '{"slept":$arg_s}';
        }

        location /status/ {
            return 503 '{"error":"maintenance"}';
        }

        location /missing {
            return 404;
        }

        location /empty {
            return 204;
        }

        location /nobody {
            return 200 '';
        }

        location /dots {
            return 200 '{"dot":".","dotdot":"..","semi":"..;","dotsemi":".;x","enc":"%2e","enc2":"%2E%2e","nul":".%00","back":"..\\\\x","blank":". ","twice":"%252e%252E","three":"...","ok":"v1.2","pct":"50%"}';
        }

        location /text {
            default_type text/plain;
            return 200 'not json';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->main_config) {
        $block->set_value("main_config",
            "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", $::Backend);
    }

    if (defined $block->compose) {
        $block->set_value("config", $block->compose . q{
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
});
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: required parts fail: 502 upstream_failed naming each part and its status
--- compose
    location /t {
        api_led_api customer-360 layer=experience;
        api_led_problem_detail full;
        api_led_compose {
            ok      /sys/ok;
            orders  /sys/status/orders;
            profile /sys/missing;
        }
        add_header X-Compose $api_led_compose_status always;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: trace-1
--- error_code: 502
--- response_body
{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"required parts failed: orders (503), profile (404)","correlation_id":"trace-1"}
--- response_headers
Content-Type: application/problem+json
X-Compose: ok:200,orders:503,profile:404
X-Correlation-ID: trace-1
!API-Led-Partial
--- no_error_log
[error]



=== TEST 2: an unreachable System API is a 502 of its part
--- compose
    location /t {
        api_led_compose {
            ok   /sys/ok;
            down /down/x;
        }
    }
    location /down/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/nobody-listens.sock:/;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: down \(502\)"
--- error_log
connect() to unix:



=== TEST 3: a part that does not answer JSON fails
--- compose
    location /t {
        api_led_compose {
            text /sys/text;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: text \(200, invalid JSON\)"
--- error_log
api_led_compose: part "text" answered invalid JSON



=== TEST 4: a required part times out: 504 upstream_timeout at once, the part is cancelled
--- compose
    location /t {
        api_led_compose {
            ok   /sys/ok;
            slow "/sys/slow?s=3" timeout=300ms;
        }
        add_header X-Compose $api_led_compose_status always;
        add_header X-Elapsed $request_time always;
    }
--- request
GET /t
--- error_code: 504
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_timeout","title":"Upstream timeout","status":504,"detail":"required parts failed: slow \(timed out after 300ms\)","correlation_id":"[^"]+"\}$
--- response_headers_like
X-Compose: ok:200,slow:timeout
X-Elapsed: (0\.29|0\.[3-9]|1\.[0-9])\d*
--- error_log
api_led_compose: part "slow" timed out after 300ms



=== TEST 5: an optional part times out: null, API-Led-Partial, the rest answers 200
--- compose
    location /t {
        api_led_compose {
            ok   /sys/ok;
            slow "/sys/slow?s=3" timeout=200ms optional;
        }
        add_header X-Compose $api_led_compose_status;
    }
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"slow":null}
--- response_headers
API-Led-Partial: slow
X-Compose: ok:200,slow:timeout



=== TEST 6: a part within its timeout is not affected by it
--- compose
    location /t {
        api_led_compose {
            slow "/sys/slow?s=0.1" timeout=2s;
        }
    }
--- request
GET /t
--- response_body
{"slow":{"slept":0.1}}
--- no_error_log
[error]



=== TEST 7: optional parts fail: null and API-Led-Partial, in declaration order
--- compose
    location /t {
        api_led_compose {
            orders  /sys/status/orders optional;
            ok      /sys/ok;
            profile /sys/missing optional;
        }
    }
--- request
GET /t
--- response_body
{"orders":null,"ok":{"id":"c-42","path":"a/b","n":[1,2]},"profile":null}
--- response_headers
API-Led-Partial: orders,profile
Content-Type: application/json



=== TEST 8: a required part that needs a failed optional part does not run
--- compose
    location /t {
        api_led_compose {
            lookup  /sys/missing optional;
            details "/sys/ok?id={lookup/id}";
        }
        add_header X-Compose $api_led_compose_status always;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: details \(not run: lookup failed\)"
--- response_headers
X-Compose: lookup:404,details:-



=== TEST 9: an optional part that needs a failed optional part is null too
--- compose
    location /t {
        api_led_compose {
            ok      /sys/ok;
            lookup  /sys/missing optional;
            details "/sys/ok?id={lookup/id}" optional;
        }
    }
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"lookup":null,"details":null}
--- response_headers
API-Led-Partial: lookup,details



=== TEST 10: once a required part failed, no further part starts
--- compose
    location /t {
        api_led_compose {
            orders /sys/status/orders;
            crm    POST /crm 'body={"n":1}' after=orders;
        }
        add_header X-Compose $api_led_compose_status always;
    }
    location /crm {
        internal;
        return 500;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: orders \(503\)"
--- response_headers
X-Compose: orders:503,crm:-
--- no_error_log
"/crm?"



=== TEST 11: a placeholder that finds nothing: the part does not run
--- compose
    location /t {
        api_led_compose {
            ok      /sys/ok;
            details "/sys/ok?id={ok/customer/id}";
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: details \(not run: \{ok/customer/id\} not found\)"
--- error_log
api_led_compose: part "details" not run: {ok/customer/id} not found



=== TEST 12: a path placeholder may not hold a "/" (no path injection), nor an object
--- compose
    location /t {
        api_led_compose {
            ok  /sys/ok;
            bad "/sys/ok/{ok/path}" optional;
            obj "/sys/ok?n={ok/n}" optional;
        }
    }
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"bad":null,"obj":null}
--- response_headers
API-Led-Partial: bad,obj
--- error_log
part "bad" not run: {ok/path} is not a URI value
part "obj" not run: {ok/n} is not a URI value



=== TEST 13: a part larger than api_led_compose_max_part_size fails
--- compose
    location /t {
        api_led_compose_max_part_size 16;
        api_led_compose {
            ok /sys/ok;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: ok \(200, larger than api_led_compose_max_part_size\)"



=== TEST 14: a composition that calls itself stops at once
--- config
    location /t {
        api_led_compose {
            again /again;
        }
    }
    location /again {
        internal;
        api_led_compose {
            t /t;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: again \(502, required parts failed: t \(500, the composition calls itself\)\)"
--- error_log
api_led_compose: the composition calls itself through "/t"



=== TEST 15: the client goes away while parts run: nothing is left behind
--- compose
    location /t {
        api_led_compose {
            ok   /sys/ok;
            slow "/sys/slow?s=1";
            next "/sys/ok?after={slow/slept}";
        }
    }
--- request
GET /t
--- timeout: 0.3
--- abort
--- ignore_response
--- error_log
client prematurely closed connection
--- no_error_log
[alert]
[crit]



=== TEST 16: the same nginx answers the next composition
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"slow":{"slept":1},"next":{"id":"c-42","path":"a/b","n":[1,2]}}
--- no_error_log
[alert]
[crit]



=== TEST 17: a nested composition times out: the outer one answers, the inner one finishes later unseen
--- compose
    location /t {
        api_led_compose {
            ok    /sys/ok;
            inner /inner timeout=200ms optional;
        }
        add_header X-Compose $api_led_compose_status;
        add_header X-Elapsed $request_time;
    }
    location /inner {
        internal;
        api_led_compose {
            slow "/sys/slow?s=1";
        }
    }
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"inner":null}
--- response_headers_like eval
"X-Compose: ok:200,inner:timeout
X-Elapsed: " . ($ENV{TEST_NGINX_USE_VALGRIND} ? '0\.(?:19\d|[2-9]\d*)' : '0\.(?:19\d|[2-7]\d*)')
--- error_log
api_led_compose: part "inner" timed out after 200ms
--- no_error_log
[alert]



=== TEST 18: the same nginx is fine once the inner composition ended
--- wait: 1
--- request
GET /t
--- response_body
{"ok":{"id":"c-42","path":"a/b","n":[1,2]},"inner":null}
--- no_error_log
[alert]
[crit]



=== TEST 19: a failed part's problem lends its detail only when it is JSON of the module's one grammar (nested at most 1000 levels)
--- config eval
my $deep = ("[" x 1000) . ("]" x 1000);
"    location /t {
        api_led_compose {
            flat /sys/flat optional;
            deep /sys/deep;
        }
    }
    location /sys/ {
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend/;
    }
    location /backend/flat {
        default_type application/problem+json;
        return 503 '{\"detail\":\"flat detail\"}';
    }
    location /backend/deep {
        default_type application/problem+json;
        return 503 '{\"detail\":\"deep detail\",\"x\":$deep}';
    }
"
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: deep \(503\)"



=== TEST 20: ... and the same problem, 1000 levels deep, lends it (TEST 19 can fail)
--- config eval
my $deep = ("[" x 999) . ("]" x 999);
"    location /t {
        api_led_compose {
            deep /sys/deep;
        }
    }
    location /sys/ {
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/backend/;
    }
    location /backend/deep {
        default_type application/problem+json;
        return 503 '{\"detail\":\"deep detail\",\"x\":$deep}';
    }
"
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: deep \(503, deep detail\)"



=== TEST 21: a part whose upstream closes before the end of its body fails (Content-Length)
--- compose
    location /t {
        api_led_compose {
            balance /raw/;
        }
        add_header X-Compose $api_led_compose_status always;
    }
    location /raw/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n12"
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: balance \(502, response incomplete\)"
--- response_headers
X-Compose: balance:502
--- error_log
upstream prematurely closed connection



=== TEST 22: the same, unbuffered
--- compose
    location /t {
        api_led_compose {
            balance /raw/;
        }
    }
    location /raw/ {
        internal;
        proxy_buffering off;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n12"
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: balance \(502, response incomplete\)"



=== TEST 23: a chunked body without its last chunk fails
--- compose
    location /t {
        api_led_compose {
            balance /raw/;
        }
    }
    location /raw/ {
        internal;
        proxy_http_version 1.1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n12\r\n"
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: balance \(502, response incomplete\)"



=== TEST 24: a header and no byte of the announced body: the part failed, not "invalid JSON"
--- compose
    location /t {
        api_led_compose {
            ok      /sys/ok;
            balance /raw/;
        }
    }
    location /raw/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n"
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: balance \(502, response incomplete\)"



=== TEST 25: a body that ends with the connection (no length announced) is complete
--- compose
    location /t {
        api_led_compose {
            balance /raw/;
        }
    }
    location /raw/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n123456"
--- response_body
{"balance":123456}



=== TEST 26: a complete body and an empty 204 are complete
--- compose
    location /t {
        api_led_compose {
            balance /raw/;
            empty   /sys/empty optional;
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /raw/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n123456"
--- response_body_like chomp
^\{"balance":123456,"empty":
--- response_headers
X-Compose: balance:200,empty:204



=== TEST 27: a placeholder may not make a dot segment of a part's path, in any form
--- compose
    location /t {
        api_led_compose {
            d       /sys/dots;
            dot     "/sys/ok/{d/dot}/x" optional;
            dotdot  "/sys/ok/x/{d/dotdot}" optional;
            semi    "/sys/ok/x/{d/semi}/y" optional;
            dotsemi "/sys/ok/{d/dotsemi}" optional;
            enc     "/sys/ok/{d/enc}" optional;
            enc2    "/sys/ok/x/{d/enc2}" optional;
            nul     "/sys/ok/{d/nul}" optional;
            back    "/sys/ok/{d/back}" optional;
            blank   "/sys/ok/{d/blank}" optional;
            twice   "/sys/ok/x/{d/twice}" optional;
            three   "/sys/ok/{d/three}" optional;
            ok      "/sys/ok/{d/ok}?dot={d/dot}&dotdot={d/dotdot}";
            pct     "/sys/ok/{d/pct}";
        }
        add_header X-Compose $api_led_compose_status;
    }
--- request
GET /t
--- response_body_like chomp
"dot":null,"dotdot":null,"semi":null,"dotsemi":null,"enc":null,"enc2":null,"nul":null,"back":null,"blank":null,"twice":null,"three":null,"ok":\{"id":"c-42",.*\},"pct":\{"id":"c-42",
--- response_headers
API-Led-Partial: dot,dotdot,semi,dotsemi,enc,enc2,nul,back,blank,twice,three
--- error_log
part "dot" not run: unsafe URI
part "semi" not run: unsafe URI
part "enc2" not run: unsafe URI
part "nul" not run: unsafe URI
part "back" not run: unsafe URI
part "twice" not run: unsafe URI



=== TEST 28: a dot segment from a variable in a part's path is refused too
--- compose
    location /t {
        api_led_compose {
            v "/sys/ok/$arg_id/x";
        }
    }
--- request eval
["GET /t?id=.", "GET /t?id=%2e", "GET /t?id=..%3B", "GET /t?id=v.1"]
--- error_code eval
[502, 502, 502, 200]
--- response_body_like eval
["not run: unsafe URI", "not run: unsafe URI", "not run: unsafe URI", '^\{"v":\{"id":"c-42"']



=== TEST 29: a 2xx other than 204 without a body is no JSON (namespaced, deep, placeholders)
--- compose
    location /t {
        api_led_compose {
            ok      /sys/ok;
            none    /sys/nobody optional;
            uses    "/sys/ok?id={none/id}" optional;
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /deep {
        api_led_compose_merge deep;
        api_led_compose {
            ok      /sys/ok;
            none    /sys/nobody;
        }
    }
--- request eval
["GET /t", "GET /deep"]
--- error_code eval
[200, 502]
--- response_body_like eval
['^\{"ok":\{"id":"c-42",.*\},"none":null,"uses":null\}$',
 '"detail":"required parts failed: none \(200, invalid JSON\)"']
--- error_log
part "none" answered no body
