# TLS to a Redis Cluster (docs/redis.md, "TLS and ACLs"): 3 masters that
# speak TLS only to their clients and to each other (tls-cluster yes), a
# CA made by the test.  With the right CA, every node's connection is TLS
# (CLUSTER SLOTS names their TLS ports), admissions are exact over keys of
# the 3 masters, as an ACL user whose password is in a file; with a wrong
# CA each node is refused, logged, and the limits follow on_error.
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

# a reply's timeout: nginx under valgrind is some 20 times slower
my $timeout = $ENV{TEST_NGINX_USE_VALGRIND}
              ? '10s connect_timeout=10s' : '500ms';

plan skip_all => 'redis-server is not installed'
    unless -x '/usr/bin/redis-server';

my $t0 = time;
my $certs = make_certs();
my $run = sprintf 'r%d%d', $$, time;

open my $f, '>', "$certs/password" or die $!;
print $f "t083-s3cret\n";
close $f;

# the nodes: a plain port for the test's redis-cli, TLS for the gateway
my @nodes;
for (1 .. 3) {
    my $tls = cluster_port();
    my $n = start_redis(port => cluster_port(), args => [
        '--tls-port', $tls,
        '--tls-cert-file', "$certs/server.pem",
        '--tls-key-file', "$certs/server.key",
        '--tls-ca-cert-file', "$certs/ca.pem",
        '--tls-auth-clients', 'no',
        '--tls-cluster', 'yes',
        '--tls-replication', 'yes',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', "nodes-$tls.conf",
        '--cluster-node-timeout', 1000,
    ]);
    $n->{tls_port} = $tls;
    redis_cli($n->{port}, 'acl', 'setuser', 'gateway', 'on', '>t083-s3cret',
              '~api_led:*', '+evalsha', '+eval', '+script|load',
              '+cluster|slots', '+time', '+mget', '+psetex') eq 'OK'
        or die 'ACL SETUSER failed';
    push @nodes, $n;
}

my $addrs = join ' ', map { "127.0.0.1:$_->{tls_port}" } @nodes;
my $out = `redis-cli --tls --cacert $certs/ca.pem --cluster create $addrs --cluster-replicas 0 --cluster-yes 2>&1`;
die "redis-cli --cluster create failed:\n$out" if $? != 0;
my $cluster = { nodes => \@nodes };
wait_until(sub {
    !grep { redis_cli($_->{port}, 'cluster', 'info') !~ /cluster_state:ok/ }
    @nodes
}, 20) or die 'the cluster did not become ok';

# the slot maps the gateway reads name the TLS ports
my %tls_port = map { $_->{tls_port} => 1 } @nodes;

sub gateway {
    my ($ca) = @_;
    return ApiLed::Gateway::start(workers => 2, http => <<"CONF");
    api_led_redis 127.0.0.1:$nodes[0]{tls_port} cluster tls user=gateway
                  password_file=$certs/password timeout=$timeout;
    api_led_redis_tls_trusted_certificate $certs/$ca;

    server {
        listen 127.0.0.1:\$PORT;

        location /t {
            api_led_api t;
            api_led_rate_limit 4r/h key=\$arg_k name=a on_error=closed;
            api_led_rate_limit 6r/h key=\$arg_k name=b on_error=closed;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok\\n";
        }
    }
CONF
}

# the keys, on the 3 masters (asked on the plain ports)
my @keys = map { "$run-k$_" } 1 .. 30;
my %masters;
for my $k (@keys) {
    $masters{ cluster_master_of($cluster, key_slot($k))->{port} }++;
}
is(scalar(keys %masters), 3, 'the keys are on the 3 masters');

my $gw = gateway('ca.pem');
my ($count, $done) = http_many(port => $gw->port,
                               paths => [ map { my $k = $_;
                                                map { "/t?k=$k" } 1 .. 7 }
                                          @keys ],
                               concurrency => 16);
is($count->{200}, 4 * @keys, 'TLS: 4 admitted a key');
is($count->{429}, 3 * @keys, 'TLS: the others limited');

my %per;
$per{ int($_->[2] / 7) }++ for grep { $_->[0] == 200 } @$done;
is(scalar(grep { ($per{$_} // 0) == 4 } 0 .. $#keys), scalar(@keys),
   'TLS: exactly 4 of each key');

# every master's TLS connection counted requests, as the ACL user
my $tls_clients = 0;
for my $n (@nodes) {
    my $list = redis_cli($n->{port}, 'client', 'list');
    $tls_clients++ if $list =~ /user=gateway/;
}
is($tls_clients, 3, 'TLS: the gateway is a client of the 3 masters');

is(join('', grep { /\[(?:error|crit|alert|emerg)\]/
                   && !/limiting requests/ } split /^/, $gw->error_log),
   '', 'TLS: no error logged');
$gw->stop;

# a wrong CA: every node refused, logged, on_error=closed
$gw = gateway('wrong-ca.pem');
($count) = http_many(port => $gw->port, paths => [ ("/t?k=$run-w") x 10 ],
                     concurrency => 2);
is($count->{503}, 10, 'wrong CA: on_error=closed, 503');
like($gw->error_log, qr/redis TLS certificate verify error/,
     'wrong CA: the verification error logged');
like($gw->error_log, qr/redis unavailable: TLS certificate refused/,
     'wrong CA: the node refused');
$gw->stop;

stop_redis($_) for @nodes;

diag(sprintf 't/083 took %d s', time - $t0);
done_testing();
