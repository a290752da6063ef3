# Rate-limit defects found by attack (issue 16): more limits than a request
# can have are refused by nginx -t (never silently skipped), a raw key never
# lands in the bucket of a long key's digest, a hostile Redis reply is a
# failed call.
use lib 't/lib';
use FindBin;
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use Digest::SHA ();
use File::Spec ();

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

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

# hostile Redis servers: the reply to a script call is an array of half a
# billion elements, nested arrays of 80,000 elements in all, a bulk string
# announced with 100 MB of which 5 MB come
# (the last: a Redis gone in the middle of a reply, its connection's end
# read with the reply's first bytes)
our @Hostile = ((map { start_fake_redis(reply => $_) }
    ("*500000000\r\n",
     "*2\r\n*40000\r\n" . (":0\r\n" x 40000) . "*40000\r\n",
     "\$100000000\r\n" . ('x' x (5 * 1024 * 1024)))),
    start_fake_redis(reply => "*2\r\n:0\r\n\$10\r\nabc", close => 1),
    start_fake_redis(reply => "\$-1\r\n"));
# a cluster node that owns every slot and answers every script call with a
# MOVED to the address the sub makes of its own port
sub moved_node {
    my ($target) = @_;
    return ApiLed::Redis::serve_connections(sub {
        my ($c) = @_;
        my $port = $c->sockport;
        my $to = $target->($port);
        my $buf = '';
        while (my $cmd = ApiLed::Redis::read_command($c, \$buf)) {
            my $name = uc $cmd->[0];
            if ($name eq 'CLUSTER') {
                print $c "*1\r\n*3\r\n:0\r\n:16383\r\n"
                         . "*2\r\n\$9\r\n127.0.0.1\r\n:$port\r\n";
            } elsif ($name eq 'SCRIPT') {
                print $c "\$40\r\n" . Digest::SHA::sha1_hex($cmd->[2]) . "\r\n";
            } elsif ($name eq 'EVALSHA' || $name eq 'EVAL') {
                print $c "-MOVED 1 $to\r\n";
            } else {
                print $c "+OK\r\n";
            }
            $c->flush;
        }
    });
}
# a redirection loop: a MOVED to itself
push @Hostile, moved_node(sub { "127.0.0.1:$_[0]" });
# a Sentinel that names itself the master of "t038", a master whose ROLE
# says master and that answers every script call READONLY (demoted, the
# Sentinels not yet told); each script call is a line of $READONLY_CALLS,
# a file outside servroot (the real Test::Nginx removes servroot and
# fails on a file it did not make there)
our $READONLY_CALLS = File::Spec->tmpdir() . "/t038-readonly-calls-$$";
END { unlink $READONLY_CALLS if defined $READONLY_CALLS; }
push @Hostile, ApiLed::Redis::serve_connections(sub {
    my ($c) = @_;
    my $port = $c->sockport;
    my $buf = '';
    while (my $cmd = ApiLed::Redis::read_command($c, \$buf)) {
        my $name = uc $cmd->[0];
        if ($name eq 'SENTINEL') {
            print $c "*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($port)
                     . "\r\n$port\r\n";
        } elsif ($name eq 'SUBSCRIBE') {
            print $c "*3\r\n\$9\r\nsubscribe\r\n\$14\r\n+switch-master\r\n:1\r\n";
        } elsif ($name eq 'ROLE') {
            print $c "*3\r\n\$6\r\nmaster\r\n:0\r\n*0\r\n";
        } elsif ($name eq 'SCRIPT') {
            print $c "\$40\r\n" . Digest::SHA::sha1_hex($cmd->[2]) . "\r\n";
        } elsif ($name eq 'EVALSHA' || $name eq 'EVAL') {
            if (open my $f, '>>', $::READONLY_CALLS) {
                print $f "call\n";
                close $f;
            }
            print $c "-READONLY You can't write against a read only replica.\r\n";
        } else {
            print $c "+OK\r\n";
        }
        $c->flush;
    }
});
# a MOVED to an address that is not one (a node announced by a name)
push @Hostile, moved_node(sub { 'redis-7.internal:6379' });
$ENV{"TEST_NGINX_HOSTILE_PORT_$_"} = $Hostile[$_]->{port} for 0 .. $#Hostile;

