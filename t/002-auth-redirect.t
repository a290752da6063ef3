# Internal redirects: the new location's authentication applies to a request
# that got in without a credential; an identity proven by a key holds where
# keys are taken; a token proven before meets the new location's rules.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# tokens of alice: one that may read, one that may also administer
our $Read = ::jwt(alg => 'HS256', kid => 'hs-1',
                  claims => { sub => 'alice', scope => 'read',
                              exp => time + 3600 });
our $Admin = ::jwt(alg => 'HS256', kid => 'hs-1',
                   claims => { sub => 'alice', scope => 'read admin',
                               exp => time + 3600 });

# /read falls back to /admin (error_page), which asks for more
our $Scopes = <<'_EOC_';
    location /read {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_require scope read;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fail;
        proxy_intercept_errors on;
        error_page 502 = /admin;
    }
    location /admin {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_require scope admin;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /members {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /fail {
        return 502;
    }
    location /echo {
        return 200 "admin\n";
    }
_EOC_

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



=== TEST 5: a token proven before an error_page redirect meets the new location's rules: without its scope, 403
--- config eval: $::Scopes
--- request
GET /read
--- more_headers eval
"Authorization: Bearer $::Read"
--- error_code: 403
--- response_body_like chomp
"type":"urn:api-led:error:insufficient_scope"



=== TEST 6: the same with the scope gets through, as the token's subject
--- config eval: $::Scopes
--- request
GET /read
--- more_headers eval
"Authorization: Bearer $::Admin"
--- response_body
admin
--- response_headers
X-Who: alice



=== TEST 7: a token proven before a redirect into a key-only location is no API key: 401
--- config eval
my $c = $::Scopes;
$c =~ s{error_page 502 = /admin;}{error_page 502 = /members;};
$c
--- request
GET /read
--- more_headers eval
"Authorization: Bearer $::Admin"
--- error_code: 401
--- response_body_like chomp
"type":"urn:api-led:error:missing_credentials"
