# Refusals go through nginx: API keys, JWT, rate limits and the layer
# contract return their status to nginx, as auth_basic and limit_req do, so
# that error_page, "satisfy any" (with allow/deny) and auth_delay apply;
# without an error_page the body is the problem (application/problem+json).
# api_led_rate_limit_status and the log levels of refusals.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $NOW = time;

# an HS256 token with these claims (exp in an hour unless given)
sub tok {
    my %c = @_;
    $c{exp} = $::NOW + 3600 unless exists $c{exp};
    delete $c{exp} unless defined $c{exp};
    return ::jwt(alg => 'HS256', kid => 'hs-1', claims => \%c);
}

sub bearer { return "Authorization: Bearer $_[0]" }

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s"]}},
 "consumers": [
   {"id": "acme", "plan": "gold", "keys": ["k-acme"]}
 ]}
JSON

# an error page that shows the status nginx gives it
our $ErrorPage = <<'CONF';
    location = /oops {
        internal;
        default_type text/plain;
        return 200 "custom $status page\n";
    }
    location /echo {
        return 200 "ok\n";
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files",
                          ">>> consumers.json\n$::Consumers");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n");
    }

    $block->set_value("config", $block->config . $::ErrorPage);
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: API key: error_page 401 takes over the refusal; the challenge stays
--- config
    location /t {
        api_led_api orders;
        api_led_auth key;
        error_page 401 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: wrong", "X-API-Key: k-acme"]
--- error_code eval
[401, 200]
--- response_body eval
["custom 401 page\n", "ok\n"]
--- response_headers eval
["WWW-Authenticate: ApiKey realm=\"orders\"\nContent-Type: text/plain", "!WWW-Authenticate"]



=== TEST 2: API key: without an error_page the problem is the body of nginx's answer
--- config
    location /t {
        api_led_api orders;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 401
--- response_headers
Content-Type: application/problem+json
WWW-Authenticate: ApiKey realm="orders"
--- response_body_like chomp
^\{"type":"urn:api-led:error:missing_credentials","title":"Missing credentials","status":401,"detail":"the request carries no API key","correlation_id":"[^"]+"\}$
--- error_log
api_led: the request carries no API key



=== TEST 3: API key: "error_page 401 =" answers with the page's own status
--- config
    location /t {
        api_led_auth key;
        error_page 401 = /fallback;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /fallback {
        return 200 "public fallback\n";
    }
--- request
GET /t
--- error_code: 200
--- response_body
public fallback



=== TEST 4: API key: satisfy any lets an allowed address in without a key, and no challenge goes out
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "[$api_led_consumer]";
    }
--- request
GET /t
--- error_code: 200
--- response_body
ok
--- response_headers
!WWW-Authenticate
X-Who: []



=== TEST 5: API key: satisfy any with every other module refusing: the key decides
--- config
    location /t {
        satisfy any;
        deny all;
        api_led_api orders;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "[$api_led_consumer]";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: wrong", "X-API-Key: k-acme"]
--- error_code eval
[401, 200]
--- response_headers eval
["WWW-Authenticate: ApiKey realm=\"orders\"\nContent-Type: application/problem+json",
 "X-Who: [acme]"]
--- response_body_like eval
['"detail":"the API key is not valid"', "ok"]



=== TEST 6: API key: auth_delay holds a refusal back
--- config
    location /t {
        api_led_auth key;
        auth_delay 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- request
GET /t
--- more_headers
X-API-Key: wrong
--- error_code: 401
--- response_headers_like
X-Time: ^(0\.9\d*|[1-9]\d*\.\d+)$
Content-Type: application/problem\+json



=== TEST 7: JWT: error_page 401 and 403, the RFC 6750 challenge stays
--- config
    location /t {
        api_led_api orders;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_require scope orders:write;
        error_page 401 403 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'a', scope => 'orders:write', exp => $::NOW - 10)),
 ::bearer(::tok(sub => 'a', scope => 'orders:read')),
 ::bearer(::tok(sub => 'a', scope => 'orders:write'))]
--- error_code eval
[401, 403, 200]
--- response_body eval
["custom 401 page\n", "custom 403 page\n", "ok\n"]
--- response_headers eval
["WWW-Authenticate: Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"the token has expired\"",
 "WWW-Authenticate: Bearer realm=\"orders\", error=\"insufficient_scope\", error_description=\"the token lacks a required scope\", scope=\"orders:write\"",
 "!WWW-Authenticate"]



=== TEST 8: JWT: satisfy any lets an allowed address in with a bad token
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'a', exp => $::NOW - 10))
--- error_code: 200
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 9: JWT: satisfy any with deny all: the token's refusal stands, with its problem
--- config
    location /t {
        satisfy any;
        deny all;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_require scope orders:write;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'a', scope => 'orders:read'))
