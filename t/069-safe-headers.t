# Safe header defaults: in an API location a client cannot say who the
# consumer is (X-Consumer-* go, whatever api_led_consumer_headers says) nor
# which layer calls (API-Led-Caller goes unless it verifies); the parts of
# a composition get the cleaned headers.  A credential the gateway
# consumed does not go on: the API key (api_led_key_hide) and the JWT
# (api_led_jwt_hide), wherever it was (header, cookie, query argument).
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Token = ::jwt(alg => 'HS256', kid => 'hs-1',
                   claims => { sub => 'acme', exp => time + 3600 });
our $Bad = ::jwt(alg => 'HS256', kid => 'hs-1', secret => 'x' x 32,
                 claims => { sub => 'acme', exp => time + 3600 });

our $Consumers = <<'_EOC_';
{"consumers": [{"id": "acme", "keys": ["k-acme-1"]}]}
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> consumers.json\n$::Consumers");
    $block->set_value("http_config",
        "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;");
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an API location: the client's X-Consumer-* and API-Led-Caller never reach the upstream
--- config
    location /api {
        api_led_api  orders layer=experience;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=$http_x_consumer_id plan=$http_x_consumer_plan tenant=$http_x_consumer_tenant caller=$http_api_led_caller other=$http_x_other\n";
    }
--- request
GET /api
--- more_headers
X-Consumer-ID: admin
x-consumer-id: root
X-Consumer-Plan: unlimited
X-Consumer-Tenant: t-1
API-Led-Caller: v1;layer=process;api=x;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
X-Other: kept
--- response_body
id= plan= tenant= caller= other=kept
--- error_log
api_led: caller assertion refused (no api_led_caller_key here), the request counts as a client's



=== TEST 2: with api_led_consumer_headers, the upstream gets the gateway's own only
--- config
    location /api {
        api_led_api  orders layer=experience;
        api_led_auth key;
        api_led_consumer_headers on;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=$http_x_consumer_id tenant=$http_x_consumer_tenant\n";
    }
--- request
GET /api
--- more_headers
X-API-Key: k-acme-1
X-Consumer-ID: admin
X-Consumer-Tenant: t-1
--- response_body
id=acme tenant=



=== TEST 3: the parts of a composition get the cleaned headers
--- config
    location /api {
        api_led_api  orders layer=experience;
        api_led_compose {
            p /part;
        }
    }
    location /part {
        internal;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        default_type application/json;
        return 200 '{"id":"$http_x_consumer_id","tenant":"$http_x_consumer_tenant"}';
    }
--- request
GET /api
--- more_headers
X-Consumer-ID: admin
X-Consumer-Tenant: t-1
--- response_body
{"p":{"id":"","tenant":""}}



=== TEST 4: many X-Consumer-* names: all go
--- config
    location /api {
        api_led_api  orders;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "$http_x_consumer_a$http_x_consumer_b$http_x_consumer_c$http_x_consumer_d$http_x_consumer_e$http_x_consumer_f$http_x_consumer_g$http_x_consumer_h$http_x_consumer_i$http_x_consumer_j|$http_x_consumerx\n";
    }
--- request
GET /api
--- more_headers
X-Consumer-A: 1
X-Consumer-B: 2
X-Consumer-C: 3
X-Consumer-D: 4
X-Consumer-E: 5
X-Consumer-F: 6
X-Consumer-G: 7
X-Consumer-H: 8
X-Consumer-I: 9
X-Consumer-J: 10
X-ConsumerX: kept
--- response_body
|kept



=== TEST 5: an HTTP/0.9 request in an API location
--- config
    location /api {
        api_led_api  orders;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=$http_x_consumer_id\n";
    }
--- raw_request eval
"GET /api\r\n"
--- http09
--- response_body
id=
--- no_error_log
[alert]
[crit]



=== TEST 6: an HTTP/1.0 request in an API location
--- config
    location /api {
        api_led_api  orders;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=$http_x_consumer_id\n";
    }
