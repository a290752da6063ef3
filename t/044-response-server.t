# api_led_response_header and the headers nginx adds itself (issue 16):
# Server and Date are written by nginx's header filter unless the response
# has its own, so "remove Server" must leave a removed one in its place, and
# "set Server" must not end up beside nginx's own.
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: remove Server: nginx's own Server header is not sent
--- config
    location /t {
        api_led_response_header remove Server;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- raw_response_headers_unlike eval
qr/^server:/im



=== TEST 2: remove Server also removes a Server passed from the upstream
--- config
    location /t {
        api_led_response_header remove Server;
        proxy_pass_header Server;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- raw_response_headers_unlike eval
qr/^server:/im



=== TEST 3: set Server: one Server header, the one set
--- config
    location /t {
        api_led_response_header set Server gateway;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- raw_response_headers_like eval
qr/\A(?!.*^server: nginx).*^server: gateway\r$/ims



=== TEST 4: remove Date: nginx's own Date header is not sent
--- config
    location /t {
        api_led_response_header remove Date;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- raw_response_headers_unlike eval
qr/^date:/im



=== TEST 5: other locations keep nginx's Server header
--- config
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like
Server: nginx.*
