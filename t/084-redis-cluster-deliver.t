# Delivery (api_led_event_deliver) on a Redis Cluster of 3 masters and
# 3 replicas (t/lib/ApiLed/RedisTopo.pm), behind a gateway of 2 workers:
#
# - two streams whose keys are on two masters: each event POSTed to the
#   listener's location, then acknowledged (XPENDING 0 on the master of
#   each stream's slot);
# - a listener that fails: the entry is dead-lettered to a stream whose
#   key is in another slot, on another master (no hash tag needed: each
#   command goes to the node of its own key), and acknowledged on its own
#   stream's master.
#
# Its own nginx (master and workers): Test::Nginx runs one without a
# master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use ApiLed::Gateway;
use ApiLed::Redis;
use ApiLed::RedisTopo;
use ApiLed::Events;

# a reply's timeout: nginx under valgrind is some 20 times slower
my $timeout = $ENV{TEST_NGINX_USE_VALGRIND}
              ? '10s connect_timeout=10s' : '500ms';
my $wait = $ENV{TEST_NGINX_USE_VALGRIND} ? 60 : 10;

plan skip_all => 'redis-server is not installed'
    unless -x '/usr/bin/redis-server';

my $t0 = time;
my $cluster = start_cluster(masters => 3, replicas => 1);
my @seeds = map { "127.0.0.1:$_->{port}" } @{ $cluster->{nodes} }[0, 1];
my $run = sprintf 'r%d%d', $$, time;

sub master_of { cluster_master_of($cluster, key_slot($_[0]))->{port} }

# stream names: the first on some master, each next one on another
sub other_master {
    my ($prefix, @not) = @_;
    for my $i (1 .. 1000) {
        my $k = "$run-$prefix$i";
        my $m = master_of($k);
        return $k unless grep { $_ == $m } map { master_of($_) } @not;
    }
    die "no key of $prefix on another master";
}

my $sa = "$run-a";
my $sb = other_master('b', $sa);
my $sf = "$run-f";
my $sd = other_master('dead', $sf);

# the listener backend: every POST it gets appended to a file, as
# "PATH BODY"
my $sdir = tempdir(CLEANUP => 1);
my $sink = ApiLed::Redis::serve_connections(sub {
    my ($c) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread $c, my $chunk, 65536;
        return unless $n;
        $buf .= $chunk;
    }
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
    $len //= 0;
    while (length $body < $len) {
        my $n = sysread $c, my $chunk, 65536;
        return unless $n;
        $body .= $chunk;
    }
    my ($path) = $head =~ m{^\S+ (\S+)};
    open my $f, '>>', "$sdir/received" or die $!;
    syswrite $f, "$path $body\n";
    close $f;
    print $c "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
});
my $sp = $sink->{port};

# the ids the backend got at PATH
sub received_ids {
    my ($path) = @_;
    my %seen;
    open my $f, '<', "$sdir/received" or return \%seen;
    while (<$f>) {
        $seen{$1}++ if m{^\Q$path\E .*"id":"([^"]+)"};
    }
    return \%seen;
}

sub redis { ApiLed::Events::redis(master_of($_[1]), @_) }

sub pending {
    my ($key) = @_;
    my $r = redis('XPENDING', $key, 'g');
    return ref $r eq 'ARRAY' ? $r->[0] : -1;
}

sub xadd {
    my ($key, $id) = @_;
    my $event = qq({"specversion":"1.0","id":"$id","source":"t084",)
              . qq("type":"thing.happened","data":{"n":"$id"}});
    my $r = redis('XADD', $key, '*', 'type', 'thing.happened',
                  'event', $event);
    die "XADD $key: " . ($r->{error} // 'no reply') if ref $r || !$r;
    return $r;
}

# the masters' error stats from here: a command sent to a node that
# does not own its key's slot is answered MOVED there
redis_cli($_->{port}, 'config', 'resetstat') for cluster_masters($cluster);

my $gw = ApiLed::Gateway::start(workers => 2, http => <<"CONF");
    api_led_redis @seeds cluster timeout=$timeout;

    api_led_event_deliver $sa group=g to=/hook/a;
    api_led_event_deliver $sb group=g to=/hook/b;
    api_led_event_deliver $sf group=g to=/fail retries=1
        dead_letter=$sd;

    server {
        listen 127.0.0.1:\$PORT;

        location /hook/ {
            proxy_pass http://127.0.0.1:$sp/;
        }

        location /fail {
            return 500;
        }
    }
CONF

isnt(master_of($sa), master_of($sb), 'two streams on two masters');
isnt(master_of($sf), master_of($sd),
     'the dead-letter stream on another master than its stream');

# 1. delivered from two masters, acknowledged on each

xadd($sa, "a-$_") for 1 .. 3;
xadd($sb, "b-$_") for 1 .. 3;

ok(ApiLed::Redis::wait_until(sub {
       my ($a, $b) = (received_ids('/a'), received_ids('/b'));
       3 == grep({ $a->{"a-$_"} } 1 .. 3)
       && 3 == grep({ $b->{"b-$_"} } 1 .. 3) }, $wait),
   'the events of both streams POSTed to their locations');
ok(!grep({ /^a-/ } keys %{ received_ids('/b') })
   && !grep({ /^b-/ } keys %{ received_ids('/a') }),
   'each to its own');
ok(ApiLed::Redis::wait_until(sub { pending($sa) == 0 && pending($sb) == 0 },
                             $wait),
   'acknowledged: XPENDING 0 on the master of each stream')
    or diag('pending ', pending($sa), ' ', pending($sb));

# 2. a failing listener: dead-lettered to a stream of another master

my $fid = xadd($sf, 'f-1');

ok(ApiLed::Redis::wait_until(sub {
       @{ ApiLed::Events::xrange(master_of($sd), $sd) } == 1 }, $wait),
   'the failing entry is in the dead-letter stream, on its own master');
my $dl = redis('XRANGE', $sd, '-', '+');
my %f = @{ $dl->[0][1] || [] };
is_deeply([ @f{qw(stream id group attempts status)} ],
          [ $sf, $fid, 'g', 2, 500 ],
          'with its stream, id, group, attempts, status');
like($f{event} // '', qr/"id":"f-1"/, 'and the event');
ok(ApiLed::Redis::wait_until(sub { pending($sf) == 0 }, $wait),
   'and acknowledged on the master of its stream') or diag(pending($sf));

# each command went straight to the master of its key (the stream's for
# XREADGROUP, XACK; the dead-letter stream's for its XADD): none MOVED
my $moved = 0;
for my $m (cluster_masters($cluster)) {
    $moved += $1 if redis_cli($m->{port}, 'info', 'errorstats')
                    =~ /errorstat_MOVED:count=(\d+)/;
}
is($moved, 0, 'each command sent to the master of its key, none MOVED');

is(join('', grep { /\[(?:error|crit|alert|emerg)\]/
                   && !/delivery of \S+ to "\/fail" failed with 500/
                   && !/entry \Q$fid\E moved to the dead letters "\Q$sd\E"/ }
            split /^/, $gw->error_log),
   '', 'no error logged but the failed deliveries and the dead letter');

$gw->stop;
stop_redis($_) for @{ $cluster->{nodes} };

diag(sprintf 't/084 took %d s', time - $t0);
done_testing();