--- raw_request eval
"GET /api HTTP/1.0\r\nX-Consumer-ID: admin\r\n\r\n"
--- response_body
id=



=== TEST 7: a verified bearer token does not go upstream, nor to the parts; other headers do
--- config
    location /api {
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /composed {
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_compose {
            p /part;
        }
    }
    location /part {
        internal;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-json;
    }
    location /echo {
        return 200 "authorization=$http_authorization consumer=$api_led_consumer other=$http_x_other\n";
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"authorization":"$http_authorization"}';
    }
--- request eval
["GET /api", "GET /composed"]
--- more_headers eval
["Authorization: Bearer $::Token\nX-Other: kept", "Authorization: Bearer $::Token"]
--- response_body eval
["authorization= consumer= other=kept\n", qq({"p":{"authorization":""}}\n)]



=== TEST 8: a refused token does not go on either (satisfy any lets the request through)
--- config
    location /api {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "authorization=$http_authorization\n";
    }
--- request
GET /api
--- more_headers eval
"Authorization: Bearer $::Bad"
--- response_body
authorization=



=== TEST 9: a token from a cookie or a query argument: only that cookie, only that argument go
--- config
    location /api {
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_source cookie:session query:access_token;
        proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cookie=$http_cookie args=$args\n";
    }
--- request eval
["GET /api?a=1&b=2", "GET /api?a=1&access_token=$::Token&b=2"]
--- more_headers eval
["Cookie: theme=dark; session=$::Token;lang=en", "Cookie: theme=dark"]
--- response_body eval
["cookie=theme=dark; lang=en args=a=1&b=2\n", "cookie=theme=dark args=a=1&b=2\n"]



=== TEST 10: api_led_jwt_hide off: the upstream gets the token (it verifies it too)
--- config
    location /api {
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_hide  off;
        proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "authorization=$http_authorization\n";
    }
--- request
GET /api
--- more_headers eval
"Authorization: Bearer $::Token"
--- response_body eval
"authorization=Bearer $::Token\n"



=== TEST 11: the only cookie is the token: the Cookie header goes
--- config
    location /api {
        api_led_api       orders layer=experience;
        api_led_auth      jwt;
        api_led_jwt_keys  $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_source cookie:session;
        proxy_pass        http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cookie=[$http_cookie]\n";
    }
--- request
GET /api
--- more_headers eval
"Cookie: session=$::Token"
--- response_body
cookie=[]



=== TEST 12: the API key is not forwarded either (api_led_key_hide, on by default)
--- config
    location /api {
        api_led_api  orders layer=experience;
        api_led_auth key;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "key=$http_x_api_key\n";
    }
--- request
GET /api
--- more_headers
X-API-Key: k-acme-1
--- response_body
key=



=== TEST 13: a composition that is no API location: its parts (into an API location, then upstream) get the cleaned headers too
--- config
    location /compose {
        api_led_compose {
            p /system/part;
        }
    }
    location /system/part {
        internal;
        api_led_api  orders-db layer=system;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        default_type application/json;
        return 200 '{"id":"$http_x_consumer_id","plan":"$http_x_consumer_plan","tenant":"$http_x_consumer_tenant","caller":"$http_api_led_caller","other":"$http_x_other"}';
    }
--- request
GET /compose
--- more_headers
X-Consumer-ID: admin
X-Consumer-Plan: unlimited
X-Consumer-Tenant: t-1
API-Led-Caller: v1;layer=process;api=x;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
X-Other: kept
--- response_body
{"p":{"id":"","plan":"","tenant":"","caller":"","other":"kept"}}



=== TEST 14: a composition that is no API location keeps the consumer headers the gateway set
--- config
    location /compose {
        api_led_auth              key;
        api_led_consumer_headers  on;
        api_led_compose {
            p /system/part;
        }
    }
    location /system/part {
        internal;
        api_led_api  orders-db layer=system;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        default_type application/json;
        return 200 '{"id":"$http_x_consumer_id","tenant":"$http_x_consumer_tenant"}';
    }
