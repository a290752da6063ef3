# The outbox: events published while Redis is away wait in a worker's
# bounded outbox and reach the stream in order once Redis is back; the
# clients are answered meanwhile without waiting; what does not fit is
# dropped, counted ($api_led_event_dropped, api_led_events_total) and
# logged once per outage.  Redis is stopped and restarted mid-stream.
#
# Runs its own redis-server and nginx.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use ApiLed::Redis qw(start_redis stop_redis start_nginx stop_nginx);
use ApiLed::Events;

my $R = start_redis();
my $rp = $R->{port};

sub xrange { ApiLed::Events::xrange($rp, @_) }
sub req { ApiLed::Events::request(@_) }

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_event_outbox 4k;
    api_led_metrics_zone api_led:1m;

    server {
        listen 127.0.0.1:\$PORT;

        location /pub {
            api_led_event thing.happened stream=t076
                'data={"n":"\$arg_n","pad":"\$arg_pad"}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /wrong {
            api_led_event thing.refused stream=t076:wrong;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok";
        }

        location /outbox {
            return 200 "queued=\$api_led_event_queued dropped=\$api_led_event_dropped";
        }

        location /metrics {
            api_led_metrics;
        }
    }
HTTP

my $port = $ngx->{port};

sub publish {
    my ($n, $pad) = @_;
    my $t = time;
    my ($st) = req($port, 'GET', "/pub?n=$n" . ($pad ? "&pad=$pad" : ''));
    return ($st, time - $t);
}

sub outbox { (req($port, 'GET', '/outbox'))[2] }

sub numbers { join ',', map { $_->{event}{data}{n} } @{ xrange('t076') } }

sub metric {
    my ($outcome) = @_;
    my (undef, undef, $text) = req($port, 'GET', '/metrics');
    return $text =~ /^api_led_events_total\{stream="t076",outcome="$outcome"\} (\d+)$/m
           ? $1 : 0;
}

# Redis up: published at once
publish($_) for 1 .. 3;
ok(ApiLed::Events::wait_until(sub { numbers() eq '1,2,3' }),
   'Redis up: the events are in the stream') or diag(numbers());
is(outbox(), 'queued=0 dropped=0', 'the outbox is empty');

# Redis stops: clients are answered without waiting, events wait
stop_redis($R);

my $slowest = 0;
for my $n (4 .. 9) {
    my ($st, $took) = publish($n);
    is($st, 200, "Redis down: request $n answered");
    $slowest = $took if $took > $slowest;
}
cmp_ok($slowest, '<', 0.25, 'no request waited for Redis');
ok(ApiLed::Events::wait_until(sub { outbox() eq 'queued=6 dropped=0' }),
   'six events wait in the outbox') or diag(outbox());
like(ApiLed::Events::error_log($ngx),
     qr/\[warn\].*api_led: redis unavailable, \d+ events wait in the outbox/,
     'the wait is logged');

# Redis is back (an empty one: not persisted): the events arrive in order
$R = start_redis(port => $rp);
ok(ApiLed::Events::wait_until(sub { numbers() eq '4,5,6,7,8,9' }, 8),
   'Redis back: the waiting events arrive, in order') or diag(numbers());
ok(ApiLed::Events::wait_until(sub { outbox() eq 'queued=0 dropped=0' }),
   'the outbox is empty again');
like(ApiLed::Events::error_log($ngx),
     qr/\[notice\].*api_led: redis takes events again, \d+ waiting/,
     'the recovery is logged');

publish(10);
ok(ApiLed::Events::wait_until(sub { numbers() eq '4,5,6,7,8,9,10' }),
   'and new events follow them');

# the bound: 4k of events of about 600 bytes; Redis away again
stop_redis($R);
my $pad = 'x' x 300;
my @answered;
for my $n (11 .. 30) {
    my ($st) = publish($n, $pad);
    push @answered, $st;
}
is(join(',', grep { $_ != 200 } @answered), '', 'every client answered');

my ($queued, $dropped);
ok(ApiLed::Events::wait_until(sub {
       (outbox() =~ /^queued=(\d+) dropped=(\d+)$/)
       && (($queued, $dropped) = ($1, $2)) && $queued + $dropped == 20 }),
   'the events waiting and dropped make the 20') or diag(outbox());
cmp_ok($queued, '>', 0, "some wait ($queued)");
cmp_ok($queued, '<', 10, 'no more than 4k of them');
cmp_ok($dropped, '>', 0, "the others were dropped ($dropped)");

my @full = (ApiLed::Events::error_log($ngx)
            =~ /api_led: the event outbox is full \(\d+ bytes, \d+ events waiting for redis\): events are dropped, first "thing.happened" to "t076"/g);
is(scalar @full, 1, 'the drops are logged once in the outage');

$R = start_redis(port => $rp);
my $expect = join ',', 11 .. 10 + $queued;
ok(ApiLed::Events::wait_until(sub { numbers() eq $expect }, 8),
   'the oldest events waited and arrive in order') or diag(numbers());
like(ApiLed::Events::error_log($ngx),
     qr/api_led: redis takes events again, $dropped were dropped meanwhile/,
     'the recovery says how many were dropped');
is(outbox(), "queued=0 dropped=$dropped",
   '$api_led_event_dropped keeps the worker\'s count');

# the counters
is(metric('published'), 3 + 6 + 1 + $queued, 'published');
is(metric('dropped'), $dropped, 'dropped');
cmp_ok(metric('queued'), '>=', 6 + $queued, 'queued: the events that waited');

