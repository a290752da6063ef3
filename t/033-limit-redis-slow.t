# A Redis that answers later than "timeout", and a client that goes away
# while its request waits for Redis.  A fake Redis (t/lib/ApiLed/Redis.pm)
# answers the handshake at once and every script call late.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use Time::HiRes qw(time);

our $Slow = start_fake_redis(delay => 1);
$ENV{TEST_NGINX_SLOW_REDIS_PORT} = $Slow->{port};

# accepts TCP connections (the kernel does) but never answers
our $Mute = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1:0')
    or die "listen: $!";
$ENV{TEST_NGINX_MUTE_REDIS_PORT} = $Mute->sockport;

# under valgrind nginx is many times slower: timings are not checked there
our $V = $ENV{TEST_NGINX_USE_VALGRIND};
our $Fast = $V ? '^\d+\.\d+$' : '^0\.0\d\d$';      # did not wait
# waited the timeout: $request_time is read from the wall clock and timers
# fire on the monotonic one, so it may show a millisecond less (0.199)
our $Waited = $V ? '^\d+\.\d+$' : '^0\.(?:19\d|[2-5]\d\d)$';
our $TO = $V ? 20 : 1;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a reply later than timeout: on_error=closed answers 503 after the timeout
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=200ms;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-1 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 503
--- response_headers_like eval
"X-Time: $::Waited\nRetry-After: ^1\$"
--- error_log
redis unavailable: timed out waiting for a reply
--- timeout eval: $::TO



=== TEST 2: after a timeout the circuit is open: the next requests do not wait
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=200ms;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-2 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $t0 = Time::HiRes::time();
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($st, 503, 'TEST 2: the first request waited for the timeout');
Test::More::cmp_ok(Time::HiRes::time() - $t0, '>=', 0.19,
                   'TEST 2: ... the whole timeout');
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[503, 503]
--- response_headers_like eval
["X-Time: $::Fast", "X-Time: $::Fast"]



=== TEST 3: a reply later than timeout: on_error=open lets the request through
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=200ms;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-3 on_error=open;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- response_headers_like eval
"X-Time: $::Waited\nX-Store: ^none\$"
--- timeout eval: $::TO



=== TEST 4: a client that disconnects while its request waits: the late reply finds nobody
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=3s;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-4 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- timeout: 300ms
--- abort
--- ignore_response
--- wait: 1.2
--- error_log
client prematurely closed connection
api_led limit: request gone while waiting for redis
api_led limit: a reply for a request gone
--- no_error_log
[alert]
[error]



=== TEST 5: the connection still works after an abandoned request
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_REDIS_PORT timeout=3s;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-5 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $s = IO::Socket::INET->new(
    PeerAddr => '127.0.0.1:' . ApiLed::Redis::nginx_port());
print $s "GET /t HTTP/1.0\r\nHost: x\r\n\r\n";
Time::HiRes::sleep(0.1);
close $s;
--- request
GET /t
--- response_body
ok
--- response_headers
X-Store: redis
--- timeout: 4



=== TEST 6: a Redis that never answers the handshake: a request waits at most its timeout
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_MUTE_REDIS_PORT connect_timeout=10s timeout=200ms;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t033-6 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- error_code: 503
--- response_headers_like eval
"X-Time: $::Waited"
--- error_log
redis unavailable: timed out waiting for a reply
--- timeout eval: $::TO
