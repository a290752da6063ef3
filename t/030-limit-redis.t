# api_led_rate_limit with the Redis store: GCRA admission counts, burst,
# all-or-nothing, keys, headers, variables, Redis keys and TTLs, NOSCRIPT.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

# the shared Redis of the run: our keys are unique to this file
redis_cli($redis_port, 'eval',
          "for _, k in ipairs(redis.call('KEYS', 'api_led:{t030-*')) do "
          . "redis.call('DEL', k) end", 0);

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: default burst: the whole count at once, then 429 with Retry-After
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t030-1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 2\nRateLimit-Reset: 20\n!Retry-After",
 "RateLimit-Remaining: 1\nRateLimit-Reset: 40",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 60",
 "RateLimit-Limit: 3\nRateLimit-Remaining: 0\nRateLimit-Reset: 60\nRetry-After: 20\nContent-Type: application/problem+json"]
--- response_body_like eval
["ok", "ok", "ok",
 qr/^\{"type":"urn:api-led:error:rate_limited","title":"Too many requests","status":429,"detail":"too many requests, retry in 20 s","correlation_id":"[^"]+"\}$/]
--- no_error_log eval
# the 429 is logged at error (api_led_rate_limit_log_level, t/006)
[qr/\[error\](?!.* api_led: limiting requests, limit )/, "[alert]"]



=== TEST 2: burst=N admits N + 1 at once, then one every period/count
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 6r/m burst=1 key=t030-2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1\nRateLimit-Reset: 10",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 20",
 "RateLimit-Remaining: 0\nRetry-After: 10"]



=== TEST 3: burst=0 spaces requests exactly one interval apart
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 2r/s burst=0 key=t030-3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Limit: 1\nRateLimit-Remaining: 0\nRateLimit-Reset: 1",
 "Retry-After: 1"]



=== TEST 4: two limits, all-or-nothing: a rejected request consumes none of the other
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /both {
        api_led_rate_limit 10r/m key=t030-4 name=minute;
        api_led_rate_limit 2r/h key=t030-4 name=hour;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /minute-only {
        api_led_rate_limit 10r/m key=t030-4 name=minute;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /both", "GET /both", "GET /both", "GET /both", "GET /minute-only"]
--- error_code eval
[200, 200, 429, 429, 200]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1",
 "RateLimit-Limit: 2\nRateLimit-Remaining: 0\nRateLimit-Reset: 3600",
 "RateLimit-Limit: 2\nRetry-After: 1800",
 "RateLimit-Limit: 2\nRetry-After: 1800",
 "RateLimit-Limit: 10\nRateLimit-Remaining: 7"]



=== TEST 5: the most constrained limit is the one in the headers
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 100r/s key=t030-5 name=fast;
        api_led_rate_limit 5r/m key=t030-5 name=slow;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
RateLimit-Limit: 5
RateLimit-Remaining: 4
RateLimit-Reset: 12



=== TEST 6: keys are isolated
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 1r/m key=t030-6-$arg_k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t?k=x", "GET /t?k=x", "GET /t?k=y", "GET /t?k=y", "GET /t?k=x"]
--- error_code eval
[200, 429, 200, 429, 429]



=== TEST 7: the default key is the client address; the Redis key and its TTL
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 2r/d name=t030-7;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
ApiLed::Redis::redis_cli($port, 'del', 'api_led:{addr:127.0.0.1}:t030-7');
my ($status) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($status, 200, 'TEST 7: first request admitted');
my $pttl = ApiLed::Redis::redis_cli($port, 'pttl', 'api_led:{addr:127.0.0.1}:t030-7');
# one request of a 2r/d limit: the stored TAT is 12 hours ahead
Test::More::cmp_ok($pttl, '>', 43_190_000, 'TEST 7: TTL is one interval');
Test::More::cmp_ok($pttl, '<=', 43_200_000, 'TEST 7: TTL at most one interval');
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 0\nRateLimit-Reset: 86400",
 "Retry-After: 43200"]



=== TEST 8: a plan-less location limit is keyed by the consumer id when there is one (here: none)
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 5r/m name=t030-8;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Consumer "$api_led_consumer";
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT},
                         'del', 'api_led:{addr:127.0.0.1}:t030-8');
--- request
GET /t
--- response_headers
RateLimit-Remaining: 4
X-Consumer:



=== TEST 9: variables: remaining and store, also seen by the upstream
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 5r/m key=t030-9;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        proxy_set_header X-Remaining $api_led_rate_limit_remaining;
        add_header X-Store $api_led_rate_limit_store;
    }
    location /open {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store;
        add_header X-Remaining "[$api_led_rate_limit_remaining]";
    }
    location /echo {
        return 200 "remaining $http_x_remaining\n";
    }
--- request eval
["GET /t", "GET /t", "GET /open"]
--- response_body eval
["remaining 4\n", "remaining 3\n", "remaining \n"]
--- response_headers eval
["X-Store: redis", "X-Store: redis",
 "X-Store: none\nX-Remaining: []\n!RateLimit-Limit"]