# a stream that Redis refuses (its key holds a string: WRONGTYPE) would
# refuse its events for ever: they are dropped, counted and logged, not
# kept at the head of the outbox, where they held every stream's events
# (the outbox full, all dropped)
ApiLed::Events::redis($rp, 'DEL', 't076:wrong');
ApiLed::Events::redis($rp, 'SET', 't076:wrong', 'a string');
for my $n (1 .. 6) {
    my ($st) = req($port, 'GET', "/wrong?n=$n");
    is($st, 200, "a refused stream: request $n answered");
}
publish(31);
ok(ApiLed::Events::wait_until(sub { numbers() =~ /,31$/ }),
   'the events of another stream are published meanwhile')
   or diag(numbers());
ok(ApiLed::Events::wait_until(sub {
       outbox() eq 'queued=0 dropped=' . ($dropped + 6) }),
   'the refused events left the outbox, counted as dropped')
   or diag(outbox());
like(ApiLed::Events::error_log($ngx),
     qr/\[error\].*api_led: redis refused the stream "t076:wrong", \d+ events dropped/,
     'the refusal is logged');
my (undef, undef, $mtext) = req($port, 'GET', '/metrics');
like($mtext, qr/^api_led_events_total\{stream="t076:wrong",outcome="dropped"\} 6$/m,
     'api_led_events_total counts them dropped');
publish(32);
ok(ApiLed::Events::wait_until(sub { numbers() =~ /,31,32$/ }),
   'and the next events follow') or diag(numbers());

# a stream whose last entry has the largest ID there is takes no more
# entries (Redis: "exhausted the last possible ID"): refused for ever too
ApiLed::Events::redis($rp, 'DEL', 't076:wrong');
ApiLed::Events::redis($rp, 'XADD', 't076:wrong',
                      '18446744073709551615-18446744073709551615', 'a', 'b');
for my $n (1 .. 2) {
    my ($st) = req($port, 'GET', "/wrong?n=$n");
    is($st, 200, "an exhausted stream: request $n answered");
}
publish(33);
ok(ApiLed::Events::wait_until(sub { numbers() =~ /,32,33$/ }),
   'an exhausted stream: the events of another stream are published')
   or diag(numbers());
ok(ApiLed::Events::wait_until(sub {
       outbox() eq 'queued=0 dropped=' . ($dropped + 8) }),
   'an exhausted stream: its events left the outbox, counted as dropped')
   or diag(outbox());
(undef, undef, $mtext) = req($port, 'GET', '/metrics');
like($mtext, qr/^api_led_events_total\{stream="t076:wrong",outcome="dropped"\} 8$/m,
     'an exhausted stream: api_led_events_total counts them dropped');

# a second outage, the drops logged once again
stop_redis($R);
publish($_, $pad) for 1 .. 12;
ok(ApiLed::Events::wait_until(sub {
       my @f = (ApiLed::Events::error_log($ngx) =~ /the event outbox is full/g);
       @f == 2 }), 'a new outage: logged once more');

# an event larger than the whole outbox, Redis up: dropped and logged; a
# later outage's first drop is still logged (the first drop's mark was
# only cleared when Redis came back from an outage: the next outage's
# drops went unsaid)
$R = start_redis(port => $rp);
ok(ApiLed::Events::wait_until(sub { outbox() =~ /^queued=0 / }, 8),
   'Redis back, the outbox empty') or diag(outbox());
publish(40, 'x' x 5000);
ok(ApiLed::Events::wait_until(sub {
       my @f = (ApiLed::Events::error_log($ngx) =~ /the event outbox is full/g);
       @f == 3 }), 'an event larger than the outbox: dropped, logged');
publish(41);
ok(ApiLed::Events::wait_until(sub { numbers() =~ /,41$/ }),
   'the next one published') or diag(numbers());
stop_redis($R);
publish($_, $pad) for 1 .. 12;
ok(ApiLed::Events::wait_until(sub {
       my @f = (ApiLed::Events::error_log($ngx) =~ /the event outbox is full/g);
       @f == 4 }), 'a third outage: its first drop logged');

unlike(ApiLed::Events::error_log($ngx), qr/\[(alert|crit|emerg)\]/,
       'no alert');

stop_nginx($ngx);

like(ApiLed::Events::error_log($ngx),
     qr/api_led: \d+ events of the outbox lost at exit, redis did not take them/,
     'what the outbox held at exit is logged');

# an ACL user that may not run XADD: inside the script, Redis 7 answers
# "ERR The user executing the script can't run this command" (no
# NOPERM): a refusal too, not an outage that holds the outbox
$R = start_redis(port => $rp);
ApiLed::Events::redis($rp, 'ACL', 'SETUSER', 't076acl', 'on', '>t076pw',
                      '~*', '+@all', '-xadd');
$ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp user=t076acl password=t076pw timeout=300ms;
    api_led_event_outbox 4k;

    server {
        listen 127.0.0.1:\$PORT;

        location /pub {
            api_led_event thing.happened stream=t076:acl;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok";
        }

        location /outbox {
            return 200 "queued=\$api_led_event_queued dropped=\$api_led_event_dropped";
        }
    }
HTTP
$port = $ngx->{port};
my ($acl_st) = req($port, 'GET', '/pub');
is($acl_st, 200, 'a user that may not XADD: the request answered');
ok(ApiLed::Events::wait_until(sub { outbox() eq 'queued=0 dropped=1' }),
   'a user that may not XADD: the event refused, not held')
   or diag(outbox());
like(ApiLed::Events::error_log($ngx),
     qr/api_led: redis refused the stream "t076:acl"/,
     'a user that may not XADD: the refusal logged');
stop_nginx($ngx);

done_testing();
