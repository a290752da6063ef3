# The policies over HTTP/2 (plain text, prior knowledge: curl
# --http2-prior-knowledge under both runners): correlation id, API keys,
# JWT, a Redis rate limit, request and response JSON, a composition.
# Every block checks $server_protocol, so that it cannot pass over HTTP/1.
#
# The test port speaks HTTP/2 only: upstreams are a second server on a
# unix socket (HTTP/1.0 from nginx's proxy).
use lib 't/lib';
use FindBin;
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis ();
use ApiLed::Http2;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

# a Redis that answers every script call after 1 s (t/lib/ApiLed/Redis.pm)
our $Slow = ApiLed::Redis::start_fake_redis(delay => 1);
$ENV{TEST_NGINX_SLOW_REDIS_PORT} = $Slow->{port};

# the shared Redis of the run: our keys are unique to this file
ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT}, 'eval',
    "for _, k in ipairs(redis.call('KEYS', 'api_led:{t004-*')) do "
    . "redis.call('DEL', k) end", 0);

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s"]}},
 "consumers": [{"id": "acme", "plan": "gold", "keys": ["k-h2-live"]}]}
JSON

# large bodies: more than the 64 KB an HTTP/2 stream may send before the
# peer opens its window, more than nginx's body buffer
our $BigIn = '{"items":[' . join(",", map { qq({"sku":"s$_","qty":$_,"secret":"x$_"}) } 1 .. 2500) . ']}';
our $BigInOut = '{"items":[' . join(",", map { qq({"sku":"s$_","qty":$_}) } 1 .. 2500) . '],"n":"big"}';
our $BigUp = '{"items":[' . join(",", map { qq({"sku":"s$_","cost":$_}) } 1 .. 5000) . ']}';
our $BigUpOut = '{"items":[' . join(",", map { qq({"sku":"s$_"}) } 1 .. 5000) . ']}';

our $Jwt = ::jwt(alg => 'HS256', kid => 'hs-1',
                 claims => { sub => 'h2-user', exp => time + 3600 });

# the upstreams: what they received, as JSON where the policy needs it
our $Up = <<'_EOC_';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/up.sock;
        default_type application/json;
        client_body_buffer_size 1m;
        client_max_body_size 10m;
        large_client_header_buffers 4 1m;

        location /echo {
            return 200 "up $server_protocol cid=$http_x_correlation_id key=[$http_x_api_key] auth=[$http_authorization] sub=[$http_x_sub]\n";
        }
        location /user {
            return 200 '{"id":7,"name":"Ada","password":"x","items":[{"sku":"a","cost":1},{"sku":"b","cost":2}]}';
        }
        location /customers/ {
            return 200 '{"id":"c-42","name":"Ada"}';
        }
        location /orders {
            return 200 '{"customer":"$arg_customer","count":2}';
        }
        location /big.json {
            root $TEST_NGINX_HTML_DIR;
        }
        location /body {
            client_body_in_single_buffer on;
            proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/body-ret;
            proxy_pass_request_body off;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
            proxy_set_header X-M $request_method;
            proxy_set_header X-CL $http_content_length;
            proxy_set_header X-TE $http_transfer_encoding;
            proxy_set_header X-CT $http_content_type;
            proxy_set_header X-Body $request_body;
        }
        location /body-ret {
            return 200 "$http_x_m cl=$http_x_cl te=$http_x_te ct=$http_x_ct\n$http_x_body\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', ($block->http_config // '') . $::Up);

    if (!defined $block->user_files) {
        $block->set_value('user_files', ">>> consumers.json\n$::Consumers");
    }
});

# "listen PORT http2" on nginx 1.19.9 to 1.25.0 (see ApiLed/Http2.pm)
http2_listen_fix();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an API location over HTTP/2: a valid correlation id is kept and forwarded, a missing one is made
--- http2
--- config
    location /t {
        api_led_api orders layer=experience;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Protocol $server_protocol always;
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-Correlation-ID: h2.abc_123-x", ""]
--- response_headers_like eval
["X-Protocol: HTTP/2\\.0\nX-Correlation-ID: h2\\.abc_123-x",
 "X-Protocol: HTTP/2\\.0\nX-Correlation-ID: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"]
--- response_body_like eval
["^up HTTP/1\\.0 cid=h2\\.abc_123-x key",
 "^up HTTP/1\\.0 cid=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} key"]
--- no_error_log
[error]



=== TEST 2: API keys over HTTP/2: 401 problem+json without a key, 200 with one (the key is not forwarded)
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- http2
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_auth key;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan/$api_led_auth_method";
        add_header X-Protocol $server_protocol always;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Correlation-ID: cid-h2-401",
 "X-Correlation-ID: cid-h2-bad\nX-API-Key: k-unknown",
 "X-Correlation-ID: cid-h2-200\nX-API-Key: k-h2-live"]
--- error_code eval
[401, 401, 200]
--- response_headers eval
["WWW-Authenticate: ApiKey realm=\"orders\"\nContent-Type: application/problem+json\nX-Protocol: HTTP/2.0",
 "WWW-Authenticate: ApiKey realm=\"orders\"\nContent-Type: application/problem+json\nX-Protocol: HTTP/2.0",
 "X-Who: acme/gold/key\nX-Protocol: HTTP/2.0\nWWW-Authenticate:"]