=== TEST 10: api_led_rate_limit_headers off hides the RateLimit headers, not Retry-After
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    api_led_rate_limit_headers off;
    location /t {
        api_led_rate_limit 1r/m key=t030-10;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_headers eval
["!RateLimit-Limit\n!RateLimit-Remaining\n!RateLimit-Reset",
 "!RateLimit-Limit\nRetry-After: 60"]



=== TEST 11: server limits are inherited; "off" cancels them
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    api_led_rate_limit 1r/m key=t030-11;
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /free {
        api_led_rate_limit off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        api_led_rate_limit off;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /free", "GET /free"]
--- error_code eval
[200, 429, 200, 200]
--- response_headers eval
["RateLimit-Limit: 1", "Retry-After: 60", "!RateLimit-Limit", "!RateLimit-Limit"]



=== TEST 12: an empty key is not limited
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 1r/m key=$http_x_tenant name=t030-12;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_headers eval
["!RateLimit-Limit\nX-Store: none", "!RateLimit-Limit"]



=== TEST 13: a long key is stored under its digest
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 1r/m key=$http_x_tenant name=t030-13;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
use Digest::SHA qw(sha1_hex);
my $key = 'api_led:{sha1:' . sha1_hex('t' x 300) . '}:t030-13';
ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT}, 'del', $key);
my ($status) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                       'X-Tenant' => 't' x 300);
Test::More::is($status, 200, 'TEST 13: long key admitted once');
Test::More::is(ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT},
                                        'exists', $key), 1,
               'TEST 13: stored under the digest of the key');
--- request
GET /t
--- more_headers eval
"X-Tenant: " . ("t" x 300)
--- error_code: 429



=== TEST 14: exactly one Redis command per request
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 1000r/s key=t030-14 name=a;
        api_led_rate_limit 100000r/d key=t030-14 name=b;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my $count = sub {
    my ($calls) = ApiLed::Redis::redis_cli($port, 'info', 'commandstats')
                  =~ /cmdstat_evalsha:calls=(\d+)/;
    return $calls || 0;
};
ApiLed::Redis::wait_until(sub {
    ApiLed::Redis::redis_cli($port, 'info', 'commandstats') =~ /script\|load/
});
ApiLed::Redis::redis_cli($port, 'config', 'resetstat');
ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t') for 1 .. 5;
my $stats = ApiLed::Redis::redis_cli($port, 'info', 'commandstats');
Test::More::is($count->(), 5, 'TEST 14: one EVALSHA per request');
my @top = grep { !/cmdstat_(evalsha|mget|psetex|time|info|config|script)/ }
          $stats =~ /^(cmdstat_\S+?):/mg;
Test::More::is("@top", '', 'TEST 14: no other command');
--- request
GET /t
--- response_headers
RateLimit-Limit: 1000



=== TEST 15: a flushed script cache: the call goes through EVAL and the script is reloaded
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 10r/m key=t030-15;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my ($status) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($status, 200, 'TEST 15: before the flush');
ApiLed::Redis::redis_cli($port, 'script', 'flush');
--- request
GET /t
--- response_headers
RateLimit-Remaining: 8
--- error_log
redis does not know the script, sent it with EVAL
--- no_error_log
[error]



=== TEST 16: nginx -t: an invalid rate
--- config
    location /t {
        api_led_rate_limit 10r/w;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/invalid rate "10r\/w", use Nr\/s, Nr\/m, Nr\/h or Nr\/d, or "plan" or "off" in \S+nginx\.conf:\d+/



=== TEST 17: nginx -t: burst with plan
--- config
    location /t {
        api_led_rate_limit plan burst=3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/"burst=" cannot be used with "plan".* in \S+nginx\.conf:\d+/



=== TEST 18: nginx -t: two limits that would share one bucket
--- config
    location /t {
        api_led_rate_limit 10r/s;
        api_led_rate_limit 10r/s burst=3;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/duplicate rate limit "10r\/s" in one location, give each its own "name=" in \S+nginx\.conf:\d+/



=== TEST 19: nginx -t: bad on_error, bad name
--- config
    location /t {
        api_led_rate_limit 10r/s on_error=maybe;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/invalid "on_error=maybe", must be "on_error=open", "on_error=closed" or "on_error=local" in \S+nginx\.conf:\d+/



=== TEST 20: nginx -t: a limit name with braces
--- config
    location /t {
        api_led_rate_limit 10r/s "name={x}";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/invalid limit name "name=\{x\}".* in \S+nginx\.conf:\d+/



=== TEST 21: nginx -t: api_led_redis parameters
--- http_config
    api_led_redis 127.0.0.1:6379 timeout=never;
--- config
    location /t {
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid redis timeout "timeout=never" in \S+nginx\.conf:\d+/



=== TEST 22: nginx -t: api_led_redis address
--- http_config
    api_led_redis 127.0.0.1:99999;
--- config
    location /t {
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid port in redis address "127.0.0.1:99999" in \S+nginx\.conf:\d+/
