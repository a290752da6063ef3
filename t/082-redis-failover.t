# Failovers under traffic (docs/redis.md, "Failures and failovers"):
#
# - a Redis Cluster of 3 masters and 3 replicas: a master killed while
#   requests run; until its replica is promoted, the requests of its slots
#   follow on_error (closed: 503, never a 500 or a hang), the others are
#   served; once the cluster is healthy again, admissions are exact on
#   every master, the new one included, and every worker answers;
# - a master with a replica and three Sentinels: a failover while requests
#   run (SENTINEL FAILOVER: the old master is demoted, READONLY), then the
#   new master killed and the old one promoted back; writes go to the
#   master of the moment, and admissions are exact after each.
#
# Its own nginx (master and workers): Test::Nginx runs one without a
# master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use ApiLed::Gateway;
use ApiLed::Redis;
use ApiLed::RedisTopo;

# a reply's timeout: nginx under valgrind is some 20 times slower
my $timeout = $ENV{TEST_NGINX_USE_VALGRIND}
              ? '10s connect_timeout=10s' : '300ms';

plan skip_all => 'redis-server is not installed'
    unless -x '/usr/bin/redis-server';

my $t0 = time;
my $run = sprintf 'r%d%d', $$, time;

sub gateway_http {
    my ($redis) = @_;
    return <<"CONF";
    api_led_redis $redis timeout=$timeout;

    server {
        listen 127.0.0.1:\$PORT;

        location /t {
            api_led_api t;
            api_led_rate_limit 4r/h key=\$arg_k name=a on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /f {
            api_led_api f;
            api_led_rate_limit 1000r/m key=\$arg_k name=f on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok\\n";
        }
    }
CONF
}

# exact admissions for fresh keys: 4 of 7 each
sub exact {
    my ($gw, $tag, $n) = @_;
    my @keys = map { "$run-$tag-$_" } 1 .. $n;
    my ($count, $done) = http_many(port => $gw->port,
                                   paths => [ map { my $k = $_;
                                                    map { "/t?k=$k" } 1 .. 7 }
                                              @keys ],
                                   concurrency => 16);
    my %per;
    $per{ int($_->[2] / 7) }++ for grep { $_->[0] == 200 } @$done;
    return (scalar(grep { ($per{$_} // 0) == 4 } 0 .. $#keys), $count);
}

# traffic in rounds while $event->() changes the topology: the statuses of
# each round, until $healthy->() holds and 3 rounds in a row are all 200
sub traffic {
    my ($gw, $paths, $event, $healthy) = @_;
    my (@rounds, $fired, $good);
    my $deadline = time + 40;
    while (time < $deadline) {
        my ($count) = http_many(port => $gw->port, paths => $paths,
                                concurrency => 4, timeout => 10);
        $count->{at} = time;
        push @rounds, $count;
        if (!$fired && @rounds == 3) {
            $event->();
            $fired = 1;
            next;
        }
        next unless $fired;
        if (($count->{200} // 0) == @$paths && $healthy->()) {
            last if ++$good == 3;
        } else {
            $good = 0;
        }
        sleep 0.05;
    }
    return @rounds;
}

sub statuses {
    my (%all, @gap);
    for my $r (@_) {
        push @gap, $r->{at} if $r->{503};
        $all{$_} += $r->{$_} for grep { $_ ne 'at' } keys %$r;
    }
    # from the first round with a 503 to the end of the last one
    $all{gap} = @gap ? sprintf('%.1fs', $gap[-1] - $gap[0]) : '0s';
    return \%all;
}

sub no_trouble {
    my ($gw, $what) = @_;
    is(join('', grep { /\[(?:crit|alert|emerg)\]|exited on signal/ }
                split /^/, $gw->error_log),
       '', "$what: nothing critical, no worker died");
}

# 1. a cluster's master killed

{
    my $cluster = start_cluster(masters => 3, replicas => 1,
                                node_timeout => 1000);
    my @seeds = map { "127.0.0.1:$_->{port}" } @{ $cluster->{nodes} };
    my $gw = ApiLed::Gateway::start(http => gateway_http("@seeds cluster"),
                                    workers => 2);
    # (under valgrind the workers come a while after the port is open)
    wait_until(sub { my @w = $gw->workers; @w == 2 }, 30);
    my @workers = $gw->workers;

    my ($ok) = exact($gw, 'c0', 30);
    is($ok, 30, 'cluster: exact before');

    # keys on each master, the victim's among them
    my @masters = sort { $a->{port} <=> $b->{port} } cluster_masters($cluster);
    my $victim = $masters[0];
    my (%key_of, $i);
    while (keys %key_of < 3) {
        my $k = "$run-f" . $i++;
        my $m = cluster_master_of($cluster, key_slot($k));
        $key_of{ $m->{port} } //= $k;
    }
    my @paths = map { "/f?k=$_" } map { ($key_of{$_}) x 4 } sort keys %key_of;
    my ($node) = grep { $_->{port} == $victim->{port} } @{ $cluster->{nodes} };

    my $t1 = time;
    my @rounds = traffic($gw, \@paths, sub { stop_redis($node) }, sub {
        my ($m) = grep { $_->{master} && !$_->{fail} && @{ $_->{slots} } }
                  cluster_nodes($cluster);
        return 0 unless $m;
        my $info = redis_cli($m->{port}, 'cluster', 'info');
        return $info =~ /cluster_state:ok/;
    });
    my $all = statuses(@rounds);
    diag(sprintf 'cluster failover: %d rounds in %.1f s, statuses %s',
         scalar(@rounds), time - $t1,
         join(' ', map { "$_:$all->{$_}" } sort keys %$all));

    is(join(',', grep { $_ ne 'gap' && $_ != 200 && $_ != 503 } sort keys %$all), '',
       'cluster: only 200 (served) and 503 (on_error=closed)');
    cmp_ok($all->{503} // 0, '>', 0, 'cluster: the gap followed on_error');
    my @last = @rounds[-3 .. -1];
    is(scalar(grep { ($_->{200} // 0) == @paths } @last), 3,
       'cluster: all served again once the replica is promoted');

    # a victim's key goes to its promoted replica now
    my $promoted = cluster_master_of($cluster,
                                     key_slot($key_of{ $victim->{port} }));
    isnt($promoted->{port}, $victim->{port}, 'cluster: a replica promoted');
    is(redis_cli($promoted->{port}, 'exists',
                 "api_led:{$key_of{ $victim->{port} }}:f"),
       '1', "cluster: the victim's key is written on the new master");

    # every worker has met the new topology before counts are compared: a
    # worker that sent nothing to the moved slots during the rounds above
    # meets the dead master on its first request there (on_error, a 503).
    # Three all-200 rounds in a row: on a loaded machine one round can go
    # to one worker only (a fresh-clone CI run: 26 of 30 keys exact).
    my $all_200 = 0;
    wait_until(sub {
        my ($c) = http_many(port => $gw->port, paths => \@paths,
                            concurrency => 12, timeout => 5);
        $all_200 = (($c->{200} // 0) == @paths) ? $all_200 + 1 : 0;
        return $all_200 >= 3;
    }, 15);

    my $seen;
    ($ok, $seen) = exact($gw, 'c1', 30);
    is($ok, 30, 'cluster: exact again after the failover')
        or diag('statuses: ' . join(' ', map { "$_:$seen->{$_}" }
                                         sort keys %$seen));

    is_deeply([ $gw->workers ], \@workers, 'cluster: the same workers');
    my ($count) = http_many(port => $gw->port, paths => [ ('/backend') x 40 ],
                            concurrency => 20, timeout => 5);
    is($count->{200}, 40, 'cluster: no stuck worker');
    no_trouble($gw, 'cluster');

    $gw->stop;
    stop_redis($_) for @{ $cluster->{nodes} };
}

# 2. Sentinel: a master, a replica, three Sentinels

{
    my $a = start_redis();
    my $b = start_redis(args => [ '--replicaof', '127.0.0.1', $a->{port} ]);
    wait_until(sub {
        redis_cli($a->{port}, 'info', 'replication')
            =~ /connected_slaves:1/
        && redis_cli($b->{port}, 'info', 'replication')
            =~ /master_link_status:up/
    }, 10) or die 'the replica did not sync';
    my %node = ($a->{port} => $a, $b->{port} => $b);
    my $name = 't082master';
    my $sentinels = start_sentinels(master => $a->{port}, name => $name);
    my $addrs = join ' ', map { "127.0.0.1:$_->{port}" } @$sentinels;

    my $gw = ApiLed::Gateway::start(
        http => gateway_http("$addrs sentinel=$name"), workers => 2);
    # (under valgrind the workers come a while after the port is open)
    wait_until(sub { my @w = $gw->workers; @w == 2 }, 30);
    my @workers = $gw->workers;

    my ($ok) = exact($gw, 's0', 20);
    is($ok, 20, 'sentinel: exact before');
    is(redis_cli($a->{port}, 'exists', "api_led:{$run-s0-1}:a"), '1',
       'sentinel: written on the master');

    my @paths = ("/f?k=$run-sf") x 12;

    for my $step (['failover', sub {
                       redis_cli($sentinels->[0]{port}, 'sentinel',
                                 'failover', $name);
                   }],
                  ['killed', sub {
                       stop_redis($node{ sentinel_master($sentinels->[0],
                                                         $name) });
                   }])
    {
        my ($what, $event) = @$step;
        my $old = sentinel_master($sentinels->[0], $name);
        my $t1 = time;
        my @rounds = traffic($gw, \@paths, $event, sub {
            my $new = sentinel_master($sentinels->[0], $name);
            return $new && $new != $old
                && redis_cli($new, 'info', 'replication') =~ /role:master/;
        });
        my $new = sentinel_master($sentinels->[0], $name);
        my $all = statuses(@rounds);
        diag(sprintf 'sentinel %s: %d rounds in %.1f s, statuses %s',
             $what, scalar(@rounds), time - $t1,
             join(' ', map { "$_:$all->{$_}" } sort keys %$all));

        isnt($new, $old, "sentinel $what: a new master");
        is(join(',', grep { $_ ne 'gap' && $_ != 200 && $_ != 503 } sort keys %$all), '',
           "sentinel $what: only 200 and 503 (on_error=closed)");
        is(scalar(grep { ($_->{200} // 0) == @paths } @rounds[-3 .. -1]), 3,
           "sentinel $what: all served again on the new master");

        my $calls = redis_info_field($new, 'commandstats', 'cmdstat_evalsha');
        my ($before) = $calls =~ /calls=(\d+)/;
        my ($ok) = exact($gw, "s-$what", 20);
        is($ok, 20, "sentinel $what: exact after");
        ($calls) = redis_info_field($new, 'commandstats', 'cmdstat_evalsha')
                   =~ /calls=(\d+)/;
        cmp_ok(($calls // 0) - ($before // 0), '>=', 20,
               "sentinel $what: the writes go to the new master");
        is(redis_cli($new, 'exists', "api_led:{$run-s-$what-1}:a"), '1',
           "sentinel $what: the key is on the new master");
    }

    is_deeply([ $gw->workers ], \@workers, 'sentinel: the same workers');
    my ($count) = http_many(port => $gw->port, paths => [ ('/backend') x 40 ],
                            concurrency => 20, timeout => 5);
    is($count->{200}, 40, 'sentinel: no stuck worker');
    like($gw->error_log, qr/redis/i, 'sentinel: the failover is logged');
    no_trouble($gw, 'sentinel');

    $gw->stop;
}

diag(sprintf 't/082 took %d s', time - $t0);
done_testing();
