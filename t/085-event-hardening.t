# Event delivery and streams against a hostile or failing Redis: an
# acknowledgement that fails does not count a delivery twice.
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

    server {
        listen 127.0.0.1:\$PORT;

        location /hook/ {
            return 204;
        }

        location /metrics {
            api_led_metrics;
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

# --- an acknowledgement that fails: the entry is delivered again, counted
# once (when it is acknowledged)

ok(wait_until(sub { ref redis('XINFO', 'GROUPS', 't085.ack') eq 'ARRAY'
                    && @{ redis('XINFO', 'GROUPS', 't085.ack') } }),
   'the listener made its group');

# the default user may not XACK for a while: the ack fails (NOPERM)
redis('ACL', 'SETUSER', 'default', '-xack');

my $aid = xadd('t085.ack', event('ack-1'));

ok(wait_until(sub { $log->() =~ /entry \Q$aid\E not acknowledged/ }, 8),
   'delivered, but the acknowledgement failed');
is(pending('t085.ack'), 1, 'the entry is still pending');
is(metric('t085.ack', 'delivered'), 0, 'not counted as delivered yet');

redis('ACL', 'SETUSER', 'default', '+@all');

ok(wait_until(sub { pending('t085.ack') == 0 }, 10),
   'delivered again and acknowledged');
ok(wait_until(sub { metric('t085.ack', 'delivered') >= 1 }),
   'then counted');
sleep 0.5;
is(metric('t085.ack', 'delivered'), 1, 'delivered counted once');

stop_nginx($ngx);
stop_redis($R);

done_testing();
