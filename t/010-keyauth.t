# API keys: sources, hashed and plaintext keys, hiding, the 401 answers,
# anonymous access, identity variables and headers, inheritance.
use Test::Nginx::Socket 'no_plan';

# "test" is stored hashed, "k-live-plaintext" and "k-free-1" as they are
our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s", "200000r/d"]},
           "free": {"limits": ["5r/s"]}},
 "consumers": [
   {"id": "acme", "plan": "gold",
    "metadata": {"tenant": "t-1", "Cost-Center": "cc-9", "seats": 12},
    "keys": ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
             "k-live-plaintext"]},
   {"id": "bob", "plan": "free", "keys": ["k-free-1"]},
   {"id": "guest", "plan": "free"},
   {"id": "noplan", "keys": ["k-noplan"]}
 ]}
JSON

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
});

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a hashed key in the default header authenticates
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/$api_led_auth_method";
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- response_body
upstream ok
--- response_headers
X-Who: acme/gold/key
--- no_error_log
[error]



=== TEST 2: a plaintext key of the same consumer authenticates too
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/$api_led_auth_method";
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
x-api-key: k-live-plaintext
--- response_headers
X-Who: acme/gold/key



=== TEST 3: no key: 401 missing_credentials, problem body, ApiKey challenge with the api name
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: cid-401-a
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="orders"
Content-Type: application/problem+json
--- response_body
{"type":"urn:api-led:error:missing_credentials","title":"Missing credentials","status":401,"detail":"the request carries no API key","correlation_id":"cid-401-a"}



=== TEST 4: an unknown key: 401 invalid_api_key; the realm is "api" without an api name
--- log_level: info
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: no-such-key-7731
X-Correlation-ID: cid-401-b
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="api"
--- response_body
{"type":"urn:api-led:error:invalid_api_key","title":"Invalid API key","status":401,"detail":"the API key is not valid","correlation_id":"cid-401-b"}
--- no_error_log
no-such-key-7731



=== TEST 5: the hex of a stored digest is not itself a key
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
--- error_code: 401
--- response_body_like chomp
"type":"urn:api-led:error:invalid_api_key"



=== TEST 6: an empty key is a wrong key, not a missing one
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous guest;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t?api_key=
--- error_code: 401
--- response_body_like chomp
"urn:api-led:error:invalid_api_key"