# a limit behind a hostile Redis
sub hostile {
    my ($n) = @_;
    return <<"CONF";
    location /t {
        api_led_rate_limit 10r/s key=t038-hostile on_error=closed;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\\n";
    }
CONF
}

our $HOSTILE_HTTP = 'api_led_redis 127.0.0.1:$TEST_NGINX_HOSTILE_PORT_%d timeout=1s;';

# a key longer than 256 bytes is stored under its digest; a client that
# sends that digest as its key must get a bucket of its own
our $LONG = 't038-' . ('x' x 300);
our $ALIAS = 'sha1:' . Digest::SHA::sha1_hex($::LONG);

our $ALIAS_LOC = <<'CONF';
    location /t {
        api_led_rate_limit 1r/m key=$http_x_tenant name=t038-alias;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
CONF

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
qr/api_led_rate_limit: 12 limits and 1 "plan" of up to 5 limits \(the largest plan of the consumers file, or default=\) make 17 limits for one request, at most 16 are possible in \S+nginx\.conf:\d+/



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



=== TEST 4: a hostile Redis reply of half a billion elements is a failed call at once (on_error applies)
The reply is refused when its header is read: no table of 500,000,000
pointers (4 GB) is allocated (the worker's peak virtual memory says so), and
the request does not wait for the timeout.
--- http_config eval
sprintf $::HOSTILE_HTTP, 0
--- config eval
::hostile()
--- init
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($st, 503, 'TEST 4: on_error=closed');
if (!$ENV{TEST_NGINX_USE_VALGRIND} && !$ENV{TEST_NGINX_USE_ASAN}) {
    open my $f, '<', $Test::Nginx::Util::PidFile or die "pid file: $!";
    my $pid = <$f>;
    chomp $pid;
    open my $s, '<', "/proc/$pid/status" or die "status: $!";
    my ($peak) = join('', <$s>) =~ /^VmPeak:\s+(\d+) kB/m;
    Test::More::cmp_ok($peak, '<', 1024 * 1024,
                       'TEST 4: VmPeak of the worker under 1 GB');
}
--- request
GET /t
--- error_code: 503
--- response_body_like chomp
"type":"urn:api-led:error:rate_limit_unavailable"
--- error_log
redis unavailable: a reply with arrays of 500000000 elements refused, at most 65536
--- no_error_log
waited
timed out



=== TEST 5: nested arrays count together
--- http_config eval
sprintf $::HOSTILE_HTTP, 1
--- config eval
::hostile()
--- request
GET /t
--- error_code: 503
--- error_log
redis unavailable: a reply with arrays of 80002 elements refused, at most 65536
--- no_error_log
waited
timed out



=== TEST 6: a bulk string of 100 MB is refused after 4 MB
--- http_config eval
sprintf $::HOSTILE_HTTP, 2
--- config eval
::hostile()
--- request
GET /t
--- error_code: 503
--- error_log
redis unavailable: a reply larger than 4194304 bytes refused
--- no_error_log
waited
timed out



=== TEST 7: Redis: a raw key "sha1:<digest of a long key>" does not share the long key's bucket
Both keys keep their documented names: the long key "sha1:" and its digest,
the raw key (it begins with "sha1:") the digest of itself.
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config eval
$::ALIAS_LOC
--- init
my $port = $ENV{TEST_NGINX_REDIS_PORT};
my $long = "api_led:{$::ALIAS}:t038-alias";
my $alias = 'api_led:{sha1:' . Digest::SHA::sha1_hex($::ALIAS) . '}:t038-alias';
ApiLed::Redis::redis_cli($port, 'del', $long, $alias);
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                   'X-Tenant' => $::LONG);
Test::More::is($st, 200, 'TEST 7: the long key is admitted');
($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                'X-Tenant' => $::ALIAS);
Test::More::is($st, 200, 'TEST 7: its digest as a key has a bucket of its own');
Test::More::is(ApiLed::Redis::redis_cli($port, 'exists', $long), 1,
               'TEST 7: the long key is stored as sha1: and its digest');
Test::More::is(ApiLed::Redis::redis_cli($port, 'exists', $alias), 1,
               'TEST 7: the raw "sha1:" key is stored as its own digest');
--- request
GET /t
--- more_headers eval
"X-Tenant: $::LONG"
--- error_code: 429



=== TEST 8: local store: a raw key "sha1:<digest of a long key>" does not share the long key's bucket
--- config eval
$::ALIAS_LOC
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Tenant: $::LONG", "X-Tenant: $::ALIAS", "X-Tenant: $::LONG", "X-Tenant: $::ALIAS"]
--- error_code eval
[200, 200, 429, 429]



=== TEST 9: a Redis gone in the middle of a reply: the call fails at once, not after timeout=
The last bytes of the reply and the connection's end come in one read:
epoll reports the end once, with them (it was missed, and the request
waited for timeout=, 1s).
--- http_config eval
sprintf $::HOSTILE_HTTP, 3
--- config eval
::hostile()
--- init
use Time::HiRes ();
# the first call connects; its reply ends the connection
my $t = Time::HiRes::time();
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
my $took = Time::HiRes::time() - $t;
Test::More::is($st, 503, 'TEST 9: on_error=closed');
Test::More::cmp_ok($took, '<', 0.8, 'TEST 9: answered at once');
--- request
GET /t
--- error_code: 503
--- error_log
redis unavailable: connection closed by redis
--- no_error_log
timed out



=== TEST 10: nginx -t: a burst whose tolerance overflows is refused
1r/d burst=213503983 made burst * T wrap past 2^64 microseconds: the
limit then admitted one request a day, not the burst.
--- config
    location /t {
        api_led_rate_limit 1r/d burst=213503983 key=t038-burst name=t038-burst;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- must_die
--- error_log eval
qr/burst=213503983 is too large for "1r\/d": burst times the interval must be under 285 years in \S+nginx\.conf:\d+/



=== TEST 11: the largest burst allowed is admitted in full
--- config
    location /t {
        api_led_rate_limit 1r/d burst=104249 key=t038-burst2 name=t038-burst2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["RateLimit-Limit: 104250", "RateLimit-Limit: 104250", "RateLimit-Limit: 104250"]



=== TEST 12: a script reply of the wrong shape is logged at most once a second
A Redis (or a proxy) that answers every call with a nil logged one error
line per call.
--- http_config eval
sprintf $::HOSTILE_HTTP, 4
--- config eval
::hostile()
--- init
# ten calls within the second of the test's request
for my $i (1 .. 10) {
    my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
    Test::More::is($st, 503, "TEST 12: call $i gets on_error=closed");
}
--- request
GET /t
--- error_code: 503
--- grep_error_log eval
qr/unexpected reply from the redis rate limit script/
--- grep_error_log_out
unexpected reply from the redis rate limit script



=== TEST 13: a cluster's redirection loop is logged at most once a second
Each script call that gave up after 5 MOVED logged "redirected 5 times,
given up": one error line per call while the loop lasted.
--- http_config
api_led_redis 127.0.0.1:$TEST_NGINX_HOSTILE_PORT_5 cluster timeout=1s;
--- config eval
::hostile()
--- init
for my $i (1 .. 10) {
    my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
    Test::More::is($st, 503, "TEST 13: call $i gets on_error=closed");
}
--- request
GET /t
--- error_code: 503
--- grep_error_log eval
qr/redis: a command redirected \d+ times, given up/
--- grep_error_log_out
redis: a command redirected 5 times, given up



=== TEST 14: a master the Sentinels still name that answers READONLY is asked again after pauses, not in a loop
The command went again at once each time the Sentinels named the same
master: some 3,000 script calls and Sentinel questions a second, and as
many "answered READONLY" warnings, for as long as it lasted.
--- http_config
api_led_redis 127.0.0.1:$TEST_NGINX_HOSTILE_PORT_6 sentinel=t038 timeout=500ms;
--- config eval
::hostile()
--- init
use Time::HiRes ();
unlink $::READONLY_CALLS;
# the master is found, then one request waits its 500 ms
Time::HiRes::sleep(0.3);
my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
Test::More::is($st, 503, 'TEST 14: on_error=closed after timeout=');
my $n = 0;
if (open my $f, '<', $::READONLY_CALLS) {
    $n++ while <$f>;
}
# 10, 20, 40, 80, 160 ms of pause: a handful of calls
Test::More::cmp_ok($n, '>=', 1, 'TEST 14: the call reached the master');
Test::More::cmp_ok($n, '<=', 10, "TEST 14: $n calls, not a loop");
--- request
GET /t
--- error_code: 503
--- grep_error_log eval
qr/redis master answered READONLY, asking the sentinels again/
--- grep_error_log_out
redis master answered READONLY, asking the sentinels again



=== TEST 15: nginx -t: a limit keyed on the API key's header, which key hiding empties, is refused
The key was hidden before the limits counted: $http_x_api_key was empty,
and the limit held no one back, silently.
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(1)]]
--- config
    location /t {
        api_led_auth key;
        api_led_rate_limit 1r/m key=$http_x_api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/api_led_rate_limit: "key=\$http_x_api_key" reads "\$http_x_api_key", which authentication hides from the request \(api_led_key_hide, api_led_jwt_hide\) before the limits count it: .* in \S+nginx\.conf:\d+/



=== TEST 16: nginx -t: the same for a key argument, written ${...}, inherited from the server
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(1)]]
--- config
    api_led_rate_limit 1r/m key=tenant-${ARG_Api_Key};
    location /t {
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/api_led_rate_limit: "key=tenant-\$\{ARG_Api_Key\}" reads "\$arg_api_key", .* in \S+nginx\.conf:\d+/



=== TEST 17: nginx -t: the same for the bearer token's header
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_rate_limit 1r/m key=$http_authorization;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/api_led_rate_limit: "key=\$http_authorization" reads "\$http_authorization", .* in \S+nginx\.conf:\d+/



=== TEST 18: a key the location does not hide is counted: hiding off, another header of a longer name, no key authentication
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(1)]]
--- config
    location /t {
        api_led_auth key;
        api_led_key_hide off;
        api_led_rate_limit 1r/m key=t038-18-$http_x_api_key name=a;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /u {
        api_led_auth key;
        api_led_rate_limit 1r/m key=t038-18-$http_x_api_key_2 name=b;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /v {
        api_led_rate_limit 1r/m key=t038-18-$http_x_api_key name=c;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /u", "GET /u", "GET /v", "GET /v"]
--- more_headers eval
["X-API-Key: k-t038", "X-API-Key: k-t038",
 "X-API-Key: k-t038\nX-API-Key-2: a", "X-API-Key: k-t038\nX-API-Key-2: a",
 "X-API-Key: k-t038", "X-API-Key: k-t038"]
--- error_code eval
[200, 429, 200, 429, 200, 429]



=== TEST 19: a Redis that answers CLUSTER SLOTS with an error is logged at most once a second
A cluster whose slot map could not be read (here a Redis without cluster
support) logged "redis CLUSTER SLOTS failed" at every try, ten a second.
--- http_config
api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT cluster timeout=200ms;
--- config eval
::hostile()
--- init
use Time::HiRes ();
Time::HiRes::sleep(2.5);
--- request
GET /t
--- error_code: 503
--- grep_error_log eval
qr/redis CLUSTER SLOTS failed/
--- grep_error_log_out eval
qr/\A(?:redis CLUSTER SLOTS failed\n){1,4}\z/



=== TEST 20: a MOVED to an address that is not one is logged at most once a second
Each script call answered MOVED to a node's name logged "a node announced
as ..., not an IP address and port": one error line per call.
--- http_config
api_led_redis 127.0.0.1:$TEST_NGINX_HOSTILE_PORT_7 cluster timeout=1s;
--- config eval
::hostile()
--- init
for my $i (1 .. 10) {
    my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t');
    Test::More::is($st, 503, "TEST 20: call $i gets on_error=closed");
}
--- request
GET /t
--- error_code: 503
--- grep_error_log eval
qr/a node announced as "redis-7.internal" port 6379, not an IP address and port/
--- grep_error_log_out
a node announced as "redis-7.internal" port 6379, not an IP address and port



=== TEST 21: a key read from a query argument whose name no variable can spell ("api-key") is not refused: $arg_api_key reads another argument
nginx -t refused it: the key's name became "arg_api_key" as a header's
"-" becomes "_", but $arg_NAME and $cookie_NAME match the name as written.
--- http_config eval
$::CONSUMERS_CONF
--- user_files eval
[["consumers.json", ::consumers(1)]]
--- config
    location /t {
        api_led_auth key;
        api_led_key_source query:api-key;
        api_led_rate_limit 1r/m key=t038-19-$arg_api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t?api-key=k-t038&api_key=a", "GET /t?api-key=k-t038&api_key=a",
 "GET /t?api-key=k-t038&api_key=b"]
--- error_code eval
[200, 429, 200]
