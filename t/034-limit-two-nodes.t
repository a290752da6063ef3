# Two nginx nodes on one Redis enforce one limit, not one each: the test
# nginx and a second nginx started here with the same limit.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

redis_cli($redis_port, 'del', 'api_led:{t034}:global');

our $Node2 = start_nginx(http => <<"CONF");
    api_led_redis 127.0.0.1:$redis_port;
    server {
        listen 127.0.0.1:\$PORT;
        location /t {
            api_led_rate_limit 5r/m key=t034 name=global;
            proxy_pass http://127.0.0.1:\$PORT/echo;
            add_header X-Node 2 always;
        }
        location /echo {
            return 200 "ok\\n";
        }
    }
CONF
$ENV{TEST_NGINX_NODE2_PORT} = $Node2->{port};

repeat_each(1);
no_shuffle();
run_tests();

stop_nginx($Node2);

__DATA__

=== TEST 1: one global limit across two nodes: 5r/m admits 5 requests in all
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 5r/m key=t034 name=global;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Node 1 always;
    }
    location /node2 {
        proxy_pass http://127.0.0.1:$TEST_NGINX_NODE2_PORT/t;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /node2", "GET /t", "GET /node2", "GET /t", "GET /node2", "GET /t"]
--- error_code eval
[200, 200, 200, 200, 200, 429, 429]
--- response_headers eval
["X-Node: 1\nRateLimit-Remaining: 4",
 "X-Node: 2\nRateLimit-Remaining: 3",
 "X-Node: 1\nRateLimit-Remaining: 2",
 "X-Node: 2\nRateLimit-Remaining: 1",
 "X-Node: 1\nRateLimit-Remaining: 0",
 "X-Node: 2\nRetry-After: 12",
 "X-Node: 1\nRetry-After: 12"]
