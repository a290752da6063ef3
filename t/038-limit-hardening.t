# Rate-limit defects found by attack (issue 16): more limits than a request
# can have are refused by nginx -t (never silently skipped), a raw key never
# lands in the bucket of a long key's digest, a hostile Redis reply is a
# failed call.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use Digest::SHA ();

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# a consumers file with a plan of "n" limits (10r/h, 20r/h, ...: their keys
# live long enough to be seen)
sub consumers {
    my ($n) = @_;
    my $limits = join ', ', map { "\"${_}0r/h\"" } 1 .. $n;
    return <<"JSON";
{"plans": {"big": {"limits": [$limits]}},
 "consumers": [{"id": "t038-acme", "plan": "big", "keys": ["k-t038"]}]}
JSON
}

# a location with "n" limits of its own and the consumer's plan
sub plan_location {
    my ($n) = @_;
    my $own = join '', map { "        api_led_rate_limit 100r/h name=own$_;\n" }
                           1 .. $n;
    return <<"CONF";
    location /t {
        api_led_auth key;
$own        api_led_rate_limit plan;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\\n";
    }
CONF
}

our $CONSUMERS_CONF = <<'CONF';
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
CONF

# the shared Redis of the run: our keys are unique to this file
redis_cli($redis_port, 'eval',
          "for _, k in ipairs(redis.call('KEYS', 'api_led:{*t038*')) do "
          . "redis.call('DEL', k) end", 0);

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: nginx -t: a plan of more than 16 limits
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(17)]]
--- config eval
::plan_location(0)
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": plan "big" has 17 limits, at most 16 are possible in \S+nginx\.conf:\d+/



=== TEST 2: nginx -t: a location's limits and its plan's make more than 16
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(5)]]
--- config eval
::plan_location(12)
--- must_die
--- error_log eval
qr/api_led_rate_limit: 12 limits and 1 "plan" of up to 5 limits \(the largest plan of the consumers file\) make 17 limits for one request, at most 16 are possible in \S+nginx\.conf:\d+/



=== TEST 3: 16 limits in all are each counted
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(5)]]
--- config eval
::plan_location(11)
--- init
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                   'X-API-Key' => 'k-t038');
Test::More::is($st, 200, 'TEST 3: admitted');
my @keys = split /\n/, ApiLed::Redis::redis_cli($ENV{TEST_NGINX_REDIS_PORT},
                                                'keys', 'api_led:{t038-acme}:*');
Test::More::is(scalar @keys, 16, 'TEST 3: 16 Redis keys');
--- request
GET /t
--- more_headers
X-API-Key: k-t038
--- response_body
ok
