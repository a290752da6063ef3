# A Redis Cluster of 3 masters and 3 replicas, started here on free ports
# (redis-server --cluster-enabled yes, redis-cli --cluster create), behind
# a gateway of 2 workers (docs/redis.md, "Redis Cluster"):
#
# - many keys spread over the slots of the 3 masters: each key's
#   admissions are exact (two limits of one key, all-or-nothing), and each
#   key's state is on the master of its slot;
# - api_led_event publishes to streams of several slots (XADD routed by the
#   stream's key);
# - three nginx instances on the one cluster enforce one global limit
#   exactly;
# - a slot migrated while traffic runs: ASK and MOVED both answered (seen
#   in Redis's error stats), no request lost or counted twice.
#
# Its own nginx (master and workers): Test::Nginx runs one without a
# master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use ApiLed::Gateway;
use ApiLed::Redis;
use ApiLed::RedisTopo;
use ApiLed::Events;

# a reply's timeout: nginx under valgrind is some 20 times slower
my $timeout = $ENV{TEST_NGINX_USE_VALGRIND}
              ? '10s connect_timeout=10s' : '500ms';

plan skip_all => 'redis-server is not installed'
    unless -x '/usr/bin/redis-server';

my $t0 = time;
my $cluster = start_cluster(masters => 3, replicas => 1);
my @seeds = map { "127.0.0.1:$_->{port}" } @{ $cluster->{nodes} }[0, 1];
my $run = sprintf 'r%d%d', $$, time;

