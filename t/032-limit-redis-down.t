# Redis unavailable: on_error=closed|open|local with Redis stopped (answers
# at once, no waiting), recovery without reload, AUTH and SELECT, a wrong
# password, a unix socket.  The file runs its own redis-servers.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use Time::HiRes qw(time);

our $R = start_redis();
our $A = start_redis(args => ['--requirepass', 's3cret-pw'],
                    password => 's3cret-pw');
our $U;
{
    my $sock = "/tmp/api-led-t032-$$.sock";
    $U = start_redis(args => ['--unixsocket', $sock, '--unixsocketperm', '700']);
    $ENV{TEST_NGINX_REDIS_SOCK} = $sock;
}

$ENV{TEST_NGINX_OWN_REDIS_PORT} = $R->{port};
$ENV{TEST_NGINX_AUTH_REDIS_PORT} = $A->{port};
$ENV{TEST_NGINX_DEAD_PORT} = free_port();

sub redis_up {
    $R = start_redis(port => $R->{port}) unless $R->{pid};
}

sub redis_down {
    stop_redis($R);
}

# requests until the gateway admits one through Redis again
sub wait_healthy {
    return wait_until(sub { (http_get(nginx_port(), '/probe'))[0] == 200 }, 8);
}

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config && !defined $block->must_die) {
        $block->set_value('http_config', <<'CONF');
    api_led_redis 127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT timeout=300ms;
CONF
    }
    if (defined $block->config) {
        $block->set_value('config', $block->config . <<'CONF');
    location /probe {
        api_led_rate_limit 1000r/s key=probe on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
CONF
    }
});

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

=== TEST 1: on_error=closed: 503 rate_limit_unavailable with Retry-After, at once
--- config
    location /t {
        api_led_rate_limit 10r/s key=t032-1 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- init
main::wait_healthy();
main::redis_down();
my $t0 = Time::HiRes::time();
my @st = map { (ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t'))[0] }
         1 .. 5;
Test::More::is("@st", "503 503 503 503 503", 'TEST 1: five requests refused');
Test::More::cmp_ok(Time::HiRes::time() - $t0, '<', $main::TO,
                   'TEST 1: none waited for the timeout');
--- request
GET /t
--- error_code: 503
--- response_headers_like eval
"Retry-After: ^[12]\$
Content-Type: application/problem\\+json
X-Time: $::Fast"
--- response_headers
!RateLimit-Limit
--- response_body_like chomp
^\{"type":"urn:api-led:error:rate_limit_unavailable","title":"Rate limit unavailable","status":503,
--- timeout eval: $::TO



=== TEST 2: on_error=open lets requests through, with one warning per outage
--- config
    location /t {
        api_led_rate_limit 1r/m key=t032-2 on_error=open;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store;
    }
--- init
main::redis_up();
main::wait_healthy();
main::redis_down();
my @st = map { (ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t'))[0] }
         1 .. 4;
Test::More::is("@st", "200 200 200 200", 'TEST 2: all let through');
--- request
GET /t
--- response_body
ok
--- response_headers
X-Store: none
!RateLimit-Limit
--- grep_error_log eval
qr/redis unavailable, rate limits are not enforced \(on_error=open\)/
--- grep_error_log_out
redis unavailable, rate limits are not enforced (on_error=open)
--- timeout eval: $::TO



=== TEST 3: on_error=local counts on this node while Redis is away
--- config
    location /t {
        api_led_rate_limit 3r/m key=t032-3 on_error=local;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
--- init
main::redis_up();
main::wait_healthy();
main::redis_down();
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-Store: local\nRateLimit-Limit: 3\nRateLimit-Remaining: 2",
 "X-Store: local\nRateLimit-Remaining: 1",
 "X-Store: local\nRateLimit-Remaining: 0",
 "X-Store: local\nRetry-After: 20"]
--- timeout eval: $::TO



=== TEST 4: the default on_error is local
--- config
    location /t {
        api_led_rate_limit 1r/m key=t032-4;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
--- init
main::redis_down();
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["X-Store: local", "X-Store: local"]



=== TEST 5: limits with different policies: closed wins over open
--- config
    location /t {
        api_led_rate_limit 10r/s key=t032-5 name=a on_error=open;
        api_led_rate_limit 10r/m key=t032-5 name=b on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- init
main::redis_down();
--- request
GET /t
--- error_code: 503



=== TEST 6: Redis comes back: limits use it again, without a reload
--- config
    location /t {
        api_led_rate_limit 5r/m key=t032-6 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
--- init
main::redis_down();
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($st, 503, 'TEST 6: refused while Redis is away');
main::redis_up();
Test::More::ok(main::wait_healthy(), 'TEST 6: back within the reconnect backoff');
--- request
GET /t
--- response_headers
X-Store: redis
RateLimit-Limit: 5
RateLimit-Remaining: 4
--- error_log
redis is available again
--- no_error_log
[alert]



=== TEST 7: a Redis that was never there: every request is answered at once
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_DEAD_PORT connect_timeout=5s;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t032-7 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[503, 503, 503]
--- response_headers_like eval
["X-Time: $::Fast", "X-Time: $::Fast", "X-Time: $::Fast"]
--- timeout eval: $::TO



=== TEST 8: AUTH and SELECT: the keys land in the configured database
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT password=s3cret-pw db=5;
--- config
    location /t {
        api_led_rate_limit 2r/d key=t032-8 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- init
my @a = ('-a', 's3cret-pw', '--no-auth-warning');
ApiLed::Redis::wait_until(sub {
    (ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t'))[0] == 200
}, 5);
Test::More::is(ApiLed::Redis::redis_cli($main::A->{port}, @a, '-n', 5,
                                        'exists', 'api_led:{t032-8}:2r/d'),
               1, 'TEST 8: key in db 5');
Test::More::is(ApiLed::Redis::redis_cli($main::A->{port}, @a, '-n', 0,
                                        'exists', 'api_led:{t032-8}:2r/d'),
               0, 'TEST 8: not in db 0');
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]



=== TEST 9: a wrong password: the circuit opens, the password is not logged
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT password=wrong-pw-42;
--- config
    location /t {
        api_led_rate_limit 10r/s key=t032-9 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 503
--- error_log eval
qr/redis unavailable: AUTH failed: "WRONGPASS/
--- no_error_log
wrong-pw-42



=== TEST 10: a unix socket address
--- http_config
    api_led_redis unix:$TEST_NGINX_REDIS_SOCK;
--- config
    location /t {
        api_led_rate_limit 2r/m key=t032-10 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["X-Store: redis", "X-Store: redis", "X-Store: redis"]
