# A listener (api_led_event_deliver) whose skip of an entry too large to
# read Redis refuses for as long as nobody fixes it (NOPERM: the ACL user
# may not XPENDING, which names the entry): logged once, asked again less
# and less often (1, 2, 4 s... up to 30 s), as the event streams' refused
# reads are (t/086), and on the listener's own connection: the rate
# limits' calls on the worker's shared one keep their answers.  Once Redis
# answers, the listener goes past the entry.  An XACK Redis refuses (the
# ACL user may not XACK) is made again the same way, the entry not
# delivered again meanwhile.
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
    my ($key, $event) = @_;
    return redis('XADD', $key, '*', 'type', 'thing.happened',
                 'event', $event);
}

sub event {
    my ($id) = @_;
    return qq({"specversion":"1.0","id":"$id","source":"t087",)
         . qq("type":"thing.happened","data":{"n":"$id"}});
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

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_metrics_zone api_led:1m;

    api_led_event_deliver t087.big group=g to=/hook concurrency=4;
    api_led_event_deliver t087.ack group=g to=/hook/ack concurrency=4;

    server {
        listen 127.0.0.1:\$PORT;

        location /hook {
            return 204;
        }

        location /hook/ack {
            log_subrequest on;
            access_log logs/hook.log;
            return 204;
        }

        location /metrics {
            api_led_metrics;
        }

        location /limited {
            api_led_rate_limit 100000r/s key=t087 on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/ok;
        }

        location /ok {
            return 200 "ok\\n";
        }
    }
HTTP

my $port = $ngx->{port};
my $log = sub { ApiLed::Events::error_log($ngx) };
my $lines = sub { my ($re) = @_; scalar(() = $log->() =~ /$re/g) };

sub delivered {
    my ($stream) = @_;
    my (undef, undef, $text) = ApiLed::Events::request($port, 'GET',
                                                       '/metrics');
    return $text =~ /^api_led_events_total\{stream="\Q$stream\E",outcome="delivered"\} (\d+)$/m
           ? $1 : 0;
}

# the requests of a limited location made until "until" (a time), by status
sub limited {
    my ($until) = @_;
    my %status;
    while (time < $until) {
        my ($st) = ApiLed::Events::request($port, 'GET', '/limited');
        $status{$st}++;
        sleep 0.02;
    }
    my $asked = 0;
    $asked += $_ for values %status;
    return ($asked, join(' ', map { "$_:$status{$_}" } sort keys %status),
            '200:' . ($status{200} // 0));
}

# --- the skip of an entry too large, refused ------------------------------

ok(wait_until(sub { redis('CLIENT', 'LIST') =~ /cmd=xreadgroup/ }, 5),
   'the listener reads its group');

# a 5 MB entry between two small ones; the ACL user may read the stream,
# but not ask which entries are pending (the skip's XPENDING)
redis('ACL', 'SETUSER', 'default', '-xpending');
my $b1 = xadd('t087.big', event('big-1'));
my $bx = xadd('t087.big', '{"data":"' . ('x' x (5 * 1024 * 1024)) . '"}');
my $b2 = xadd('t087.big', event('big-2'));

ok(wait_until(sub { calls('xpending') > 0 }, 8),
   'the listener asks for the id of the entry too large');

# it was asked again every second (4 or 5 in 4.5 s), with the Redis
# client's line every second; now after 1, 2 s.  Meanwhile rate-limited
# requests of the same worker (on_error=closed: 503 if their call fails)
my $x0 = calls('xpending');
my ($asked, $got, $want) = limited(time + 4.5);
my $n = calls('xpending') - $x0;
cmp_ok($n, '<=', 2, "refused: asked less often ($n in 4.5 s)");
cmp_ok($n, '>=', 1, 'but asked again');

like($log->(), qr/listener of stream "t087\.big": skipping an entry too large to read failed: "NOPERM/,
     'the refusal logged, with the stream');
is($lines->(qr/NOPERM/), 1, 'once');

is($got, $want, "the $asked limited requests meanwhile all pass (no on_error)");
is(delivered('t087.big'), 1, 'the entry before it was delivered');

# the ACL fixed: at its next try, the listener goes past the entry
redis('ACL', 'SETUSER', 'default', '+@all');
ok(wait_until(sub { delivered('t087.big') >= 2 }, 10),
   'then it goes past the entry too large and delivers the next one');
like($log->(), qr/listener of stream "t087\.big": entry \Q$bx\E is larger than/,
     'the entry skipped is logged with its id');
my $left = redis('XPENDING', 't087.big', 'g');
is(ref $left eq 'ARRAY' ? $left->[0] : -1, 0, 'nothing left pending');

# --- an acknowledgement refused ------------------------------------------

# The ACL user may not XACK: the entry was delivered, and stays pending.
# It was read again from the pending entries and delivered again after
# each blocking read (5 s), with two lines each time; now its delivery is
# done, only its XACK is made again, after 1, 2, 4 s...
my $hooks = sub {
    open my $f, '<', "$ngx->{dir}/logs/hook.log" or return 0;
    my @l = <$f>;
    return scalar @l;
};
redis('ACL', 'SETUSER', 'default', '-xack');
my $a0 = calls('xack');
my $a1 = xadd('t087.ack', event('ack-1'));
ok(wait_until(sub { $hooks->() >= 1 && calls('xack') > $a0 }, 5),
   'an entry delivered, its XACK refused');

$a0 = calls('xack');
($asked, $got, $want) = limited(time + 5.8);
is($hooks->(), 1, 'not delivered again');
$n = calls('xack') - $a0;
cmp_ok($n, '<=', 3, "its XACK asked again less often ($n in 5.8 s)");
cmp_ok($n, '>=', 1, 'but asked again');
like($log->(), qr/listener of stream "t087\.ack": acknowledging failed: "NOPERM/,
     'the refusal logged, with the stream');
is($lines->(qr/NOPERM/), 2, 'once (and the skip\'s once)');
unlike($log->(), qr/not acknowledged/, 'not taken as Redis unavailable');
is($got, $want, "the $asked limited requests meanwhile all pass (no on_error)");

# the ACL fixed: acknowledged at its next try, counted once
redis('ACL', 'SETUSER', 'default', '+@all');
ok(wait_until(sub { delivered('t087.ack') >= 1 }, 6),
   'then it is acknowledged');
$left = redis('XPENDING', 't087.ack', 'g');
is(ref $left eq 'ARRAY' ? $left->[0] : -1, 0, 'nothing left pending');
is($hooks->(), 1, 'delivered once');

stop_nginx($ngx);
stop_redis($R);

done_testing();
