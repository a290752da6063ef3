# api_led_rate_limit plan: the limits of the consumer's plan (consumers
# file), keyed by the consumer, in one Redis round trip with the location's
# own limits; a bucket per period that outlives a rate change; default=
# limits for who has no plan.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

# an HS256 token for this subject, valid for an hour
sub tok {
    return ::jwt(alg => 'HS256', kid => 'hs-1',
                 claims => { sub => $_[0], exp => time + 3600 });
}

# the consumers file with the plan "up" at this rate
sub up_plan {
    my ($rate) = @_;
    my $text = $::Consumers;
    $text =~ s/"tiny":/"up": {"limits": ["$rate", "1000r\/d"]},\n           "tiny":/;
    $text =~ s/(\{"id": "t035-guest", "plan": "tiny"\})/$1,\n   {"id": "t035-up", "plan": "up", "keys": ["k-up"]},\n   {"id": "t035-fresh", "plan": "up", "keys": ["k-fresh"]}/;
    return ">>> consumers.json\n$text";
}

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["4r/m", "100r/d"]},
           "tiny": {"limits": ["2r/h"]}},
 "consumers": [
   {"id": "t035-acme", "plan": "gold", "keys": ["k-acme"]},
   {"id": "t035-bob", "plan": "tiny", "keys": ["k-bob"]},
   {"id": "t035-carl", "plan": "tiny", "keys": ["k-carl"]},
   {"id": "t035-noplan", "keys": ["k-noplan"]},
   {"id": "t035-guest", "plan": "tiny"}
 ]}
JSON

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";
redis_cli($redis_port, 'eval',
          "for _, k in ipairs(redis.call('KEYS', 'api_led:{t035-*')) do "
          . "redis.call('DEL', k) end", 0);

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("user_files", ">>> consumers.json\n$::Consumers")
        unless defined $block->user_files;
    $block->set_value("http_config", <<'CONF') unless defined $block->http_config;
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
CONF
});

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a consumer's plan limits apply, keyed by the consumer
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                   'X-API-Key' => 'k-acme');
Test::More::is($st, 200, 'TEST 1: first request');
Test::More::is(join(' ', sort split /
/,
                    ApiLed::Redis::redis_cli($port, 'keys', 'api_led:{t035-acme}:*')),
               'api_led:{t035-acme}:plan:day api_led:{t035-acme}:plan:minute',
               'TEST 1: one key per plan limit, named after the consumer');
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-acme", "X-API-Key: k-acme", "X-API-Key: k-acme", "X-API-Key: k-acme"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-Store: redis\nRateLimit-Limit: 4\nRateLimit-Remaining: 2",
 "RateLimit-Remaining: 1",
 "RateLimit-Remaining: 0",
 "Retry-After: 15"]



=== TEST 2: consumers are isolated; a plan-less consumer is not limited by "plan"
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-bob", "X-API-Key: k-bob", "X-API-Key: k-bob",
 "X-API-Key: k-carl", "X-API-Key: k-noplan", "X-API-Key: k-noplan"]
--- error_code eval
[200, 200, 429, 200, 200, 200]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "Retry-After: 1800", "RateLimit-Remaining: 1",
 "!RateLimit-Limit\nX-Store: none", "!RateLimit-Limit"]



=== TEST 3: plan and location limits together, all-or-nothing (carl has 1 of 2 left)
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        api_led_rate_limit 10r/m name=t035-api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /api-only {
        api_led_auth key;
        api_led_rate_limit 10r/m name=t035-api;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /api-only"]
--- more_headers eval
["X-API-Key: k-carl", "X-API-Key: k-carl", "X-API-Key: k-carl", "X-API-Key: k-carl"]
--- error_code eval
[200, 429, 429, 200]
--- response_headers_like eval
# carl's first request was in TEST 2, seconds ago under valgrind
["RateLimit-Limit: ^2\$\nRateLimit-Remaining: ^0\$", "Retry-After: ^1[78]\\d\\d\$",
 "Retry-After: ^1[78]\\d\\d\$", "RateLimit-Limit: ^10\$\nRateLimit-Remaining: ^8\$"]



=== TEST 4: the anonymous consumer's plan applies too
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous t035-guest;
        api_led_rate_limit plan;
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
["RateLimit-Limit: 2\nRateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "Retry-After: 1800"]



=== TEST 5: a request refused by key-auth is not counted
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit 1r/m key=t035-5;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: wrong", "X-API-Key: k-noplan"]
--- error_code eval
[401, 200]



=== TEST 6: a plan at 4r/m: three requests used
--- user_files eval
::up_plan('4r/m')
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-up", "X-API-Key: k-up", "X-API-Key: k-up"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["RateLimit-Limit: 4\nRateLimit-Remaining: 3", "RateLimit-Remaining: 2",
 "RateLimit-Remaining: 1"]



=== TEST 7: the plan's rate changes to 8r/m: the buckets and the usage stay (3 of 4 used are 6 of 8)
--- user_files eval
::up_plan('8r/m')
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
Test::More::is(join(' ', sort split /\n/, ApiLed::Redis::redis_cli($port, 'keys', 'api_led:{t035-up}:*')),
               'api_led:{t035-up}:plan:day api_led:{t035-up}:plan:minute',
               'TEST 7: the buckets are named after their period, not their rate');
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-up", "X-API-Key: k-up", "X-API-Key: k-up"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 8\nRateLimit-Remaining: 1", "RateLimit-Remaining: 0",
 "RateLimit-Limit: 8\nRateLimit-Remaining: 0"]



=== TEST 8: default= limits who has no plan: a consumer without one, a JWT subject that is no consumer, a client without identity
--- user_files eval
::up_plan('100r/m')
--- config
    location /key {
        api_led_auth key;
        api_led_rate_limit plan default=2r/m default=500r/d;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /jwt {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_rate_limit plan default=2r/m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /open {
        api_led_rate_limit plan default=1r/m key=t035-open;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /key", "GET /key", "GET /key", "GET /key",
 "GET /jwt", "GET /jwt", "GET /jwt",
 "GET /open", "GET /open"]
--- more_headers eval
["X-API-Key: k-noplan", "X-API-Key: k-noplan", "X-API-Key: k-noplan",
 "X-API-Key: k-fresh",
 "Authorization: Bearer " . ::tok('t035-stranger'),
 "Authorization: Bearer " . ::tok('t035-stranger'),
 "Authorization: Bearer " . ::tok('t035-stranger'),
 "", ""]
--- error_code eval
[200, 200, 429, 200, 200, 200, 429, 200, 429]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1", "RateLimit-Remaining: 0", "Retry-After: 30",
 "RateLimit-Limit: 100",
 "RateLimit-Limit: 2\nRateLimit-Remaining: 1", "RateLimit-Remaining: 0", "Retry-After: 30",
 "RateLimit-Limit: 1", "Retry-After: 60"]



=== TEST 9: default= goes with "plan"
--- config
    location /t {
        api_led_rate_limit 10r/s default=1r/s;
    }
--- must_die
--- error_log eval
qr/"default=" goes with "plan": the limits of who has no plan in \S+nginx\.conf:\d+/



=== TEST 10: a limit named "plan:..." is refused: it would count in the plan's bucket
A location's "5r/m name=plan:minute" counted in api_led:{consumer}:plan:minute,
the bucket of the consumer's plan limit of that period, at its own rate.
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit plan;
        api_led_rate_limit 5r/m name=plan:minute;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- must_die
--- error_log eval
qr/invalid limit name "plan:minute": names beginning with "plan:" are the plans' buckets in \S+nginx\.conf:\d+/
