# Raw request lines: HTTP/0.9 and 1.0 requests in locations that edit
# request headers (nginx 1.22 leaves an HTTP/0.9 request's header list
# uninitialised; pushing onto it crashed the worker).
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: HTTP/0.9 in an API location: the correlation id goes upstream
--- config
    location /t {
        api_led_api orders layer=experience;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cid=$http_x_correlation_id\n";
    }
--- raw_request eval
"GET /t\r\n"
--- http09
--- response_body_like: ^cid=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$
--- no_error_log
[alert]



=== TEST 2: HTTP/0.9 with request header operations
--- config
    location /t {
        api_led_request_header set X-Added yes;
        api_led_request_header add X-More two;
        api_led_request_header remove X-None;
        api_led_request_header rename X-Added X-Renamed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "renamed=$http_x_renamed more=$http_x_more\n";
    }
--- raw_request eval
"GET /t\r\n"
--- http09
--- response_body
renamed=yes more=two
--- no_error_log
[alert]



=== TEST 3: HTTP/0.9 with JSON operations
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_request_json set /a 1;
        api_led_response_json set /b number:2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        default_type application/json;
        return 200 '{"x":1}';
    }
--- raw_request eval
"GET /t\r\n"
--- http09
--- response_body chomp
{"x":1,"b":2}
--- no_error_log
[alert]



=== TEST 4: HTTP/1.0 without a Host header in an API location
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_request_header set X-Added yes;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "added=$http_x_added\n";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\n\r\n"
--- response_body
added=yes
--- response_headers_like
X-Correlation-ID: ^[0-9a-f-]{36}$
--- no_error_log
[alert]