--- response_body eval
[qq({"type":"urn:api-led:error:missing_credentials","title":"Missing credentials","status":401,"detail":"the request carries no API key","correlation_id":"cid-h2-401"}\n),
 qq({"type":"urn:api-led:error:invalid_api_key","title":"Invalid API key","status":401,"detail":"the API key is not valid","correlation_id":"cid-h2-bad"}\n),
 "up HTTP/1.0 cid=cid-h2-200 key=[] auth=[] sub=[]\n"]
--- no_error_log
[error]



=== TEST 3: a JWT (HS256) over HTTP/2: valid, tampered, missing; from a cookie sent in two cookie fields
--- http2
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_set_header X-Sub $api_led_jwt_claim_sub;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Protocol $server_protocol always;
    }
    location /c {
        api_led_api orders layer=experience;
        api_led_auth jwt;
        api_led_jwt_source cookie:tok;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_set_header X-Sub $api_led_jwt_claim_sub;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Protocol $server_protocol always;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /c"]
--- more_headers eval
["Authorization: Bearer $::Jwt",
 "Authorization: Bearer " . ::jwt_tamper($::Jwt),
 "",
 "Cookie: a=1\nCookie: tok=$::Jwt"]
--- error_code eval
[200, 401, 401, 200]
--- response_headers eval
["X-Protocol: HTTP/2.0\nWWW-Authenticate:",
 "WWW-Authenticate: Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"the token signature is invalid\"\nContent-Type: application/problem+json\nX-Protocol: HTTP/2.0",
 "WWW-Authenticate: Bearer realm=\"orders\"\nContent-Type: application/problem+json\nX-Protocol: HTTP/2.0",
 "X-Protocol: HTTP/2.0\nWWW-Authenticate:"]
--- response_body_like eval
["^up HTTP/1\\.0 cid=[^ ]+ key=\\[\\] auth=\\[\\] sub=\\[h2-user\\]\$",
 '^\{"type":"urn:api-led:error:invalid_token",.*"status":401,"detail":"the token signature is invalid"',
 '^\{"type":"urn:api-led:error:missing_credentials",.*"status":401,',
 "^up HTTP/1\\.0 cid=[^ ]+ key=\\[\\] auth=\\[\\] sub=\\[h2-user\\]\$"]
--- no_error_log
[error]



=== TEST 4: a Redis rate limit over HTTP/2: RateLimit headers, 429 problem+json after the limit
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- http2
--- config
    location /t {
        api_led_rate_limit 3r/m key=t004-4;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Protocol $server_protocol always;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 2\nRateLimit-Reset: 20\nRetry-After:\nX-Protocol: HTTP/2.0",
 "RateLimit-Remaining: 1\nRateLimit-Reset: 40\nX-Protocol: HTTP/2.0",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 60\nX-Protocol: HTTP/2.0",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRateLimit-Reset: 60\nRetry-After: 20\nContent-Type: application/problem+json\nX-Protocol: HTTP/2.0"]
--- response_body_like eval
["^up HTTP/1\\.0 ", "^up HTTP/1\\.0 ", "^up HTTP/1\\.0 ",
 qr/^\{"type":"urn:api-led:error:rate_limited","title":"Too many requests","status":429,"detail":"too many requests, retry in 20 s","correlation_id":"[^"]+"\}$/]
--- no_error_log eval
# the 429s are logged at error (api_led_rate_limit_log_level)
[qr/\[error\](?!.* api_led: limiting requests, limit )/]



=== TEST 5: request JSON over HTTP/2: a POST body is transformed; the upstream gets the new body and its length
--- http2
--- config
    location /t {
        api_led_request_json set /user/name Ada;
        api_led_request_json remove /secret;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/body;
        add_header X-Protocol $server_protocol always;
    }
--- request
POST /t
{"a":1,"secret":"s","user":{"id":7}}
--- more_headers
Content-Type: application/json
--- response_headers
X-Protocol: HTTP/2.0
--- response_body
POST cl=36 te= ct=application/json
{"a":1,"user":{"id":7,"name":"Ada"}}
--- no_error_log
[error]



=== TEST 6: request JSON over HTTP/2: a POST body without Content-Length (DATA frames to the end of the stream)
--- http2
--- config
    location /t {
        api_led_request_json set /user/name Ada;
        api_led_request_json remove /secret;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/body;
        add_header X-Protocol $server_protocol always;
    }
--- request
POST /t
{"a":1,"secret":"s","user":{"id":7}}
--- more_headers
Content-Type: application/json
Content-Length:
--- response_headers
X-Protocol: HTTP/2.0
--- response_body
POST cl=36 te= ct=application/json
{"a":1,"user":{"id":7,"name":"Ada"}}
--- no_error_log
[error]



=== TEST 7: response JSON over HTTP/2: the body is reshaped, Content-Length is the new one
--- http2
--- config
    location /t {
        api_led_response_json remove /password;
        api_led_response_json rename /name /profile/name;
        api_led_response_json remove /items/*/cost;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
        add_header X-Protocol $server_protocol always;
    }
--- request
GET /t
--- response_body chomp
{"id":7,"items":[{"sku":"a"},{"sku":"b"}],"profile":{"name":"Ada"}}
--- response_headers
Content-Length: 67
Content-Type: application/json
X-Protocol: HTTP/2.0
--- no_error_log
[error]



=== TEST 8: a composition of two parts over HTTP/2, the second after the first
--- http2
--- config
    location /t {
        api_led_api customer-360 layer=experience;
        api_led_compose {
            customer /sys/customers/c-1;
            orders   "/sys/orders?customer={customer/id}";
        }
        add_header X-Compose $api_led_compose_status;
        add_header X-Protocol $server_protocol always;
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/;
    }
--- request
GET /t
--- response_body
{"customer":{"id":"c-42","name":"Ada"},"orders":{"customer":"c-42","count":2}}
--- response_headers
Content-Type: application/json
X-Compose: customer:200,orders:200
X-Protocol: HTTP/2.0
--- no_error_log
[error]



=== TEST 9: request JSON over HTTP/2: a large POST body (flow control, a temporary file), with and without Content-Length
--- http2
--- config
    location /t {
        api_led_request_json remove /items/*/secret;
        api_led_request_json set /n big;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/body;
        add_header X-Protocol $server_protocol always;
    }
--- request eval
["POST /t\n$::BigIn", "POST /t\n$::BigIn"]
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json\nContent-Length:"]
--- response_headers eval
["X-Protocol: HTTP/2.0", "X-Protocol: HTTP/2.0"]
--- response_body eval
["POST cl=" . length($::BigInOut) . " te= ct=application/json\n$::BigInOut\n",
 "POST cl=" . length($::BigInOut) . " te= ct=application/json\n$::BigInOut\n"]
--- no_error_log
[error]



=== TEST 10: response JSON over HTTP/2: a large body (more than the stream's send window) is reshaped
--- http2
--- user_files eval
[["big.json", $::BigUp]]
--- config
    location /t {
        api_led_response_json remove /items/*/cost;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/big.json;
        add_header X-Protocol $server_protocol always;
    }
--- request
GET /t
--- response_body eval
$::BigUpOut
--- response_headers eval
"Content-Length: " . length($::BigUpOut) . "\nX-Protocol: HTTP/2.0"
--- no_error_log
[error]



=== TEST 11: a Redis rate limit over 8 concurrent streams of one connection: each stream counted once
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- http2
--- config
    location /t {
        api_led_rate_limit 4r/m key=t004-11;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Protocol $server_protocol always;
    }
--- init
# h2load (nghttp2-client): one connection, 8 streams at once (curl 7.88's
# --parallel does not multiplex over --http2-prior-knowledge)
my @cmd = ('h2load', '-n', '8', '-c', '1', '-m', '8', '-T', '10',
           'http://127.0.0.1:' . ApiLed::Redis::nginx_port() . '/t');
my $out = -x '/usr/bin/h2load' ? `@cmd 2>&1` : 'h2load is missing: demo/deps installs nghttp2-client';
my ($done) = $out =~ /^(requests: .*)$/m;
my ($codes) = $out =~ /^status codes: (.*)$/m;
Test::More::is($done, 'requests: 8 total, 8 started, 8 done, 4 succeeded, 4 failed, 0 errored, 0 timeout',
               'TEST 11: 8 streams on one connection answered') or Test::More::diag($out);
Test::More::is($codes, '4 2xx, 0 3xx, 4 4xx, 0 5xx', 'TEST 11: 4 admitted');
--- request
GET /t
--- error_code: 429
--- response_headers
RateLimit-Limit: 4
RateLimit-Remaining: 0
X-Protocol: HTTP/2.0
--- no_error_log eval
# the 429s are logged at error (api_led_rate_limit_log_level)
[qr/\[error\](?!.* api_led: limiting requests, limit )/]



=== TEST 12: an HTTP/2 client that goes away while its stream waits for Redis; the connection after it
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=3s;
--- http2
--- config
    location /t {
        api_led_rate_limit 10r/s key=t004-12 on_error=closed;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/echo;
        add_header X-Store $api_led_rate_limit_store always;
        add_header X-Protocol $server_protocol always;
    }
--- init
# the slow Redis answers after 1 s; this client gives up after 0.2 s
my $url = 'http://127.0.0.1:' . ApiLed::Redis::nginx_port() . '/t';
system('curl', '-s', '-o', '/dev/null', '--http2-prior-knowledge',
       '--max-time', '0.2', $url);
Test::More::is($? >> 8, 28, 'TEST 12: the first client timed out');
--- request
GET /t
--- response_headers
X-Store: redis
X-Protocol: HTTP/2.0
--- response_body_like chomp
^up HTTP/1\.0 cid=
--- timeout: 4
--- error_log
api_led limit: request gone while waiting for redis
api_led limit: a reply for a request gone
--- no_error_log
[alert]
[error]
