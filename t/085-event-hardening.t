# Event delivery and streams against a hostile or failing Redis: an
# acknowledgement that fails does not count a delivery twice; an entry
# another producer made larger than a reply may be (4 MB) is skipped, with
# one error line, by the subscribers (live, resuming, new) and the
# listeners, which go on with the next entries.  A resuming subscriber
# whose catch-up read Redis refuses (WRONGTYPE, NOPERM) logs it once and
# asks again less and less often, and goes on once Redis answers.
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

sub redis { ApiLed::Events::redis($rp, @_) }
sub req { ApiLed::Events::request(@_) }
sub wait_until { ApiLed::Events::wait_until(@_) }

sub pending {
    my ($key) = @_;
    my $r = redis('XPENDING', $key, 'g');
    return ref $r eq 'ARRAY' ? $r->[0] : -1;
}

sub event {
    my ($id) = @_;
    return qq({"specversion":"1.0","id":"$id","source":"t085",)
         . qq("type":"thing.happened","data":{"n":"$id"}});
}

sub xadd {
    my ($key, $event) = @_;
    return redis('XADD', $key, '*', 'type', 'thing.happened',
                 'event', $event);
}

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_metrics_zone api_led:1m;

    api_led_event_deliver t085.ack group=g to=/hook/ack;
    api_led_event_deliver t085.big group=g to=/hook/big;

    server {
        listen 127.0.0.1:\$PORT;

        location /hook/ {
            return 204;
        }

        location /metrics {
            api_led_metrics;
        }

        location /big {
            api_led_event_stream t085.big;
        }

        location /top {
            api_led_event_stream t085.top;
        }

        location /wrong {
            api_led_event_stream t085.wrong;
        }

        location /denied {
            api_led_event_stream t085.denied;
        }
    }
HTTP

my $port = $ngx->{port};
my $log = sub { ApiLed::Events::error_log($ngx) };

sub metric {
    my ($stream, $outcome) = @_;
    my (undef, undef, $text) = req($port, 'GET', '/metrics');
    return $text =~ /^api_led_events_total\{stream="\Q$stream\E",outcome="$outcome"\} (\d+)$/m
           ? $1 : 0;
}

# --- an acknowledgement that fails: counted once (when it is acknowledged)

ok(wait_until(sub { ref redis('XINFO', 'GROUPS', 't085.ack') eq 'ARRAY'
                    && @{ redis('XINFO', 'GROUPS', 't085.ack') } }),
   'the listener made its group');

# the default user may not XACK for a while: the ack is refused (NOPERM)
# and made again later (t/087)
redis('ACL', 'SETUSER', 'default', '-xack');

my $aid = xadd('t085.ack', event('ack-1'));

