# The Redis store batches requests: those that arrive while a script call
# is on its way share the next call.  Concurrent requests on separate
# connections are held behind a call that a gate (t/lib/ApiLed/Redis.pm)
# keeps from Redis, so the batches are known exactly: the gate logs each
# call with its number of requests and keys.  Exact admission counts under
# concurrency, all-or-nothing and per-key counts inside one batch, a
# client gone before or after its batch left, a call in flight that fails
# (timeout, connection lost) with on_error=closed/open/local, and batches
# that fill up (255 limits).  Sequential requests making one EVALSHA each
# is t/030 TEST 14.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use IO::Select;
use Time::HiRes qw(time);

my $redis_port = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

# the shared Redis of the run: our keys are unique to this file
redis_cli($redis_port, 'eval',
          "for _, k in ipairs(redis.call('KEYS', 'api_led:{t037-*')) do "
          . "redis.call('DEL', k) end", 0);

our $Gate = start_redis_gate(port => $redis_port);
$ENV{TEST_NGINX_GATE_PORT} = $Gate->{port};

# under valgrind nginx is many times slower: the timings allow for it
our $V = $ENV{TEST_NGINX_USE_VALGRIND};
our $Await = $V ? 60 : 5;

# a held call must not time out while the test fills the next batch
$ENV{TEST_NGINX_HOLD_TIMEOUT} = $V ? '60s' : '5s';

# a call in flight that times out, with the requests behind it
our $Timeout = $V ? 2 : 0.5;

# a Redis that answers every call, each "delay" late but within the
# timeout: the requests waiting behind a call wait longer than the timeout
our $SlowDelay = $V ? 1.5 : 0.3;
our $SlowTimeout = $V ? 2.5 : 0.5;
our $Slow = start_fake_redis(delay => $SlowDelay);
$ENV{TEST_NGINX_SLOW_PORT} = $Slow->{port};
$ENV{TEST_NGINX_SLOW_TIMEOUT} = ($SlowTimeout * 1000) . 'ms';

# what "at once" allows for: nginx's own work, many times slower under
# valgrind
our $Slack = $V ? 1 : 0.25;
$ENV{TEST_NGINX_SHORT_TIMEOUT} = ($Timeout * 1000) . 'ms';


# the error log of the test nginx, from byte "from" on
sub log_text {
    my ($from) = @_;
    open my $f, '<', $Test::Nginx::Util::ErrLogFile or return '';
    seek $f, $from || 0, 0;
    local $/;
    return <$f> // '';
}

sub log_size {
    return -s $Test::Nginx::Util::ErrLogFile || 0;
}

# nginx has read the headers of "n" requests since "from": the access
# phase (joining a batch) runs in the same event handler, so whatever the
# test does next is seen by nginx after these requests joined
sub await_requests {
    my ($n, $from, $name) = @_;
    my $ok = wait_until(sub {
        my $got = () = log_text($from) =~ /http header done/g;
        return $got >= $n;
    }, $Await);
    Test::More::ok($ok, "$name: nginx read the $n requests");
}

sub await_log {
    my ($re, $from, $name) = @_;
    Test::More::ok(wait_until(sub { log_text($from) =~ $re }, $Await),
                   "$name: logged $re");
}

sub await_calls {
    my ($n, $name) = @_;
    Test::More::ok(wait_until(sub { @{ gate_calls($Gate) } >= $n }, $Await),
                   "$name: $n script call(s) on their way");
}

# a request whose script call the gate holds: the first of a test; returns
# the error log's size before it, and the request
sub hold_first_call {
    my ($path, $name) = @_;
    gate_reset($Gate);
    my $from = log_size();
    gate_hold($Gate);
    my $first = send_request($path);
    await_calls(1, $name);
    return ($from, $first);
}

# "requests keys" of each script call, as one string: "1 1, 12 1"
sub calls {
    return join ', ', map { "@$_" } @{ gate_calls($Gate) };
}

sub evalsha_calls {
    my ($calls) = redis_cli($redis_port, 'info', 'commandstats')
                  =~ /cmdstat_evalsha:calls=(\d+)/;
    return $calls || 0;
}