=== TEST 7: custom header name and query source
--- config
    location /t {
        api_led_auth key;
        api_led_key_source header:X-Partner-Token query:apikey;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t?x=1&apikey=k-free-1", "GET /t?apikey=k-%66ree-1"]
--- more_headers eval
["X-Partner-Token: k-live-plaintext", "X-API-Key: k-live-plaintext", "", ""]
--- error_code eval
[200, 401, 200, 200]
--- response_headers eval
["X-Who: acme", "X-Who:", "X-Who: bob", "X-Who: bob"]



=== TEST 8: two different keys (header and query): 401 ambiguous_credentials
--- config
    location /t {
        api_led_auth key;
        api_led_key_source header:X-API-Key query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t?api_key=k-free-1
--- more_headers
X-API-Key: k-live-plaintext
X-Correlation-ID: cid-amb
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="api"
--- response_body
{"type":"urn:api-led:error:ambiguous_credentials","title":"Ambiguous credentials","status":401,"detail":"the request carries more than one API key","correlation_id":"cid-amb"}



=== TEST 9: the same key in the header and the query is one key
--- config
    location /t {
        api_led_auth key;
        api_led_key_source header:X-API-Key query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t?api_key=k-free-1
--- more_headers
X-API-Key: k-free-1
--- response_headers
X-Who: bob



=== TEST 10: two different keys in two headers of the same name: ambiguous
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k-free-1
X-API-Key: test
--- error_code: 401
--- response_body_like chomp
"type":"urn:api-led:error:ambiguous_credentials"



=== TEST 11: hide on (default): the upstream does not see the header
--- config
    location /t {
        api_led_auth key;
        add_header X-UA $http_user_agent;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "key=[$http_x_api_key] a=[$http_x_a] b=[$http_x_b] ua=[$http_user_agent]\n";
    }
--- request
GET /t
--- more_headers
X-A: 1
X-API-Key: test
User-Agent: ua-after-key
X-B: 2
--- response_body
key=[] a=[1] b=[2] ua=[ua-after-key]
--- response_headers
X-UA: ua-after-key



=== TEST 12: hide off: the upstream sees the header
--- config
    location /t {
        api_led_auth key;
        api_led_key_hide off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "key=[$http_x_api_key]\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- response_body
key=[test]



=== TEST 13: hide on, proxy_pass with a URI: the upstream gets the other arguments only
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "uri=[$request_uri]\n";
    }
--- request eval
["GET /t?a=1&api_key=test&b=%2F2", "GET /t?api_key=test", "GET /t?api_key=test&API_KEY=test&c=3"]
--- response_body eval
["uri=[/echo?a=1&b=%2F2]\n", "uri=[/echo]\n", "uri=[/echo?c=3]\n"]



=== TEST 14: hide on, proxy_pass without a URI: the upstream gets the other arguments only
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    upstream backend {
        server unix:$TEST_NGINX_HTML_DIR/backend.sock;
    }
    server {
        listen unix:$TEST_NGINX_HTML_DIR/backend.sock;
        location / {
            return 200 "uri=[$request_uri]\n";
        }
    }
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://backend;
    }
--- request eval
["GET /t/a%20b?a=1&api_key=test&b=2", "GET /t?api_key=test", "GET /t?api_key"]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^uri=\\[/t/a%20b\\?a=1&b=2\\]\n\$", "^uri=\\[/t\\]\n\$", "invalid_api_key"]



=== TEST 15: hide off, proxy_pass without a URI: the upstream sees the argument
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    upstream backend {
        server unix:$TEST_NGINX_HTML_DIR/backend.sock;
    }
    server {
        listen unix:$TEST_NGINX_HTML_DIR/backend.sock;
        location / {
            return 200 "uri=[$request_uri]\n";
        }
    }
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        api_led_key_hide off;
        proxy_pass http://backend;
    }
--- request
GET /t?a=1&api_key=test
--- response_body
uri=[/t?a=1&api_key=test]



=== TEST 16: hidden query keys are not in $request, $request_uri and $args
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Vars "[$request] [$request_uri] [$args]";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t?x=1&api_key=k-free-1&y=2
--- response_headers
X-Vars: [GET /t?x=1&y=2 HTTP/1.1] [/t?x=1&y=2] [x=1&y=2]



=== TEST 17: no key value in the error log (at info: nginx's debug log shows request headers)
--- log_level: info
--- config
    location /t {
        api_led_auth key;
        api_led_key_source header:X-API-Key query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t?api_key=k-free-1", "GET /t?api_key=wrong-secret-5521", "GET /t?api_key=wrong-secret-6632"]
--- more_headers eval
["", "", "X-API-Key: wrong-secret-7743"]
--- error_code eval
[200, 401, 401]
--- no_error_log
k-free-1
wrong-secret-5521
wrong-secret-6632
wrong-secret-7743



=== TEST 18: a wrong key is logged at info, without its value and with the request line cleaned
--- log_level: info
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t?a=1&api_key=wrong-secret-8854
--- error_code: 401
--- error_log
api_led: invalid API key, client: 127.0.0.1, server: localhost, request: "GET /t?a=1 HTTP/1.1"
--- no_error_log
wrong-secret-8854



=== TEST 19: anonymous access: no credential proceeds as the anonymous consumer
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous guest;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/$api_led_auth_method";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["", "X-API-Key: k-free-1"]
--- response_headers eval
["X-Who: guest/free/anonymous", "X-Who: bob/free/key"]



=== TEST 20: anonymous access: a wrong credential is still 401
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous guest;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: not-a-key
--- error_code: 401
--- response_headers
WWW-Authenticate: ApiKey realm="api"
--- response_body_like chomp
"type":"urn:api-led:error:invalid_api_key"



=== TEST 21: consumer variables in a log_format
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    log_format who 'who=$api_led_consumer plan=$api_led_plan method=$api_led_auth_method tenant=$api_led_consumer_meta_tenant';
--- config
    location /t {
        api_led_auth key;
        access_log logs/error.log who;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- error_log
who=acme plan=gold method=key tenant=t-1



=== TEST 22: metadata variables: any case, "_" for "-", non-strings as JSON, unknown empty
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Meta "[$api_led_consumer_meta_tenant] [$api_led_consumer_meta_cost_center] [$api_led_consumer_meta_seats] [$api_led_consumer_meta_nope]";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- response_headers
X-Meta: [t-1] [cc-9] [12] []



=== TEST 23: a consumer without plan: $api_led_plan is empty
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k-noplan
--- response_headers
X-Who: noplan//



=== TEST 24: api_led_consumer_headers: the upstream learns the consumer; spoofed headers go
--- config
    location /t {
        api_led_auth key;
        api_led_consumer_headers on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=[$http_x_consumer_id] plan=[$http_x_consumer_plan] key=[$http_x_api_key] other=[$http_x_other]\n";
    }
--- request
GET /t
--- more_headers
X-Consumer-ID: admin
X-API-Key: k-free-1
X-Consumer-Plan: platinum
X-Other: kept
--- response_body
id=[bob] plan=[free] key=[] other=[kept]



=== TEST 25: api_led_consumer_headers off (default): nothing added
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=[$http_x_consumer_id]\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k-free-1
--- response_body
id=[]



=== TEST 26: inheritance http -> server -> location, and api_led_auth off in a nested location
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_auth key;
    api_led_key_source query:k;
--- config
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;

        location /t/public {
            api_led_auth off;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        }
    }
    location /echo {
        api_led_auth off;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t?k=k-free-1", "GET /t/public", "GET /t/public?k=bad"]
--- error_code eval
[401, 200, 200, 200]



=== TEST 27: server-level settings are inherited by locations and can be replaced
--- config
    api_led_auth key;
    api_led_key_source header:X-Server-Key;
    api_led_auth_anonymous guest;

    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_auth_method";
    }
    location /strict {
        api_led_auth_anonymous off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        api_led_auth off;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /strict"]
--- more_headers eval
["X-Server-Key: k-free-1", "", ""]
--- error_code eval
[200, 200, 401]
--- response_headers eval
["X-Who: bob/key", "X-Who: guest/anonymous", "WWW-Authenticate: ApiKey realm=\"api\""]



=== TEST 28: api_led_auth off: no identity, no challenge
--- config
    location /t {
        api_led_auth off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "[$api_led_consumer]";
    }
    location /echo {
        return 200 "key=[$http_x_api_key]\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- response_body
key=[test]
--- response_headers
X-Who: []



=== TEST 29: "key jwt" without any credential: 401 naming both, both challenges
--- config
    location /t {
        api_led_api orders;
        api_led_auth key jwt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="orders", ApiKey realm="orders"
--- response_body_like chomp
"detail":"the request carries neither an API key nor a bearer token"



=== TEST 30: "key jwt" with an API key authenticates by key
--- config
    location /t {
        api_led_auth key jwt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_auth_method";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k-live-plaintext
--- response_headers
X-Who: acme/key



=== TEST 31: the identity survives an internal redirect and the key check runs once
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fail;
        proxy_intercept_errors on;
        error_page 502 = /fallback;
    }
    location /fallback {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /fail {
        return 502;
    }
    location /echo {
        return 200 "fallback\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- response_body
fallback
--- response_headers
X-Who: acme



=== TEST 32: hiding in a long header list (several list parts), then adding headers
--- config
    location /t {
        api_led_auth key;
        api_led_consumer_headers on;
        add_header X-UA $http_user_agent;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "key=[$http_x_api_key] f1=[$http_x_f1] f19=[$http_x_f19] f22=[$http_x_f22] ua=[$http_user_agent] id=[$http_x_consumer_id] plan=[$http_x_consumer_plan]\n";
    }
--- request
GET /t
--- more_headers eval
CORE::join "", "X-API-Key: k-free-1\n",
              (map { "X-F$_: v$_\n" } 1 .. 20),
              "X-Consumer-ID: spoof\n",
              "X-API-Key: k-free-1\n",
              "X-F22: v22\n",
              "User-Agent: ua-late\n"
--- response_body
key=[] f1=[v1] f19=[v19] f22=[v22] ua=[ua-late] id=[bob] plan=[free]
--- response_headers
X-UA: ua-late



=== TEST 33: "jwt" alone needs no consumers file; no token is 401 missing_credentials
--- http_config
    # no consumers file
--- config
    location /t {
        api_led_auth jwt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: test
--- error_code: 401
--- response_body_like chomp
"type":"urn:api-led:error:missing_credentials".*"detail":"the request carries no bearer token"



=== TEST 34: "key jwt" with anonymous access: no credential proceeds anonymously
--- config
    location /t {
        api_led_auth key jwt;
        api_led_auth_anonymous guest;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/$api_led_auth_method";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
X-Who: guest/free/anonymous



=== TEST 35: an argument name is compared decoded: an escaped second key is ambiguous
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "uri=[$request_uri]\n";
    }
--- request eval
["GET /t?api_key=test&api%5Fkey=k-free-1", "GET /t?api_key=test&API%5fKEY=other",
 "GET /t?api_key=test&%61pi_key=k-free-1"]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
["ambiguous_credentials", "ambiguous_credentials", "ambiguous_credentials"]



=== TEST 36: every spelling of a key argument is hidden from the upstream and the logs
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Vars "[$request] [$request_uri] [$args]";
    }
    location /echo {
        return 200 "uri=[$request_uri]\n";
    }
--- request eval
["GET /t?a=1&api%5Fkey=test&b=2", "GET /t?api_key=test&api%5Fkey=test&Api%5FKey=test&c=3",
 "GET /t?api_ke%79=test"]
--- response_body eval
["uri=[/echo?a=1&b=2]\n", "uri=[/echo?c=3]\n", "uri=[/echo]\n"]
--- response_headers eval
["X-Vars: [GET /t?a=1&b=2 HTTP/1.1] [/t?a=1&b=2] [a=1&b=2]",
 "X-Vars: [GET /t?c=3 HTTP/1.1] [/t?c=3] [c=3]",
 "X-Vars: [GET /t HTTP/1.1] [/t] []"]



=== TEST 37: an escaped name that is another name stays; a bad escape is no name
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "uri=[$request_uri]\n";
    }
--- request
GET /t?api_key=test&api%5Fkey2=x&api%5key=y&api%255Fkey=z
--- response_body
uri=[/echo?api%5Fkey2=x&api%5key=y&api%255Fkey=z]



=== TEST 38: satisfy any lets a request without a valid key in, but never with the client's X-Consumer-ID or X-Consumer-Plan
--- config
    location /t {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        api_led_auth key;
        api_led_consumer_headers on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "id=[$http_x_consumer_id] plan=[$http_x_consumer_plan]\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Consumer-ID: admin\r\nX-Consumer-Plan: gold",
 "X-API-Key: wrong\r\nX-Consumer-ID: admin\r\nX-Consumer-Plan: gold",
 "X-API-Key: k-free-1\r\nX-Consumer-ID: admin\r\nX-Consumer-Plan: gold"]
--- response_body eval
["id=[] plan=[]\n", "id=[] plan=[]\n", "id=[bob] plan=[free]\n"]



=== TEST 39: a query key with a malformed escape is an invalid key, never the key it decodes to
nginx's unescaping drops a "%" without two hex digits after it
("k-free-1%", "k-free-1%4") or the "%" alone ("k%-free-1",
"k-free%4-1"): each became bob's key "k-free-1" and authenticated
(a well-formed escape, "k-%66ree-1", still does: TEST 7).
--- log_level: info
--- config
    location /t {
        api_led_auth key;
        api_led_key_source header:X-API-Key query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer always;
    }
    location /echo {
        return 200 "upstream ok\n";
    }
--- request eval
["GET /t?api_key=k-free-1%",
 "GET /t?api_key=k-free-1%4", "GET /t?api_key=k%-free-1",
 "GET /t?api_key=k-free%4-1", "GET /t?api_key=k-free-1%zz",
 "GET /t?api_key=k-free-1%"]
--- more_headers eval
["", "", "", "", "", "X-API-Key: k-free-1"]
--- error_code eval
[401, 401, 401, 401, 401, 401]
--- response_headers eval
["X-Who:\nContent-Type: application/problem+json",
 "X-Who:\nContent-Type: application/problem+json",
 "X-Who:\nContent-Type: application/problem+json",
 "X-Who:\nContent-Type: application/problem+json",
 "X-Who:\nContent-Type: application/problem+json",
 "X-Who:\nContent-Type: application/problem+json"]
--- response_body_like eval
["invalid_api_key", "invalid_api_key", "invalid_api_key", "invalid_api_key",
 "invalid_api_key", "invalid_api_key"]
--- error_log
api_led: invalid API key
--- no_error_log
k-free