ok(wait_until(sub { $log->() =~ /listener of stream "t085\.ack": acknowledging failed: "NOPERM/ }, 8),
   'delivered, but the acknowledgement failed');
is(pending('t085.ack'), 1, 'the entry is still pending');
is(metric('t085.ack', 'delivered'), 0, 'not counted as delivered yet');

redis('ACL', 'SETUSER', 'default', '+@all');

ok(wait_until(sub { pending('t085.ack') == 0 }, 10),
   'acknowledged at its next try');
ok(wait_until(sub { metric('t085.ack', 'delivered') >= 1 }),
   'then counted');
sleep 0.5;
is(metric('t085.ack', 'delivered'), 1, 'delivered counted once');

# --- an entry larger than a reply may be, from another producer ----------

sub got {
    my ($c, $n, $secs) = @_;
    ApiLed::Events::sse_read($c, $secs || 3,
        sub { scalar(grep { defined $_->{id} } @{ $_[0]{events} }) >= $n });
    return [ map { $_->{id} } grep { defined $_->{id} } @{ $c->{events} } ];
}

my $huge = '{"data":"' . ('x' x (5 * 1024 * 1024)) . '"}';

my $live = ApiLed::Events::sse_open($port, '/big');
is($live && $live->{status}, 200, 'a subscriber');
ApiLed::Events::sse_read($live, 1, sub { @{ $_[0]{events} } >= 1 });

my $b1 = xadd('t085.big', event('big-1'));
my $bx = redis('XADD', 't085.big', '*', 'type', 'thing.happened',
               'event', $huge);
my $b2 = xadd('t085.big', event('big-2'));
my $b3 = xadd('t085.big', event('big-3'));

is_deeply(got($live, 3, 10), [ $b1, $b2, $b3 ],
          'a live subscriber gets the entries around the large one');
ApiLed::Events::sse_close($live);

my $res = ApiLed::Events::sse_open($port, '/big', { 'Last-Event-ID' => '0-1' });
is_deeply(got($res, 3, 10), [ $b1, $b2, $b3 ],
          'a resuming subscriber too');
ApiLed::Events::sse_close($res);

ok(wait_until(sub { pending('t085.big') == 0 }, 15),
   'the listener gets past it: nothing left pending');
my $lines = () = $log->() =~ /entry \Q$bx\E is larger than/g;
cmp_ok($lines, '>=', 1, 'the large entry is logged with its id');
like($log->(), qr/stream "t085.big".*entry \Q$bx\E is larger than/,
     'and its stream');

# the stream's last entry is the large one: a new subscriber starts
redis('XADD', 't085.top', '*', 'type', 'thing.happened', 'event', $huge);
my $top = ApiLed::Events::sse_open($port, '/top');
ApiLed::Events::sse_read($top, 3, sub { @{ $_[0]{events} } >= 1 });
is($top && $top->{status}, 200,
   'a new subscriber of a stream that ends with it starts');
my $t1 = xadd('t085.top', event('top-1'));
is_deeply(got($top, 1, 10), [ $t1 ], 'and gets what comes next');
ApiLed::Events::sse_close($top);

$lines = () = $log->() =~ /is larger than/g;
cmp_ok($lines, '<=', 4, "each large entry logged once by each reader ($lines)");

# --- a catch-up read that Redis refuses, lastingly ------------------------

sub xrange_calls {
    my $info = redis('INFO', 'commandstats');
    return $info =~ /cmdstat_xrange:calls=(\d+)/ ? $1 : 0;
}

# the key holds no stream: every XRANGE is WRONGTYPE (it was asked again
# every second, and nothing said why)
redis('SET', 't085.wrong', 'x');
my $x0 = xrange_calls();
my $wrong = ApiLed::Events::sse_open($port, '/wrong',
                                     { 'Last-Event-ID' => '1-0' });
is($wrong && $wrong->{status}, 200, 'a subscriber of a key of another type');
sleep 8.5;
my $asked = xrange_calls() - $x0;
cmp_ok($asked, '<=', 5,
       "asked less and less often: 1, 2, 4 s... ($asked XRANGE in 8.5 s)");
cmp_ok($asked, '>=', 2, 'but asked again');
ApiLed::Events::sse_read($wrong, 0.2);
ok(!$wrong->{eof}, 'its stream stays open');
ApiLed::Events::sse_close($wrong);
$lines = () = $log->() =~ /event stream "t085\.wrong": catching up failed: "WRONGTYPE/g;
is($lines, 1, 'the refusal logged once, with the stream');

# the ACL user may not XRANGE for a while: logged, then read once it may
my $d1 = xadd('t085.denied', event('denied-1'));
redis('ACL', 'SETUSER', 'default', '-xrange');
my $denied = ApiLed::Events::sse_open($port, '/denied',
                                      { 'Last-Event-ID' => '0-1' });
is($denied && $denied->{status}, 200, 'a subscriber the ACL stops');
ok(wait_until(sub { $log->() =~ /event stream "t085\.denied": catching up failed: "NOPERM/ }, 5),
   'the refusal logged');
redis('ACL', 'SETUSER', 'default', '+@all');
is_deeply(got($denied, 1, 8), [ $d1 ], 'once it may, it catches up');
ApiLed::Events::sse_close($denied);

stop_nginx($ngx);
stop_redis($R);

done_testing();
