# Event streams that Redis refuses for as long as nobody fixes them (an
# error reply that waiting does not change: WRONGTYPE, NOPERM): the
# worker's reader of the stream, and a resuming subscriber that skips an
# entry too large to read, log it once and ask again less and less often
# (1, 2, 4 s... up to 30 s), as a resuming subscriber's catch-up does
# (t/085); the subscribers stay connected; once Redis answers, the
# stream goes on.  A resuming subscriber's reads of an entry too large
# fail no connection of the rate limits.
#
# Runs its own redis-server and nginx.  Redis's INFO commandstats counts
# the commands nginx sent.
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
sub wait_until { ApiLed::Events::wait_until(@_) }

sub xadd {
    my ($key, $id) = @_;
    return redis('XADD', $key, '*', 'type', 'thing.happened', 'event',
                 qq({"specversion":"1.0","id":"$id","source":"t086"}));
}

# the calls of a command Redis ran or refused (an ACL's NOPERM)
sub calls {
    my ($cmd) = @_;
    my $info = redis('INFO', 'commandstats');
    my $n = 0;
    $n += $1 if $info =~ /cmdstat_$cmd:calls=(\d+)/;
    $n += $1 if $info =~ /cmdstat_$cmd:.*rejected_calls=(\d+)/;
    return $n;
}

sub got {
    my ($c, $n, $secs) = @_;
    ApiLed::Events::sse_read($c, $secs,
        sub { scalar(grep { defined $_->{id} } @{ $_[0]{events} }) >= $n });
    return [ map { $_->{id} } grep { defined $_->{id} } @{ $c->{events} } ];
}

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;

    server {
        listen 127.0.0.1:\$PORT;

        location /wrong {
            api_led_event_stream t086.wrong;
        }

        location /gone {
            api_led_event_stream t086.gone;
        }

        location /big {
            api_led_event_stream t086.big;
        }

        location /skip {
            api_led_event_stream t086.skip;
        }

        location /limited {
            api_led_rate_limit 100000r/s key=t086 on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/ok;
        }

        location /ok {
            return 200 "ok\n";
        }
    }
HTTP

my $port = $ngx->{port};
my $log = sub { ApiLed::Events::error_log($ngx) };
my $lines = sub { my ($re) = @_; scalar(() = $log->() =~ /$re/g) };

# --- the reader's reads, refused -----------------------------------------

# a subscriber streaming, then its stream's key holds a string: the
# reader's XREAD is WRONGTYPE once its BLOCK ends (ended here at once)
xadd('t086.gone', 'gone-1');
my $gone = ApiLed::Events::sse_open($port, '/gone');
is($gone && $gone->{status}, 200, 'a subscriber streaming');
ok(wait_until(sub { redis('CLIENT', 'LIST') =~ /cmd=xread/ }, 3),
   'its reader waits in XREAD');
redis('DEL', 't086.gone');
redis('SET', 't086.gone', 'x');
my ($reader) = redis('CLIENT', 'LIST') =~ /\bid=(\d+)\b[^\n]*cmd=xread/;
redis('CLIENT', 'UNBLOCK', $reader);

# a key that never held a stream: where it ends (XREVRANGE) is refused;
# a resuming subscriber keeps the reader reading
redis('SET', 't086.wrong', 'x');
my $xrev = calls('xrevrange');
my $xread = calls('xread');
my $wrong = ApiLed::Events::sse_open($port, '/wrong',
                                     { 'Last-Event-ID' => '1-0' });
is($wrong && $wrong->{status}, 200, 'a resuming subscriber of a string');

# each read was made again every second (4 or 5 in 4.5 s) and the error
# logged every second; now after 1, 2, 4 s: 3
sleep 4.5;
my $n = calls('xrevrange') - $xrev;
cmp_ok($n, '<=', 3, "XREVRANGE refused: asked less often ($n in 4.5 s)");
cmp_ok($n, '>=', 2, 'but asked again');
$n = calls('xread') - $xread;
cmp_ok($n, '<=', 3, "XREAD refused: asked less often ($n in 4.5 s)");
cmp_ok($n, '>=', 2, 'but asked again');

