use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Http2;

http2_listen_fix();
repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: smoke
--- http2
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "up $server_protocol $http_x_correlation_id\n"; }
    }
--- config
    location /t {
        api_led_api orders layer=experience;
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        add_header X-Protocol $server_protocol;
    }
--- request
POST /t
hello
--- more_headers
X-Correlation-ID: abc-1
--- response_headers
X-Protocol: HTTP/2.0
X-Correlation-ID: abc-1
--- response_body
up HTTP/1.0 abc-1
