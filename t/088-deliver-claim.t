# A listener (api_led_event_deliver) that claims entries a consumer that
# is gone left pending (XAUTOCLAIM), one of them too large to read (another
# producer's, over the Redis client's 4 MB reply bound): the claim's reply
# fails the connection it comes on, which is not the rate limits' (their
# calls would get on_error, 503 with on_error=closed); the listener reads
# what it claimed from its pending entries one by one, goes past the entry
# too large and delivers the next one.
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
sub wait_until { ApiLed::Events::wait_until(@_) }

sub pending {
    my $r = redis('XPENDING', 't088.claim', 'g');
    return ref $r eq 'ARRAY' ? $r->[0] : -1;
}

# an entry 5 MB large and a small one, pending with a consumer that is gone
redis('XGROUP', 'CREATE', 't088.claim', 'g', '$', 'MKSTREAM');
my $ids = redis('EVAL', <<'LUA', 1, 't088.claim',
local a = redis.call('XADD', KEYS[1], '*', 'type', 'thing.happened',
                     'event', ARGV[1])
local b = redis.call('XADD', KEYS[1], '*', 'type', 'thing.happened',
                     'event', ARGV[2])
redis.call('XREADGROUP', 'GROUP', 'g', 'gone', 'COUNT', 2,
           'STREAMS', KEYS[1], '>')
return {a, b}
LUA
    '{"data":"' . ('x' x (5 * 1024 * 1024)) . '"}',
    '{"specversion":"1.0","id":"claim-2","source":"t088",'
    . '"type":"thing.happened"}');
my ($cx, $c2) = @$ids;
is(pending(), 2, 'two entries pending with a consumer that is gone');

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_metrics_zone api_led:1m;

    api_led_event_deliver t088.claim group=g to=/hook
                          claim_after=2s timeout=1s concurrency=4;

    server {
        listen 127.0.0.1:\$PORT;

        location /hook {
            return 204;
        }

        location /metrics {
            api_led_metrics;
        }

        location /limited {
            api_led_rate_limit 100000r/s key=t088 on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/ok;
        }

        location /ok {
            return 200 "ok\\n";
        }
    }
HTTP

my $port = $ngx->{port};
my $log = sub { ApiLed::Events::error_log($ngx) };

sub delivered {
    my (undef, undef, $text) = ApiLed::Events::request($port, 'GET',
                                                       '/metrics');
    return $text =~ /^api_led_events_total\{stream="t088\.claim",outcome="delivered"\} (\d+)$/m
           ? $1 : 0;
}

# rate-limited requests until the claim (once the entries are idle 2 s)
# met the reply too large, and half a second more (the circuit a failed
# connection opens)
my %status;
my ($deadline, $seen) = (time + 8, 0);
while (time < $deadline) {
    my ($st) = ApiLed::Events::request($port, 'GET', '/limited');
    $status{$st}++;
    if (!$seen && $log->() =~ /a reply larger than 4194304 bytes refused/) {
        $seen = 1;
        $deadline = time + 0.5;
    }
    sleep 0.005;
}
ok($seen, 'the claim met the reply too large');
my $asked = 0;
$asked += $_ for values %status;
is(join(' ', map { "$_:$status{$_}" } sort keys %status),
   '200:' . ($status{200} // 0),
   "the $asked limited requests meanwhile all pass (no on_error)");

# what it claimed is read from its pending entries (after its blocking
# read ends, up to 5 s): the entry too large skipped, the next delivered
ok(wait_until(sub { pending() == 0 }, 12), 'nothing left pending');
like($log->(), qr/listener of stream "t088\.claim": entry \Q$cx\E is larger than/,
     'the entry too large is skipped, logged with its id');
is(delivered(), 1, 'the entry after it is delivered');

stop_nginx($ngx);
stop_redis($R);

done_testing();