is($lines->(qr/event stream "t086\.wrong": reading failed: "WRONGTYPE/), 1,
   'the refused XREVRANGE logged once, with the stream');
is($lines->(qr/event stream "t086\.gone": reading failed: "WRONGTYPE/), 1,
   'the refused XREAD too');
is($lines->(qr/WRONGTYPE/), 3,
   'and nothing else (the catch-up of t086.wrong: one line)');

ApiLed::Events::sse_read($gone, 0.2);
ok(!$gone->{eof}, 'the streaming subscriber stays connected');
ApiLed::Events::sse_read($wrong, 0.2);
ok(!$wrong->{eof}, 'the resuming one too');
ApiLed::Events::sse_close($wrong);

# a new subscriber is answered at once, not after the reader's wait
my $t0 = time;
my $new = ApiLed::Events::sse_open($port, '/wrong');
is($new && $new->{status}, 503, 'a new subscriber: 503 while it is refused');
cmp_ok(time - $t0, '<', 1, 'at once');
ApiLed::Events::sse_close($new);

# the key holds a stream again: a new subscriber starts at once and gets
# what comes next
redis('DEL', 't086.wrong');
xadd('t086.wrong', 'wrong-0');
$new = ApiLed::Events::sse_open($port, '/wrong');
is($new && $new->{status}, 200, 'once it is a stream, a new subscriber');
ApiLed::Events::sse_read($new, 1, sub { @{ $_[0]{events} } >= 1 });
my $w1 = xadd('t086.wrong', 'wrong-1');
is_deeply(got($new, 1, 3), [ $w1 ], 'gets what comes next');
ApiLed::Events::sse_close($new);
ApiLed::Events::sse_close($gone);

# --- a resuming subscriber's skip of an entry too large, refused ---------

# the id of the entry too large to read is asked by a script (EVAL): an
# ACL user that may read the stream but not run scripts refuses it
my $huge = '{"data":"' . ('x' x (5 * 1024 * 1024)) . '"}';
my $b1 = xadd('t086.big', 'big-1');
my $bx = redis('XADD', 't086.big', '*', 'type', 'thing.happened',
               'event', $huge);
my $b2 = xadd('t086.big', 'big-2');
redis('ACL', 'SETUSER', 'default', '-eval');

my $e0 = calls('eval');
my $big = ApiLed::Events::sse_open($port, '/big', { 'Last-Event-ID' => '0-1' });
is_deeply(got($big, 1, 5), [ $b1 ], 'a resuming subscriber gets what is before');
ok(wait_until(sub { calls('eval') > $e0 }, 5),
   'then asks for the id of the entry too large');

# asked again every second (4 or 5 in 4.5 s), silently; now after 1, 2 s
$e0 = calls('eval');
sleep 4.5;
$n = calls('eval') - $e0;
cmp_ok($n, '<=', 2, "refused: asked less often ($n in 4.5 s)");
cmp_ok($n, '>=', 1, 'but asked again');
like($log->(), qr/event stream "t086\.big": skipping an entry too large to read failed: "NOPERM/,
     'the refusal logged, with the stream');
is($lines->(qr/NOPERM/), 1, 'once');
ApiLed::Events::sse_read($big, 0.2);
ok(!$big->{eof}, 'its stream stays open');

# it may run scripts again: it goes past the entry (asked again after 4 s)
redis('ACL', 'SETUSER', 'default', '+@all');
is_deeply(got($big, 2, 6), [ $b1, $b2 ], 'then it goes past the entry');
ApiLed::Events::sse_close($big);

# --- a resuming subscriber's reads of an entry too large, beside the limits

# The page of 100 entries, then the entry alone, are replies too large:
# each fails the connection it came on.  The rate limits' calls do not go
# on it: none gets on_error (503 with on_error=closed).
my $s1 = xadd('t086.skip', 'skip-1');
redis('XADD', 't086.skip', '*', 'type', 'thing.happened', 'event', $huge);
my $s2 = xadd('t086.skip', 'skip-2');

my $skip = ApiLed::Events::sse_open($port, '/skip',
                                    { 'Last-Event-ID' => '0-1' });
my %status;
my $deadline = time + 8;
while (time < $deadline) {
    for (1 .. 20) {
        my ($st) = ApiLed::Events::request($port, 'GET', '/limited');
        $status{$st}++;
    }
    last if @{ got($skip, 2, 0.01) } >= 2;
}
is_deeply(got($skip, 2, 0.1), [ $s1, $s2 ],
          'a resuming subscriber goes past the entry too large');
my $asked = 0;
$asked += $_ for values %status;
is(join(' ', map { "$_:$status{$_}" } sort keys %status),
   '200:' . ($status{200} // 0),
   "the $asked limited requests meanwhile all pass (no on_error)");
ApiLed::Events::sse_close($skip);

stop_nginx($ngx);
stop_redis($R);

done_testing();