--- error_code: 403
--- response_body_like chomp
^\{"type":"urn:api-led:error:insufficient_scope",.*"status":403,"detail":"the token lacks a required scope"



=== TEST 10: JWT: auth_delay holds a bad token's 401 back
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        auth_delay 1s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer not-a-token
--- error_code: 401
--- response_headers_like
X-Time: ^(0\.9\d*|[1-9]\d*\.\d+)$
--- response_body_like chomp
"detail":"the token is not a compact JWS"
--- error_log
api_led: JWT rejected: the token is not a compact JWS



=== TEST 11: JWT: an expired token is logged like the other refusals
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'a', exp => $::NOW - 10))
--- error_code: 401
--- error_log eval
qr/\[info\] .* api_led: JWT rejected: the token has expired, client: /



=== TEST 12: JWT: a token not valid yet is logged like the other refusals
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'a', nbf => $::NOW + 600))
--- error_code: 401
--- error_log eval
qr/\[info\] .* api_led: JWT rejected: the token is not valid yet, client: /



=== TEST 13: JWT: a malformed token is logged like the other refusals
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer e30.e30
--- error_code: 401
--- error_log eval
qr/\[info\] .* api_led: JWT rejected: the token is not a compact JWS, client: /



=== TEST 14: rate limit: error_page 429 takes over; the limit's headers stay
--- config
    location /t {
        api_led_rate_limit 1r/m key=t006-12;
        error_page 429 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_body eval
["ok\n", "custom 429 page\n"]
--- response_headers eval
["RateLimit-Remaining: 0", "RateLimit-Remaining: 0\nContent-Type: text/plain"]
--- response_headers_like eval
# a second later under valgrind
["RateLimit-Limit: 1", "Retry-After: (59|60)"]



=== TEST 15: rate limit: api_led_rate_limit_status, with and without an error_page
--- config
    location /t {
        api_led_api orders;
        api_led_rate_limit 1r/m key=t006-13;
        api_led_rate_limit_status 503;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /p {
        api_led_rate_limit 1r/m key=t006-13b;
        api_led_rate_limit_status 420;
        error_page 420 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t", "GET /p", "GET /p"]
--- error_code eval
[200, 503, 200, 420]
--- response_headers eval
["", "Content-Type: application/problem+json", "", "Content-Type: text/plain"]
--- response_headers_like eval
["RateLimit-Limit: 1", "Retry-After: (59|60)", "RateLimit-Limit: 1", "Retry-After: (59|60)"]
--- response_body_like eval
["ok", qr/^\{"type":"urn:api-led:error:rate_limited","title":"Too many requests","status":503,"detail":"too many requests, retry in (59|60) s","correlation_id":"[^"]+"\}$/,
 "ok", "custom 420 page"]



=== TEST 16: rate limit: api_led_rate_limit_status is 400 to 599
--- config
    location /t {
        api_led_rate_limit_status 302;
    }
--- must_die
--- error_log eval
qr/value must be between 400 and 599 in \S+nginx\.conf:\d+/



=== TEST 17: rate limit: satisfy any does not lift a limit: the request let in by allow is counted
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_auth key;
        api_led_rate_limit 1r/m key=t006-15;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!WWW-Authenticate\nRateLimit-Remaining: 0", "RateLimit-Remaining: 0"]
--- response_headers_like eval
# a second later under valgrind
["RateLimit-Limit: 1", "Retry-After: (59|60)"]



=== TEST 18: rate limit: auth_delay holds back 401s only, not a 429
--- config
    location /t {
        auth_delay 2s;
        api_led_rate_limit 1r/m key=t006-16;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers_like eval
["X-Time: 0\\.\\d+", "X-Time: 0\\.\\d+"]



=== TEST 19: rate limit: a refusal is logged at error by default (the inner request is refused)
--- config
    location /t {
        api_led_rate_limit 1r/m key=t006-17;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner;
    }
    location /inner {
        api_led_rate_limit 1r/m key=t006-17;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 429
--- error_log eval
qr/\[error\] .* api_led: limiting requests, limit "1r\/m", retry in \d+ ms, client: 127\.0\.0\.1, .* request: "GET \/inner HTTP/



=== TEST 20: rate limit: api_led_rate_limit_log_level sets the level
--- config
    location /t {
        api_led_rate_limit 1r/m key=t006-18;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner;
    }
    location /inner {
        api_led_rate_limit 1r/m key=t006-18;
        api_led_rate_limit_log_level warn;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 429
--- error_log eval
qr/\[warn\] .* api_led: limiting requests, limit "1r\/m", retry in \d+ ms, client: 127\.0\.0\.1, .* request: "GET \/inner HTTP/
--- no_error_log
[error]



=== TEST 21: layer: error_page 403 takes over a client's layer violation
--- config
    location /system/db {
        api_led_api db layer=system;
        api_led_callers process;
        error_page 403 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /system/db
--- error_code: 403
--- response_body
custom 403 page



=== TEST 22: layer: satisfy any and allow do not lift the layer contract; no auth_delay on its 403
--- config
    location /system/db {
        satisfy any;
        allow 127.0.0.1;
        auth_delay 2s;
        api_led_api db layer=system;
        api_led_callers process;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- request
GET /system/db
--- error_code: 403
--- response_headers_like
X-Time: 0\.\d+
Content-Type: application/problem\+json
--- response_body_like chomp
^\{"type":"urn:api-led:error:layer_violation","title":"Layer violation","status":403,"detail":"the client layer may not call this API","correlation_id":"[^"]+"\}$



=== TEST 23: layer: a violation is logged at info by default
--- config
    location /system/db {
        api_led_api db layer=system;
        api_led_callers process;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /system/db
--- error_code: 403
--- error_log eval
qr/\[info\] .* api_led: layer violation: api "db" called by a client/
--- no_error_log
[error]



=== TEST 24: layer: api_led_callers_log_level sets the level
--- config
    location /system/db {
        api_led_api db layer=system;
        api_led_callers process;
        api_led_callers_log_level error;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /system/db
--- error_code: 403
--- error_log eval
qr/\[error\] .* api_led: layer violation: api "db" called by a client/



=== TEST 25: a HEAD request's refusal: the problem's headers, no body
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
HEAD /t
--- error_code: 401
--- response_headers
Content-Type: application/problem+json
--- response_body



=== TEST 26: rate limit: satisfy any: a request that authentication refused and nginx kept out is not counted
--- config
    location /t {
        satisfy any;
        allow 127.0.0.2;
        deny all;
        api_led_auth key;
        api_led_rate_limit 1r/m key=$http_x_tenant;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Tenant: t006-26\nX-API-Key: wrong", "X-Tenant: t006-26\nX-API-Key: k-acme",
 "X-Tenant: t006-26\nX-API-Key: k-acme"]
--- error_code eval
[401, 200, 429]



=== TEST 27: rate limit: satisfy all: a request auth_request refused after the key was accepted is not counted
--- config
    location /t {
        api_led_auth key;
        auth_request /gate;
        api_led_rate_limit 1r/m key=t006-27;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /gate {
        internal;
        if ($http_x_block) {
            return 403;
        }
        return 204;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-acme\nX-Block: 1", "X-API-Key: k-acme", "X-API-Key: k-acme"]
--- error_code eval
[403, 200, 429]



=== TEST 28: rate limit: a limit's own 403 is not lifted by satisfy any and allow
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_auth key;
        api_led_rate_limit 1r/m key=t006-28;
        api_led_rate_limit_status 403;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 403]
--- response_headers eval
["RateLimit-Remaining: 0", "RateLimit-Remaining: 0"]



=== TEST 29: rate limit: a refused request's body is not read: the limit answers before the request's transformation
--- config
    location /t {
        api_led_rate_limit 1r/m key=t006-29;
        api_led_request_json set /by "gateway";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request eval
["POST /t\n{\"a\":1}", "POST /t\n{not json"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 429]
--- no_error_log
[warn]



=== TEST 30: rate limit: a request authentication refused is not counted in the location of its error_page either
A static error page in a server whose limit every location inherits
counted the refused request there: a client without a valid key used up
the quota of the tenant it named.
--- config
    api_led_rate_limit 1r/m key=t006-30-$http_x_tenant;
    error_page 401 /401.json;
    location = /401.json {
        internal;
        root html;
    }
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- user_files eval
">>> consumers.json\n$::Consumers\n>>> 401.json\n{\"error\":\"unauthorized\"}\n"
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Tenant: t006-30\nX-API-Key: wrong", "X-Tenant: t006-30\nX-API-Key: k-acme",
 "X-Tenant: t006-30\nX-API-Key: k-acme"]
--- error_code eval
[401, 200, 429]
--- response_body_like eval
['"unauthorized"', "ok", '"status":429']