sub cmd_calls {
    my ($cmd) = @_;
    my ($calls) = redis_cli($redis_port, 'info', 'commandstats')
                  =~ /cmdstat_$cmd:calls=(\d+)/;
    return $calls || 0;
}

# a request on a connection of its own, not read yet
sub send_request {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . nginx_port())
        or die "connect: $!";
    syswrite $s, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return { sock => $s, path => $path, sent => time };
}

# reads the responses together: status, headers (lower case) and the time
# each was complete; a response missing after $Await seconds is status 0
sub read_responses {
    my (@reqs) = @_;
    my $sel = IO::Select->new();
    my %by;
    for my $r (@reqs) {
        $r->{raw} = '';
        $r->{status} = 0;
        $r->{headers} = {};
        $sel->add($r->{sock});
        $by{ fileno $r->{sock} } = $r;
    }
    my $deadline = time + $Await;
    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read($deadline - time)) {
            my $r = $by{ fileno $s };
            my $n = sysread $s, my $chunk, 65536;
            if ($n) {
                $r->{raw} .= $chunk;
                next;
            }
            $r->{done} = time;
            $sel->remove($s);
            close $s;
            my ($head) = split /\r\n\r\n/, $r->{raw}, 2;
            next unless $head && $head =~ m{^HTTP/1\.\d (\d+)};
            $r->{status} = $1;
            for (split /\r\n/, $head) {
                $r->{headers}{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
            }
        }
    }
    return @reqs;
}

# "200 x5, 429 x7"
sub statuses {
    my %n;
    $n{ $_->{status} }++ for @_;
    return join ', ', map { "$_ x$n{$_}" } sort keys %n;
}