sub gateway_http {
    my $events = '';
    for my $i (1 .. 6) {
        $events .= <<"CONF";
        location /ev$i {
            api_led_api ev$i;
            api_led_event thing.seen 'stream={$run-s$i}:events'
                'data={"n":"\$arg_n"}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /sse$i {
            api_led_event_stream '{$run-s$i}:events';
        }
CONF
    }
    return <<"CONF";
    api_led_redis @seeds cluster timeout=$timeout;
    api_led_metrics_zone t081:1m;

    server {
        listen 127.0.0.1:\$PORT;

        location /t {
            api_led_api t;
            api_led_rate_limit 4r/h key=\$arg_k name=a on_error=closed;
            api_led_rate_limit 6r/h key=\$arg_k name=b on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /global {
            api_led_api global;
            api_led_rate_limit 30r/h key=$run-global name=g on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /m {
            api_led_api m;
            api_led_rate_limit 1000r/h key=\$arg_k name=m on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

$events

        location /backend {
            return 200 "ok\\n";
        }

        location = /metrics {
            api_led_metrics;
        }
    }
CONF
}

my $gw = ApiLed::Gateway::start(http => gateway_http(), workers => 2);

# the state of a key: on the master of its slot, nowhere else
sub tat_holder {
    my ($key) = @_;
    my @holders;
    for my $m (cluster_masters($cluster)) {
        push @holders, $m->{port}
            if redis_cli($m->{port}, 'exists', $key) eq '1';
    }
    return @holders;
}

# 1. many keys, spread over the slots: exact admissions

my @keys = map { "$run-k$_" } 1 .. 60;
my %slots_of_master;
for my $k (@keys) {
    my $m = cluster_master_of($cluster, key_slot($k));
    $slots_of_master{ $m->{port} }++;
}
is(scalar(keys %slots_of_master), 3, 'the keys are on the 3 masters');

my ($count, $done) = http_many(port => $gw->port,
                               paths => [ map { my $k = $_;
                                                map { "/t?k=$k" } 1 .. 7 }
                                          @keys ],
                               concurrency => 24);
is($count->{200}, 4 * @keys, '4 admitted a key (the lower limit)');
is($count->{429}, 3 * @keys, 'the others limited');
is(join(',', grep { $_ != 200 && $_ != 429 } keys %$count), '',
   'no other status');

my %per_key;
$per_key{ $_->[0] == 200 ? $keys[ int($_->[2] / 7) ] : '' }++ for @$done;
is(scalar(grep { ($per_key{$_} // 0) == 4 } @keys), scalar(@keys),
   'exactly 4 of each key');

my $wrong = 0;
for my $k (@keys[0 .. 9]) {
    my @h = tat_holder("api_led:{$k}:a");
    my $m = cluster_master_of($cluster, key_slot("{$k}"));
    $wrong++ unless @h == 1 && $h[0] == $m->{port};
}
is($wrong, 0, "each key's state is on the master of its slot");

is(join('', grep { /\[(?:error|crit|alert|emerg)\]/
                   && !/limiting requests/ } split /^/, $gw->error_log),
   '', 'no error logged but the limited requests');

# each master is a node of the metrics: its calls, its connections (one a
# worker, up)
my @masters = sort map { "127.0.0.1:$_->{port}" } cluster_masters($cluster);
my $samples = $gw->scrape('/metrics', sub {
    my @c = ApiLed::Gateway::select($_[0], 'api_led_redis_calls_total',
                                    { outcome => 'ok' });
    my $n = 0;
    $n += $_->{value} for @c;
    return $n >= 60;
}) || [];
my %calls;
$calls{ $_->{labels}{node} } += $_->{value}
    for ApiLed::Gateway::select($samples, 'api_led_redis_calls_total',
                                { outcome => 'ok' });
is(join(' ', sort keys %calls), "@masters",
   'metrics: the calls of each master, by node');
is(scalar(grep { (ApiLed::Gateway::value($samples,
                      'api_led_redis_connections',
                      { node => $_, state => 'up' }) // 0) == 2 } @masters),
   3, 'metrics: each master has the connection of each worker, up');

# 2. events on a cluster: streams of several slots

my @streams = map { "{$run-s$_}:events" } 1 .. 6;
my %stream_slots = map { key_slot($_) => 1 } @streams;
cmp_ok(scalar(keys %stream_slots), '>', 1, 'streams of several slots');

for my $i (1 .. 6) {
    for my $n (1 .. 3) {
        my $r = $gw->request('GET', "/ev$i?n=$n");
        is($r->{status}, 200, "event $i/$n: 200") if $n == 1;
    }
}

sub xlen {
    my ($stream) = @_;
    my $m = cluster_master_of($cluster, key_slot($stream));
    return redis_cli($m->{port}, 'xlen', $stream);
}

ok(wait_until(sub { !grep { xlen($_) != 3 } @streams }, 10),
   '3 events in each stream, on the master of its slot');
like(redis_cli(cluster_master_of($cluster, key_slot($streams[0]))->{port},
               'xrange', $streams[0], '-', '+'),
     qr/"n":"1"/, 'the event as published');

# subscribers (api_led_event_stream: a blocking read on the node of the
# stream) of two streams on two masters get what is published next
my ($sa, $sb) = (1, grep {
    cluster_master_of($cluster, key_slot($streams[$_ - 1]))->{port}
    != cluster_master_of($cluster, key_slot($streams[0]))->{port}
} 2 .. 6);
my @subs = map { ApiLed::Events::sse_open($gw->port, "/sse$_") } $sa, $sb;
is(join(' ', map { $_ ? $_->{status} : 'none' } @subs), '200 200',
   'SSE: two subscribers, streams on two masters');
sleep 0.3;
$gw->request('GET', "/ev$sa?n=9a");
$gw->request('GET', "/ev$sb?n=9b");
for my $i (0, 1) {
    my $want = $i ? '9b' : '9a';
    ApiLed::Events::sse_read($subs[$i], 5, sub {
        grep { ($_->{data} // '') =~ /"n":"\Q$want\E"/ } @{ $_[0]{events} }
    });
    is(scalar(grep { ($_->{data} // '') =~ /"n":"\Q$want\E"/ }
              @{ $subs[$i]{events} }), 1,
       "SSE: the subscriber of stream $i got its new event");
}
close $_->{sock} for @subs;

# 3. three nginx instances on the one cluster: one global limit

my @gws = ($gw, map { ApiLed::Gateway::start(http => gateway_http(),
                                             workers => 2) } 1 .. 2);
($count) = http_many(ports => [ map { $_->port } @gws ],
                     paths => [ ('/global') x 60 ], concurrency => 12);
is($count->{200}, 30, 'three gateways: 30 of 30r/h admitted, in all');
is($count->{429}, 30, 'the others limited');
$_->stop for @gws[1, 2];

# 4. a slot migrated while traffic runs: ASK, then MOVED

my $mk = "$run-mig";
my $slot = key_slot($mk);
my $from = cluster_master_of($cluster, $slot);
my ($to) = grep { $_->{port} != $from->{port} } cluster_masters($cluster);

redis_cli($_->{port}, 'config', 'resetstat') for cluster_masters($cluster);

# the first requests while the slot is stable
my ($s1, $us1) = split /\n/, redis_cli($from->{port}, 'time');
my $first = $s1 * 1e6 + $us1;
($count) = http_many(port => $gw->port, paths => [ ("/m?k=$mk") x 100 ],
                     concurrency => 8);
is($count->{200}, 100, 'before: 100 admitted');

# migrating: the key is still on the source (served there) ...
cluster_migrate_begin($from, $to, $slot);
($count) = http_many(port => $gw->port, paths => [ ("/m?k=$mk") x 100 ],
                     concurrency => 8);
is($count->{200}, 100, 'migrating, key on the source: 100 admitted');

# ... then moved: the source answers ASK, the target takes it after ASKING
cluster_migrate_keys($from, $to, $slot);
($count) = http_many(port => $gw->port, paths => [ ("/m?k=$mk") x 100 ],
                     concurrency => 8);
is($count->{200}, 100, 'migrating, key on the target (ASK): 100 admitted');

# the slot is the target's: MOVED, the map is read again
cluster_migrate_end($cluster, $from, $to, $slot);
($count) = http_many(port => $gw->port, paths => [ ("/m?k=$mk") x 100 ],
                     concurrency => 8);
is($count->{200}, 100, 'migrated (MOVED): 100 admitted');

my ($asks, $moves) = (0, 0);
for my $m (cluster_masters($cluster)) {
    my $e = redis_cli($m->{port}, 'info', 'errorstats');
    $asks += $1 if $e =~ /errorstat_ASK:count=(\d+)/;
    $moves += $1 if $e =~ /errorstat_MOVED:count=(\d+)/;
}
cmp_ok($asks, '>', 0, "ASK seen ($asks)");
cmp_ok($moves, '>', 0, "MOVED seen ($moves)");

# exactly 400 requests counted: the key's TAT is 400 emission intervals
# (3600 s / 1000 = 3.6 s each) ahead of the time of the first request
my @h = tat_holder("api_led:{$mk}:m");
is_deeply(\@h, [ $to->{port} ], 'the key is on the target only');
my $tat = redis_cli($to->{port}, 'get', "api_led:{$mk}:m");
# the first request came after "first" (Redis's clock), within a second
# (less than the emission interval): the TAT is first + 400 * 3.6 s
my $counted = ($tat - $first) / 3.6e6;
cmp_ok($counted, '>=', 400, "not fewer than 400 counted ($counted)");
cmp_ok($counted, '<', 400 + 1 / 3.6, 'nor more');

unlike($gw->error_log, qr/\[(?:crit|alert|emerg)\]/, 'nothing critical');

$gw->stop;
stop_redis($_) for @{ $cluster->{nodes} };

diag(sprintf 't/081 took %d s', time - $t0);
done_testing();
