# Rate-limit buckets: whose they are and what they hold (defects found by
# attack). A request counted by its address has buckets of its own, apart
# from a consumer's whose id reads as that address, and apart from any key
# a client sends; a bucket's value counts no further than its limit can
# have written it, and one further is written back as a full bucket.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the shared Redis of the run: our keys are unique to this file
redis_cli($redis_port, 'eval',
          "for _, k in ipairs(redis.call('KEYS', 'api_led:{*t039*')) do "
          . "redis.call('DEL', k) end", 0);

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: local store: a consumer whose id is an address has buckets of its own, not that address's
A limit keyed by default counts a consumer by its id and a request without
one by the client address: consumer "127.0.0.1" and the anonymous
requests of 127.0.0.1 shared the buckets "api_led:{127.0.0.1}:plan:minute"
(and any named limit's): each used up the other's quota.
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- user_files
>>> consumers.json
{"plans": {"p": {"limits": ["1r/m"]}},
 "consumers": [{"id": "127.0.0.1", "plan": "p", "keys": ["k-t039-ip"]}]}
--- config
    location /k {
        api_led_auth key;
        api_led_rate_limit plan;
        api_led_rate_limit 1r/m name=t039-ip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /a {
        api_led_rate_limit plan default=1r/m;
        api_led_rate_limit 1r/m name=t039-ip;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /k", "GET /a", "GET /k", "GET /a"]
--- more_headers eval
["X-API-Key: k-t039-ip", "", "X-API-Key: k-t039-ip", ""]
--- error_code eval
[200, 200, 429, 429]



=== TEST 2: Redis: a consumer whose id is an address and that address count in two buckets
The address's bucket is "api_led:{addr:ADDR}:NAME"; the consumer's keeps
its name.
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- user_files
>>> consumers.json
{"consumers": [{"id": "127.0.0.1", "keys": ["k-t039-ip"]}]}
--- config
    location /k {
        api_led_auth key;
        api_led_rate_limit 1r/m name=t039-ip-r;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /a {
        api_led_rate_limit 1r/m name=t039-ip-r;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my @keys = ('api_led:{127.0.0.1}:t039-ip-r', 'api_led:{addr:127.0.0.1}:t039-ip-r');
ApiLed::Redis::redis_cli($port, 'del', @keys);
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/k',
                                   'X-API-Key' => 'k-t039-ip');
Test::More::is($st, 200, 'TEST 2: the consumer is admitted');
($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/a');
Test::More::is($st, 200, 'TEST 2: the address is admitted too');
Test::More::is(ApiLed::Redis::redis_cli($port, 'exists', $keys[0]), 1,
               "TEST 2: the consumer's bucket is $keys[0]");
Test::More::is(ApiLed::Redis::redis_cli($port, 'exists', $keys[1]), 1,
               "TEST 2: the address's bucket is $keys[1]");
--- request eval
["GET /k", "GET /a"]
--- more_headers eval
["X-API-Key: k-t039-ip", ""]
--- error_code eval
[429, 429]



=== TEST 3: a key= value or a consumer id that begins with "addr:" never names an address's bucket
"addr:" is the addresses', as "sha1:" is the digests': such a key is
stored as its digest (this guards TESTS 1-2's prefix, it did not fail
before it).
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- user_files
>>> consumers.json
{"consumers": [{"id": "addr:127.0.0.1", "keys": ["k-t039-addr"]}]}
--- config
    location /h {
        api_led_rate_limit 1r/m key=$http_x_tenant name=t039-addr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /a {
        api_led_rate_limit 1r/m name=t039-addr;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /k {
        api_led_auth key;
        api_led_rate_limit 1r/m name=t039-addr2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /a2 {
        api_led_rate_limit 1r/m name=t039-addr2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /h", "GET /a", "GET /a", "GET /k", "GET /a2", "GET /a2"]
--- more_headers eval
["X-Tenant: addr:127.0.0.1", "", "", "X-API-Key: k-t039-addr", "", ""]
--- error_code eval
[200, 200, 429, 200, 200, 429]



=== TEST 4: a TAT far in the future (written by hand) is answered as a full bucket, not as 285,000 years
The bucket's value 9000000000000000000 (microseconds) made Retry-After
about 9e12 seconds. A 3r/m limit (burst 2) can be at most (burst + 1) * T
= 60 s ahead: Retry-After is at most T (20 s), RateLimit-Reset at most
60 s; the request is still refused.
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t039-tat name=t039-tat;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT}, 'set',
                         'api_led:{t039-tat}:t039-tat', '9000000000000000000');
--- request
GET /t
--- error_code: 429
--- response_headers
Retry-After: 20
RateLimit-Limit: 3
RateLimit-Remaining: 0
RateLimit-Reset: 60
Content-Type: application/problem+json
--- response_body_like chomp
"detail":"too many requests, retry in 20 s"
--- error_log
limit "t039-tat", retry in 20000 ms



=== TEST 5: TATs that are no number a limit stores (1e30, inf, nan, 1e19) are not a failure of Redis
Redis turned the script's 1e30, inf and 1e19 into a negative integer (a
malformed reply) and "nan" failed the script's PSETEX: the call failed
for every request in it, and on_error applied (here 503) until the key
was deleted. Now 1e30, inf and 1e19 are a full bucket (429, sane
headers); "nan", no number, is an empty bucket, as a key that is not a
number always was (admitted, the key rewritten).
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t039-$arg_k name=t039-tat2 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
ApiLed::Redis::redis_cli($port, 'set', 'api_led:{t039-a}:t039-tat2', '1e30');
ApiLed::Redis::redis_cli($port, 'set', 'api_led:{t039-b}:t039-tat2', 'inf');
ApiLed::Redis::redis_cli($port, 'set', 'api_led:{t039-c}:t039-tat2', 'nan');
ApiLed::Redis::redis_cli($port, 'set', 'api_led:{t039-d}:t039-tat2', '1e19');
--- request eval
["GET /t?k=a", "GET /t?k=b", "GET /t?k=c", "GET /t?k=d"]
--- error_code eval
[429, 429, 200, 429]
--- response_headers eval
["Retry-After: 20\nRateLimit-Reset: 60", "Retry-After: 20\nRateLimit-Reset: 60",
 "RateLimit-Remaining: 2\nRateLimit-Reset: 20", "Retry-After: 20\nRateLimit-Reset: 60"]
--- no_error_log
redis answered an error
unexpected reply



=== TEST 6: a TAT 10 days ahead without a TTL (a plain SET) refuses once as a full bucket, then the bucket recovers
Refused requests write nothing: such a TAT refused every request for 10
days, and nothing repaired it (TEST 4's Retry-After promised T). Now the
value, further ahead than a full bucket of 2r/s burst=1 ((burst + 1) * T
= 1 s), is cut to a full bucket and written back with its TTL: refused
with Retry-After 1 (T = 500 ms), admitted once that has passed.
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 2r/s burst=1 key=t039-ttl name=t039-ttl;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my $key = 'api_led:{t039-ttl}:t039-ttl';
my ($s, $us) = split /\n/, ApiLed::Redis::redis_cli($port, 'time');
my $now = $s * 1000000 + $us;
ApiLed::Redis::redis_cli($port, 'set', $key, $now + 10 * 86400 * 1000000);
Test::More::is(ApiLed::Redis::redis_cli($port, 'pttl', $key), -1,
               'TEST 6: the hostile TAT has no TTL');
my ($st, $h) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($st, 429, 'TEST 6: refused as a full bucket');
Test::More::is($h->{'retry-after'}, 1, 'TEST 6: Retry-After is T, rounded up');
Test::More::is($h->{'ratelimit-reset'}, 1,
               'TEST 6: RateLimit-Reset is a full bucket, 1 s');
my $ttl = ApiLed::Redis::redis_cli($port, 'pttl', $key);
Test::More::ok($ttl > 0 && $ttl <= 1000,
               "TEST 6: the key has a TTL of a full bucket at most ($ttl ms)");
my $ahead = ApiLed::Redis::redis_cli($port, 'get', $key) - $now;
Test::More::ok($ahead > 0 && $ahead < 10 * 1000000,
               "TEST 6: the key holds a full bucket, not 10 days ($ahead us)");
# what Retry-After promised: the request is admitted then
Time::HiRes::sleep($h->{'retry-after'} // 1);
--- request
GET /t
--- error_code: 200
--- response_headers
RateLimit-Limit: 2
--- no_error_log
redis answered an error
unexpected reply



=== TEST 7: a bucket left by a slower rate of the name (a reload that raised it) refuses no longer than its Retry-After says
"1r/m burst=5 name=x" stores up to 6 minutes; after a reload to "10r/s
burst=5 name=x" (here: another location with the name, the same bucket)
that TAT was answered as a full bucket of 10r/s, Retry-After 1, but the
request was refused for the 6 minutes. Now the bucket is cut to a full
bucket of 10r/s (600 ms) and Retry-After holds.
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /slow {
        api_led_rate_limit 1r/m burst=5 key=t039-rate name=t039-rate;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /fast {
        api_led_rate_limit 10r/s burst=5 key=t039-rate name=t039-rate;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = ApiLed::Redis::nginx_port();
my @st = map { (ApiLed::Redis::http_get($port, '/slow'))[0] } 1 .. 7;
Test::More::is("@st", '200 200 200 200 200 200 429',
               'TEST 7: 1r/m burst=5 admits 6, then refuses');
my ($st, $h) = ApiLed::Redis::http_get($port, '/fast');
Test::More::is($st, 429, 'TEST 7: 10r/s refuses the bucket full of 1r/m');
Test::More::is($h->{'retry-after'}, 1, 'TEST 7: Retry-After 1');
Time::HiRes::sleep($h->{'retry-after'} // 1);
--- request
GET /fast
--- error_code: 200
--- response_headers
RateLimit-Limit: 6