--- request
GET /compose
--- more_headers
X-API-Key: k-acme-1
X-Consumer-ID: admin
X-Consumer-Tenant: t-1
--- response_body
{"p":{"id":"acme","tenant":""}}



=== TEST 15: with underscores_in_headers on, API_Led_Caller is an API-Led-Caller too: it never reaches the upstream
--- config
    underscores_in_headers on;
    location /api {
        api_led_api  orders layer=experience;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "caller=$http_api_led_caller\n";
    }
--- request
GET /api
--- more_headers
API_Led_Caller: v1;layer=process;api=x;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
--- response_body
caller=
--- error_log
api_led: caller assertion refused (no api_led_caller_key here), the request counts as a client's



=== TEST 16: with underscores_in_headers on, X_Correlation_ID is an X-Correlation-ID too: the upstream reads the request's id only
--- config
    underscores_in_headers on;
    location /api {
        api_led_api  orders layer=experience;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cid=$http_x_correlation_id\n";
    }
--- request eval
["GET /api", "GET /api"]
--- more_headers eval
["X_Correlation_ID: bad\"id", "X_Correlation_ID: c-1\r\nX-Correlation-ID: c-2"]
--- response_body_like eval
["^cid=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\n\\z", "^cid=c-1\n\\z"]



=== TEST 17: a subrequest that is no part (auth_request) from a location that cleans nothing: the client's X-Consumer-* and API-Led-Caller do not reach the API location's upstream
--- config
    location /page {
        auth_request /authz;
        auth_request_set $seen $upstream_http_x_seen;
        add_header X-Seen $seen;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /authz {
        internal;
        api_led_api  authz layer=system;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/check;
    }
    location /check {
        add_header X-Seen "id=[$http_x_consumer_id] tenant=[$http_x_consumer_tenant] caller=[$http_api_led_caller]";
        return 204;
    }
    location /ok {
        return 200 "ok\n";
    }
--- request
GET /page
--- more_headers
X-Consumer-ID: admin
X-Consumer-Tenant: t-1
API-Led-Caller: v1;layer=process;api=x;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
--- response_headers
X-Seen: id=[] tenant=[] caller=[]



=== TEST 18: the same after api_led_consumer_headers in that location: the subrequest gets the gateway's own only
--- config
    location /page {
        api_led_auth              key;
        api_led_consumer_headers  on;
        auth_request /authz;
        auth_request_set $seen $upstream_http_x_seen;
        add_header X-Seen $seen;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/ok;
    }
    location = /authz {
        internal;
        api_led_api  authz layer=system;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/check;
    }
    location /check {
        add_header X-Seen "id=[$http_x_consumer_id] tenant=[$http_x_consumer_tenant]";
        return 204;
    }
    location /ok {
        return 200 "ok\n";
    }
--- request
GET /page
--- more_headers
X-API-Key: k-acme-1
X-Consumer-ID: admin
X-Consumer-Tenant: t-1
--- response_headers
X-Seen: id=[acme] tenant=[]



=== TEST 19: a refused API-Led-Caller is logged before authentication: the line does not carry the query key authentication hides, nor a decoded newline of the path
--- config
    location /api {
        api_led_api  orders layer=system;
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass   http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "args=$args\n";
    }
--- request
GET /api%0Ax?a=1&api_key=k-acme-1
--- more_headers
API-Led-Caller: v1;layer=process;api=x;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
--- response_body
args=a=1
--- error_log eval
qr/api_led: caller assertion refused \(no api_led_caller_key here\), the request counts as a client's: GET \/api%0Ax, client: 127\.0\.0\.1, server: localhost, host: "localhost"$/m
--- no_error_log eval
qr/\[(?!debug)[a-z]+\] .*k-acme-1/
