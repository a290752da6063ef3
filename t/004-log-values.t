# Values from a request in error-log lines (issue 16): control characters,
# quotes, backslashes and bytes above 0x7f are written as \xNN, so that a
# client can neither start a log line of its own nor pass for another field.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

no warnings 'once';

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

# a kid (from the unverified token header) with a line of its own in it
our $EVIL_KID = ::jwt(alg => 'RS256', key => 'rsa',
                      kid => "k\"\n2026/01/01 00:00:00 [emerg] 1#1: FORGED \xc3\xa9\\",
                      claims => { sub => 'a', exp => time + 3600 });

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the kid of a refused token is escaped in the log line
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::EVIL_KID"
--- error_code: 401
--- error_log eval
qr{api_led: JWT rejected: the token kid is unknown \(alg RS256, kid "k\\x22\\x0A2026/01/01 00:00:00 \[emerg\] 1#1: FORGED \\xC3\\xA9\\x5C"\)}
--- no_error_log eval
qr/^2026\/01\/01 00:00:00 \[emerg\] 1#1: FORGED/



=== TEST 2: a request value that is not of the declared type is escaped in the log line
--- config
    location /t {
        api_led_request_json set /n number:$http_x_n;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
POST /t
{}
--- more_headers eval
"X-N: 1\"x\x1b[31m\\"
--- response_body
ok
--- error_log eval
qr/api_led: value "1\\x22x\\x1B\[31m\\x5C" is not a valid number, null used/



=== TEST 3: a value of a fetched key set is escaped in the log line
--- user_files
>>> jwks.json
{"keys": [{"kty": "x\"\n2026/01/01 00:00:00 [emerg] 1#1: FORGED"}, {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys_uri /jwks;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/idp/jwks.json;
    }
    location /idp/ {
        alias html/;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers eval
"Authorization: Bearer $::EVIL_KID"
--- error_code: 401
--- error_log eval
qr{api_led: JWK 1 ignored: unsupported "kty" "x\\x22\\x0A2026/01/01 00:00:00 \[emerg\] 1#1: FORGED"}
--- no_error_log eval
qr/^2026\/01\/01 00:00:00 \[emerg\] 1#1: FORGED/