sub pttl {
    my ($key) = @_;
    return redis_cli($redis_port, 'pttl', $key);
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: twelve concurrent requests share the next call: exactly 5 admitted of 5r/m, 7 rejected
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 5r/m key=t037-1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 1';
::gate_reset($::Gate);
::redis_cli($ENV{TEST_NGINX_REDIS_PORT}, 'config', 'resetstat');
my $from = ::log_size();
::gate_hold($::Gate);
my @r = map { ::send_request('/t') } 1 .. 12;
::await_requests(12, $from, $name);
::await_calls(1, $name);
Test::More::is(scalar @{ ::gate_calls($::Gate) }, 1,
               "$name: the first call is held, the others wait for it");
::gate_release($::Gate);
::read_responses(@r);
Test::More::is(::statuses(@r), '200 x5, 429 x7',
               "$name: exactly 5 admitted");
my $calls = ::gate_calls($::Gate);
my $sum = 0;
$sum += $_->[0] for @$calls;
Test::More::is($sum, 12, "$name: the calls carried the 12 requests ("
                         . ::calls() . ")");
Test::More::cmp_ok(scalar @$calls, '<=', 2, "$name: in at most 2 calls");
Test::More::is(::evalsha_calls(), scalar @$calls,
               "$name: Redis ran as many EVALSHA as the gate saw");
my @rem = sort map { $_->{headers}{'ratelimit-remaining'} // '-' }
               grep { $_->{status} == 200 } @r;
Test::More::is("@rem", '0 1 2 3 4', "$name: each admitted one counted once");
--- request
GET /t
--- error_code: 429
--- response_headers
RateLimit-Limit: 5
RateLimit-Remaining: 0
--- no_error_log eval
# the 429s are logged at error (api_led_rate_limit_log_level)
[qr/\[error\](?!.* api_led: limiting requests, limit )/, "[alert]"]



=== TEST 2: all-or-nothing inside one batch: the requests rejected by one limit consume nothing of the other
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t037-2 name=a;
        api_led_rate_limit 10r/m key=t037-2 name=b;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /b {
        api_led_rate_limit 10r/m key=t037-2 name=b;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-2-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 2';
my ($from, $first) = ::hold_first_call('/first', $name);
my @r = map { ::send_request('/t') } 1 .. 8;
::await_requests(9, $from, $name);
::gate_release($::Gate);
::read_responses($first, @r);
Test::More::is($first->{status}, 200, "$name: the call in flight");
Test::More::is(::calls(), '1 1, 8 2', "$name: the 8 requests in one call");
Test::More::is(::statuses(@r), '200 x3, 429 x5', "$name: 3 admitted by a");
my @ra = grep { $_ } map { $_->{headers}{'retry-after'} }
                     grep { $_->{status} == 429 } @r;
Test::More::is(scalar @ra, 5, "$name: each rejected one has Retry-After");
# b counted 3 requests (18 s ahead), not 8 (48 s)
my $tb = ::pttl('api_led:{t037-2}:b');
Test::More::ok($tb > 12000 && $tb <= 18000,
               "$name: b holds 3 requests ($tb ms)");
my $ta = ::pttl('api_led:{t037-2}:a');
Test::More::ok($ta > 40000 && $ta <= 60000,
               "$name: a holds 3 requests ($ta ms)");
--- request
GET /b
--- response_headers
RateLimit-Limit: 10
RateLimit-Remaining: 6
--- no_error_log eval
# the 429s are logged at error (api_led_rate_limit_log_level)
[qr/\[error\](?!.* api_led: limiting requests, limit )/]



=== TEST 3: different keys in one batch each get their own count, each key sent and written once
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 2r/m key=t037-3-$arg_k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-3-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 3';
::gate_reset($::Gate);
::redis_cli($ENV{TEST_NGINX_REDIS_PORT}, 'config', 'resetstat');
my $from = ::log_size();
::gate_hold($::Gate);
my $first = ::send_request('/first');
::await_calls(1, $name);
my @r = map { ::send_request("/t?k=$_") } qw(a b c a b a b);
::await_requests(8, $from, $name);
::gate_release($::Gate);
::read_responses($first, @r);
Test::More::is($first->{status}, 200, "$name: the call in flight");
Test::More::is(::calls(), '1 1, 7 3',
               "$name: the 7 requests in one call, with 3 keys");
for my $k (qw(a b c)) {
    my @k = grep { $_->{path} eq "/t?k=$k" } @r;
    Test::More::is(::statuses(@k), $k eq 'c' ? '200 x1' : '200 x2, 429 x1',
                   "$name: key $k counted alone");
}
my ($c) = grep { $_->{path} eq '/t?k=c' } @r;
Test::More::is($c->{headers}{'ratelimit-remaining'}, 1,
               "$name: key c has one left");
Test::More::is(::cmd_calls('mget'), 2, "$name: one MGET per call");
Test::More::is(::cmd_calls('psetex'), 4,
               "$name: one PSETEX per key written (first, a, b, c)");
my $ta = ::pttl('api_led:{t037-3-a}:2r/m');
Test::More::ok($ta > 50000 && $ta <= 60000,
               "$name: a holds 2 requests ($ta ms)");
--- request
GET /t?k=c
--- response_headers
RateLimit-Remaining: 0
--- no_error_log eval
# the 429s are logged at error (api_led_rate_limit_log_level)
[qr/\[error\](?!.* api_led: limiting requests, limit )/]



=== TEST 4: a client gone before its batch leaves: its place is dropped, it consumes nothing
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 5r/m key=t037-4;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-4-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 4';
my ($from, $first) = ::hold_first_call('/first', $name);
my $gone = ::send_request('/t');
::await_requests(2, $from, $name);
close $gone->{sock};
::await_log(qr/request gone while waiting for redis/, $from, $name);
my @r = map { ::send_request('/t') } 1 .. 2;
::await_requests(4, $from, $name);
::gate_release($::Gate);
::read_responses($first, @r);
Test::More::is(::statuses($first, @r), '200 x3', "$name: the others admitted");
Test::More::is(::calls(), '1 1, 2 1',
               "$name: the next call carried 2 requests");
my @rem = sort map { $_->{headers}{'ratelimit-remaining'} } @r;
Test::More::is("@rem", '3 4', "$name: the gone one was not counted");
--- request
GET /t
--- response_headers
RateLimit-Remaining: 2
--- error_log
client prematurely closed connection
api_led limit: request gone while waiting for redis
--- no_error_log
api_led limit: a reply for a request gone
[error]
[alert]



=== TEST 5: a client gone after its batch left: its share of the reply is skipped, Redis counted it
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 5r/m key=t037-5;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 5';
my ($from, $gone) = ::hold_first_call('/t', $name);
close $gone->{sock};
::await_log(qr/request gone while waiting for redis/, $from, $name);
my $next = ::send_request('/t');
::await_requests(2, $from, $name);
::gate_release($::Gate);
::read_responses($next);
Test::More::is($next->{status}, 200, "$name: the next one admitted");
Test::More::is(::calls(), '1 1, 1 1', "$name: one call each");
Test::More::is($next->{headers}{'ratelimit-remaining'}, 3,
               "$name: the gone one was counted");
::await_log(qr/a reply for a request gone/, $from, $name);
--- request
GET /t
--- response_headers
RateLimit-Remaining: 2
--- no_error_log
[error]
[alert]



=== TEST 6: the call in flight times out: the batch behind it gets 503 at once (on_error=closed)
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_SHORT_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 100r/s key=t037-6 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Time $request_time always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 6';
my ($from, $first) = ::hold_first_call('/t', $name);
my @r = map { ::send_request('/t') } 1 .. 5;
::await_requests(6, $from, $name);
::read_responses($first, @r);
Test::More::is(::statuses($first, @r), '503 x6', "$name: every request 503");
Test::More::is(scalar(grep { $_->{headers}{'retry-after'} } $first, @r), 6,
               "$name: with Retry-After");
Test::More::is(::calls(), '1 1', "$name: the batch behind was never sent");
my @late = grep { $_->{done} - $_->{sent} > $::Timeout + $::Slack }
           $first, @r;
Test::More::is(scalar @late, 0,
               "$name: each answered within the timeout of its arrival");
Test::More::cmp_ok($first->{headers}{'x-time'}, '>=', $::Timeout - 0.01,
                   "$name: the first one waited for the timeout");
my @slow = grep { $_->{done} - $first->{done} > $::Timeout / 2 } @r;
Test::More::is(scalar @slow, 0,
               "$name: the others answered with it, not a timeout later");
--- request
GET /t
--- error_code: 503
--- error_log
redis unavailable: timed out waiting for a reply
--- no_error_log
[alert]



=== TEST 7: Redis closes the connection in the middle of a call: the batch behind it goes through at once (on_error=open)
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 1r/m key=t037-7 on_error=open;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
        add_header X-Time $request_time always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 7';
my ($from, $first) = ::hold_first_call('/t', $name);
my @r = map { ::send_request('/t') } 1 .. 4;
::await_requests(5, $from, $name);
my $t0 = Time::HiRes::time();
::gate_drop($::Gate);
::read_responses($first, @r);
Test::More::is(::statuses($first, @r), '200 x5',
               "$name: every request let through");
Test::More::is(join(' ', map { $_->{headers}{'x-store'} } $first, @r),
               'none none none none none', "$name: not counted");
Test::More::is(::calls(), '1 1', "$name: the batch behind was never sent");
my @slow = grep { $_->{done} - $t0 > $::Slack } $first, @r;
Test::More::is(scalar @slow, 0, "$name: all answered at once");
--- request
GET /t
--- error_log
redis unavailable
api_led: redis unavailable, rate limits are not enforced (on_error=open)
--- no_error_log
[alert]



=== TEST 8: Redis closes the connection in the middle of a call: the batch behind it is counted locally (on_error=local)
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t037-8 on_error=local;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 8';
my ($from, $first) = ::hold_first_call('/t', $name);
my @r = map { ::send_request('/t') } 1 .. 5;
::await_requests(6, $from, $name);
::gate_drop($::Gate);
::read_responses($first, @r);
Test::More::is(::statuses($first, @r), '200 x3, 429 x3',
               "$name: 3 admitted on this node");
Test::More::is(join(' ', map { $_->{headers}{'x-store'} } $first, @r),
               'local local local local local local', "$name: counted locally");
Test::More::is(::calls(), '1 1', "$name: the batch behind was never sent");
--- request
GET /t
--- error_code: 429
--- error_log
redis unavailable
--- no_error_log
[alert]



=== TEST 9: a batch holds at most 255 limits: a full one leaves even while a call is on its way
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 1000r/d key=t037-9 name=l1;
        api_led_rate_limit 1000r/d key=t037-9 name=l2;
        api_led_rate_limit 1000r/d key=t037-9 name=l3;
        api_led_rate_limit 1000r/d key=t037-9 name=l4;
        api_led_rate_limit 1000r/d key=t037-9 name=l5;
        api_led_rate_limit 1000r/d key=t037-9 name=l6;
        api_led_rate_limit 1000r/d key=t037-9 name=l7;
        api_led_rate_limit 1000r/d key=t037-9 name=l8;
        api_led_rate_limit 1000r/d key=t037-9 name=l9;
        api_led_rate_limit 1000r/d key=t037-9 name=l10;
        api_led_rate_limit 1000r/d key=t037-9 name=l11;
        api_led_rate_limit 1000r/d key=t037-9 name=l12;
        api_led_rate_limit 1000r/d key=t037-9 name=l13;
        api_led_rate_limit 1000r/d key=t037-9 name=l14;
        api_led_rate_limit 1000r/d key=t037-9 name=l15;
        api_led_rate_limit 1000r/d key=t037-9 name=l16;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-9-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 9';
my ($from, $first) = ::hold_first_call('/first', $name);
# 16 limits each: 15 requests fill 240 of the 255 places, the 16th does
# not fit and opens the next batch
my @r = map { ::send_request('/t') } 1 .. 16;
::await_requests(17, $from, $name);
::await_calls(2, $name);
Test::More::is(::calls(), '1 1, 15 16',
               "$name: the full batch left while the first call was held");
::gate_release($::Gate);
::read_responses($first, @r);
Test::More::is(::statuses($first, @r), '200 x17', "$name: all admitted");
Test::More::is(::calls(), '1 1, 15 16, 1 16', "$name: the last one after");
my @rem = sort { $a <=> $b }
          map { $_->{headers}{'ratelimit-remaining'} } @r;
Test::More::is("@rem[0, -1]", '984 999', "$name: each counted once");
--- request
GET /t
--- response_headers
RateLimit-Remaining: 983
--- no_error_log
[error]
[alert]



=== TEST 10: requests that wait behind a slow call longer than the timeout get on_error, Redis stays up
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_SLOW_PORT timeout=$TEST_NGINX_SLOW_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 100r/s key=t037-10 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 10';
my $from = ::log_size();
# the first call leaves alone; three requests come while it is on its way
my $first = ::send_request('/t');
::await_requests(1, $from, $name);
my @r = map { ::send_request('/t') } 1 .. 3;
::await_requests(4, $from, $name);
::read_responses($first, @r);
Test::More::is($first->{status}, 200, "$name: the first call answered in time");
Test::More::is(::statuses(@r), '503 x3',
               "$name: those behind it waited the timeout: on_error=closed");
my @early = grep { $_->{done} - $_->{sent} < $::SlowTimeout - 0.05 } @r;
my @late = grep { $_->{done} - $_->{sent} > $::SlowTimeout + $::Slack } @r;
Test::More::is(scalar @early + scalar @late, 0,
               "$name: answered after the timeout of their arrival, not later");
::await_log(qr/rate limit checks waited \d+ ms for redis/, $from, $name);
--- request
GET /t
--- response_headers
X-Store: redis
--- error_log
rate limit checks waited
--- no_error_log
redis unavailable
[alert]



=== TEST 11: every request of a batch gone before it leaves: no call is made, and the next batches work
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /t {
        api_led_rate_limit 50r/m key=t037-11;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-11-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 11';
my ($from, $first) = ::hold_first_call('/first', $name);
my @gone = map { ::send_request('/t') } 1 .. 2;
::await_requests(3, $from, $name);
close $_->{sock} for @gone;
Test::More::ok(::wait_until(sub {
    my $n = () = ::log_text($from) =~ /request gone while waiting/g;
    return $n >= 2;
}, $::Await), "$name: both clients gone");
::gate_release($::Gate);
::read_responses($first);
Test::More::is($first->{status}, 200, "$name: the first call answered");
# each request now opens a batch of its own, in the memory of the last one
my @r;
for (1 .. 5) {
    my $req = ::send_request('/t');
    ::read_responses($req);
    push @r, $req;
}
Test::More::is(::statuses(@r), '200 x5', "$name: the next requests admitted");
Test::More::is(::calls(), '1 1, 1 1, 1 1, 1 1, 1 1, 1 1',
               "$name: no call for the empty batch");
my @rem = map { $_->{headers}{'ratelimit-remaining'} } @r;
Test::More::is("@rem", '49 48 47 46 45', "$name: the gone ones not counted");
--- request
GET /t
--- response_headers
RateLimit-Remaining: 44
--- no_error_log
a reply for a request gone
[error]
[alert]



=== TEST 12: two limits of one request whose keys come out equal share one bucket: the request counts once
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /t {
        api_led_rate_limit 10r/m key=t037-12-$arg_a name=same;
        api_led_rate_limit 10r/m key=t037-12-$arg_b name=same;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
::http_get(::nginx_port(), '/t?a=x&b=x') for 1 .. 2;
--- request
GET /t?a=x&b=x
--- response_headers
RateLimit-Remaining: 7
--- no_error_log
[error]



=== TEST 13: limits of one name and key with two rates in one call: Retry-After is the wait the bucket's TAT makes, not the faster rate's T
The script cuts a TAT to the largest full bucket of the call's limits of
its key (t/039 TEST 6): here 1r/m burst=5's, 360 s, so the TAT of a full
1r/m bucket stays. The 10r/s burst=5 request of that call was answered
from its own full bucket (600 ms): Retry-After 1, while that TAT refuses
it for about 6 minutes (and again after 1 s, whenever the 1r/m limit
shares its call).
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_GATE_PORT timeout=$TEST_NGINX_HOLD_TIMEOUT;
--- config
    location /slow {
        api_led_rate_limit 1r/m burst=5 key=t037-13 name=t037-13;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /fast {
        api_led_rate_limit 10r/s burst=5 key=t037-13 name=t037-13;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /first {
        api_led_rate_limit 100r/s key=t037-13-first;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
my $name = 'TEST 13';
::gate_reset($::Gate);
my @st = map { (::http_get(::nginx_port(), '/slow'))[0] } 1 .. 6;
Test::More::is("@st", '200 200 200 200 200 200',
               "$name: 1r/m burst=5 admits 6, its bucket is full");
my ($from, $first) = ::hold_first_call('/first', $name);
my @r = map { ::send_request($_) } qw(/slow /fast);
::await_requests(3, $from, $name);
::gate_release($::Gate);
::read_responses($first, @r);
Test::More::is(::calls(), '1 1, 2 1', "$name: /slow and /fast in one call");
my ($slow, $fast) = @r;
Test::More::is($slow->{status}, 429, "$name: /slow refused");
Test::More::is($slow->{headers}{'retry-after'}, 60,
               "$name: /slow waits its T");
Test::More::is($fast->{status}, 429, "$name: /fast refused");
my $ttl = ::pttl('api_led:{t037-13}:t037-13');
Test::More::ok($ttl > 350000, "$name: the bucket kept its TAT ($ttl ms)");
# /fast is admitted when the TAT is 500 ms (its tau) ahead, not before
my $ra = $fast->{headers}{'retry-after'} // 0;
Test::More::ok($ra * 1000 >= $ttl - 500,
               "$name: /fast's Retry-After ($ra s) is not before the TAT"
               . " lets it in (" . ($ttl - 500) . " ms)");
Test::More::ok($fast->{headers}{'ratelimit-reset'} >= $ra,
               "$name: /fast's RateLimit-Reset is no earlier");
--- request
GET /slow
--- error_code: 429
--- response_headers
Retry-After: 60
--- no_error_log
unexpected reply
