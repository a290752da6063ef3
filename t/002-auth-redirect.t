# Internal redirects: the new location's authentication applies to a request
# that got in without a credential; an identity proven by a key holds.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", <<'FILES');
>>> consumers.json
{"plans": {"free": {"limits": ["100r/s"]}},
 "consumers": [{"id": "acme", "plan": "free", "keys": ["k-acme"]},
               {"id": "guest", "plan": "free"}]}
FILES

    $block->set_value("http_config",
        "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n");
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: try_files from an open location into a protected one needs a key
--- config
    location /open {
        api_led_auth off;
        try_files /nonexistent /secure;
    }
    location /secure {
        api_led_api secure-api;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "secret\n";
    }
--- request
GET /open
--- error_code: 401
--- response_headers
Content-Type: application/problem+json
WWW-Authenticate: ApiKey realm="secure-api"
--- response_body_like chomp
"type":"urn:api-led:error:missing_credentials"



=== TEST 2: the same with a key gets through as its consumer
--- config
    location /open {
        api_led_auth off;
        try_files /nonexistent /secure;
    }
    location /secure {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /echo {
        return 200 "secret\n";
    }
--- request
GET /open
--- more_headers
X-API-Key: k-acme
--- response_body
secret
--- response_headers
X-Who: acme



=== TEST 3: an anonymous request redirected into a key-only location is refused
--- config
    location /public {
        api_led_auth key;
        api_led_auth_anonymous guest;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fail;
        proxy_intercept_errors on;
        error_page 502 = /members;
    }
    location /members {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /fail {
        return 502;
    }
    location /echo {
        return 200 "members only\n";
    }
--- request
GET /public
--- error_code: 401
--- response_body_like chomp
"title":"Missing credentials"



=== TEST 4: a key proven before the redirect (and hidden) still holds after it
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
        return 200 "fallback saw key=[$http_x_api_key]\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k-acme
--- response_body
fallback saw key=[]
--- response_headers
X-Who: acme
