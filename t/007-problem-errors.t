# nginx's own errors in API locations answer application/problem+json with
# the correlation id (api_led_problem_errors, on by default): a 403 from
# deny or limit_except, a 404, a 405, a 413, a 502 and a 504 from the
# proxy.  An error_page of the user wins; outside API locations, and with
# "api_led_problem_errors off", nginx's own page stays.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;

# a port that accepts connections and never answers: the proxy times out
our $Silent = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1:0')
    or die "listen: $!";
$ENV{TEST_NGINX_SILENT_PORT} = $Silent->sockport;

# a port nobody listens on: the proxy cannot connect
my $closed = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0')
    or die "listen: $!";
$ENV{TEST_NGINX_CLOSED_PORT} = $closed->sockport;
close $closed;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the problem of a status: type, title, status, no detail, correlation id
sub problem {
    my ($code, $title, $status, $cid) = @_;
    $cid //= '[0-9a-f-]{36}';
    return qr/^\{"type":"urn:api-led:error:$code","title":"$title","status":$status,"correlation_id":"$cid"\}$/;
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: deny in an API location: 403 problem, the correlation id in body and header
--- config
    location /t {
        api_led_api orders;
        deny all;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: t007-deny-1
--- error_code: 403
--- response_headers
Content-Type: application/problem+json
X-Correlation-ID: t007-deny-1
--- response_body_like eval
::problem('forbidden', 'Forbidden', 403, 't007-deny-1')



=== TEST 2: limit_except: 403 problem
--- config
    location /t {
        api_led_api orders;
        limit_except GET {
            deny all;
        }
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "DELETE /t"]
--- error_code eval
[200, 403]
--- response_body_like eval
["ok", ::problem('forbidden', 'Forbidden', 403)]



=== TEST 3: a file that is not there: 404 problem
--- config
    location /t/ {
        api_led_api files;
        root $TEST_NGINX_HTML_DIR;
    }
--- request
GET /t/nothing.json
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
::problem('not_found', 'Not found', 404)



=== TEST 4: POST to a static file: 405 problem
--- user_files
>>> t/data.json
{"a":1}
--- config
    location /t/ {
        api_led_api files;
        root $TEST_NGINX_HTML_DIR;
    }
--- request
POST /t/data.json
{"b":2}
--- error_code: 405
--- response_body_like eval
::problem('method_not_allowed', 'Method not allowed', 405)



=== TEST 5: a body over client_max_body_size: 413 problem
--- config
    location /t {
        api_led_api orders;
        client_max_body_size 8;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
POST /t
{"a":"0123456789"}
--- error_code: 413
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
::problem('body_too_large', 'Request body too large', 413)



=== TEST 6: the proxy cannot connect: 502 problem
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    }
--- request
GET /t
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
::problem('upstream_failed', 'Upstream failed', 502)
--- error_log
connect() failed



=== TEST 7: the proxy times out: 504 problem
--- config
    location /t {
        api_led_api orders;
        proxy_read_timeout 200ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SILENT_PORT;
    }
--- request
GET /t
--- error_code: 504
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
::problem('upstream_timeout', 'Upstream timeout', 504)
--- error_log
upstream timed out



=== TEST 8: an upstream's own error goes through as it is
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/upstream;
    }
    location /upstream {
        default_type text/plain;
        return 404 "the upstream's own 404\n";
    }
--- request
GET /t
--- error_code: 404
--- response_headers
Content-Type: text/plain
--- response_body
the upstream's own 404



=== TEST 9: api_led_problem_errors off: nginx's own page
--- config
    location /t {
        api_led_api orders;
        api_led_problem_errors off;
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- response_headers
Content-Type: text/html
--- response_body_like chomp
<center><h1>403 Forbidden</h1></center>



=== TEST 10: a location that is no API: nginx's own page
--- config
    location /t {
        deny all;
    }
--- request
GET /t
--- error_code: 403
--- response_headers
Content-Type: text/html
--- response_body_like chomp
<center><h1>403 Forbidden</h1></center>



=== TEST 11: the user's error_page wins, in the location
--- config
    location /t {
        api_led_api orders;
        deny all;
        error_page 403 /forbidden.json;
    }
    location = /forbidden.json {
        internal;
        default_type application/json;
        return 200 '{"mine":$status}';
    }
--- request
GET /t
--- error_code: 403
--- response_headers
Content-Type: application/json
--- response_body chomp
{"mine":403}



=== TEST 12: the user's error_page wins, to a named location
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOSED_PORT;
        error_page 502 = @fallback;
    }
    location @fallback {
        return 200 "fallback\n";
    }
--- request
GET /t
--- error_code: 200
--- response_body
fallback



=== TEST 13: the user's error_page wins when its location has error_pages of its own
--- config
    error_page 500 502 503 504 /50x.html;

    location /t/ {
        api_led_api files;
        root $TEST_NGINX_HTML_DIR;
        error_page 404 /missing.txt;
    }
    location = /missing.txt {
        api_led_api errors;
        default_type text/plain;
        return 200 "no such file\n";
    }
--- request
GET /t/nothing.json
--- error_code: 404
--- response_headers
Content-Type: text/plain
--- response_body
no such file



=== TEST 14: an error_page for another status does not stop the problem
--- config
    location /t/ {
        api_led_api files;
        root $TEST_NGINX_HTML_DIR;
        error_page 500 /oops;
    }
--- request
GET /t/nothing.json
--- error_code: 404
--- response_body_like eval
::problem('not_found', 'Not found', 404)



=== TEST 15: the problem of a HEAD request: its headers, no body
--- config
    location /t {
        api_led_api orders;
        deny all;
    }
--- request
HEAD /t
--- error_code: 403
--- response_headers
Content-Type: application/problem+json
--- response_body



=== TEST 16: auth_basic in an API location: 401 problem, its challenge kept
--- user_files
>>> htpasswd
u:{PLAIN}p
--- config
    location /t {
        api_led_api orders;
        auth_basic "area";
        auth_basic_user_file $TEST_NGINX_HTML_DIR/htpasswd;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Basic realm="area"
Content-Type: application/problem+json
--- response_body_like eval
::problem('unauthorized', 'Unauthorized', 401)



=== TEST 17: a bad request line to a server that is an API: 400 problem
--- config
    api_led_api orders;

    location /t {
        return 200 "ok\n";
    }
--- raw_request eval
"GARBAGE\r\n\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
::problem('bad_request', 'Bad request', 400)
--- no_error_log
[alert]



=== TEST 18: a duplicate Host header to a server that is an API: 400 problem
--- config
    api_led_api orders;

    location /t {
        return 200 "ok\n";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body_like eval
::problem('bad_request', 'Bad request', 400)
--- no_error_log
[alert]
