# Redis topologies for the tests of docs/redis.md (t/080-t/084): a CA and
# certificates made with openssl, a Redis with TLS, a Redis Cluster of
# masters and replicas, a master with a replica and three Sentinels, and
# concurrent HTTP traffic.  Everything runs on free ports, as children of
# the test (ApiLed::Redis stops them at exit).
package ApiLed::RedisTopo;

use strict;
use warnings;

use base 'Exporter';
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep time);
use ApiLed::Redis qw(free_port start_redis stop_redis redis_cli wait_until);

our @EXPORT = qw(make_certs start_cluster cluster_port cluster_nodes cluster_masters
                 cluster_master_of cluster_migrate_begin cluster_migrate_keys
                 cluster_migrate_end redis_info_field start_sentinels
                 sentinel_master http_many slow_tests_skipped
                 key_slot);

# a CA, a wrong CA, a server certificate (localhost, 127.0.0.1) and a
# client certificate signed by the CA; EC keys, made in a fraction of a
# second.  Returns the folder: ca.pem, wrong-ca.pem, server.pem/.key,
# client.pem/.key.
sub make_certs {
    my $dir = tempdir(CLEANUP => 1);
    my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
    open my $f, '>', "$dir/san.ext" or die $!;
    print $f "subjectAltName=DNS:localhost,DNS:redis.test,IP:127.0.0.1\n";
    close $f;
    my @cmds = (
        "openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2"
            . " -subj '/CN=api-led test CA'",
        "openssl req -x509 $ec -keyout wrong-ca.key -out wrong-ca.pem"
            . " -days 2 -subj '/CN=another CA'",
        "openssl req $ec -keyout server.key -out server.csr"
            . " -subj '/CN=localhost'",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
            . " -CAcreateserial -out server.pem -days 2 -extfile san.ext",
        "openssl req $ec -keyout client.key -out client.csr"
            . " -subj '/CN=gateway'",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key"
            . " -CAcreateserial -out client.pem -days 2",
    );
    for my $cmd (@cmds) {
        system("cd $dir && $cmd >/dev/null 2>&1") == 0
            or die "openssl failed: $cmd";
    }
    return $dir;
}

# the key slot of a key, as Redis computes it (CRC16 XMODEM of the hash
# tag), without asking Redis
sub key_slot {
    my ($key) = @_;
    if ($key =~ /\{([^}]+)\}/) {
        my $open = index $key, '{';
        my $close = index $key, '}', $open + 1;
        $key = substr $key, $open + 1, $close - $open - 1
            if $close > $open + 1;
    }
    my $crc = 0;
    for my $byte (unpack 'C*', $key) {
        $crc ^= $byte << 8;
        for (1 .. 8) {
            $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) : ($crc << 1);
            $crc &= 0xffff;
        }
    }
    return $crc % 16384;
}

# a free port for a cluster node: Redis takes port + 10000 for its bus, so
# the port must be 55535 at most and port + 10000 free too
sub cluster_port {
    for (1 .. 200) {
        my $port = free_port();
        next if $port > 55535;
        my $bus = IO::Socket::INET->new(Listen => 1,
                                        LocalAddr => '127.0.0.1:'
                                                     . ($port + 10000),
                                        ReuseAddr => 1) or next;
        close $bus;
        return $port;
    }
    die 'no free port for a cluster node';
}

# start_cluster(masters => 3, replicas => 1, node_timeout => ms): a Redis
# Cluster on free ports, every slot served when it returns.
sub start_cluster {
    my (%o) = @_;
    my $masters = $o{masters} || 3;
    my $replicas = defined $o{replicas} ? $o{replicas} : 1;
    my $n = $masters * (1 + $replicas);
    my @nodes;
    for (1 .. $n) {
        my $port = cluster_port();
        push @nodes, start_redis(port => $port, args => [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', "nodes-$port.conf",
            '--cluster-node-timeout', $o{node_timeout} || 1000,
            '--cluster-replica-validity-factor', '0',
            @{ $o{args} || [] },
        ]);
    }
    my $addrs = join ' ', map { "127.0.0.1:$_->{port}" } @nodes;
    my $out = `redis-cli --cluster create $addrs --cluster-replicas $replicas --cluster-yes 2>&1`;
    die "redis-cli --cluster create failed:\n$out" if $? != 0;
    my $cluster = { nodes => \@nodes };
    wait_until(sub { cluster_ok($cluster) }, 20)
        or die "the cluster did not become ok";
    return $cluster;
}

sub cluster_ok {
    my ($cluster) = @_;
    for my $node (@{ $cluster->{nodes} }) {
        next unless $node->{pid};
        my $info = redis_cli($node->{port}, 'cluster', 'info');
        return 0 unless $info =~ /cluster_state:ok/
                     && $info =~ /cluster_slots_ok:16384/;
    }
    # every master's replicas know it
    my @m = cluster_masters($cluster);
    return @m == grep { $_->{slots} } @m;
}

# the nodes as one live node sees them: [{ id, port, master (bool),
# master_id, slots => [[from, to], ...], fail (bool) }]
sub cluster_nodes {
    my ($cluster, $port) = @_;
    $port ||= (grep { $_->{pid} } @{ $cluster->{nodes} })[0]{port};
    my @nodes;
    for (split /\n/, redis_cli($port, 'cluster', 'nodes')) {
        my ($id, $addr, $flags, $master, undef, undef, undef, undef,
            @slots) = split ' ';
        next unless $addr;
        my ($p) = $addr =~ /:(\d+)/;
        push @nodes, {
            id => $id, port => $p,
            master => ($flags =~ /master/ ? 1 : 0),
            fail => ($flags =~ /fail/ ? 1 : 0),
            master_id => $master,
            slots => [ map { /^(\d+)(?:-(\d+))?$/ ? [$1, $2 // $1] : () }
                       @slots ],
        };
    }
    return @nodes;
}

sub cluster_masters {
    my ($cluster, $port) = @_;
    return grep { $_->{master} && !$_->{fail} }
           cluster_nodes($cluster, $port);
}

# the master serving a slot: { id, port, ... }
sub cluster_master_of {
    my ($cluster, $slot) = @_;
    for my $m (cluster_masters($cluster)) {
        for my $r (@{ $m->{slots} }) {
            return $m if $slot >= $r->[0] && $slot <= $r->[1];
        }
    }
    return undef;
}

# a slot's migration, in Redis's own steps: IMPORTING on the target,
# MIGRATING on the source; then keys moved (MIGRATE); then the slot given
# to the target (SETSLOT NODE, on both and on every master)
sub cluster_migrate_begin {
    my ($from, $to, $slot) = @_;
    redis_cli($to->{port}, 'cluster', 'setslot', $slot, 'importing',
              $from->{id}) eq 'OK' or die "setslot importing failed";
    redis_cli($from->{port}, 'cluster', 'setslot', $slot, 'migrating',
              $to->{id}) eq 'OK' or die "setslot migrating failed";
}

sub cluster_migrate_keys {
    my ($from, $to, $slot) = @_;
    my $moved = 0;
    for (;;) {
        my @keys = split /\n/, redis_cli($from->{port}, 'cluster',
                                         'getkeysinslot', $slot, 100);
        last unless @keys;
        my $r = redis_cli($from->{port}, 'migrate', '127.0.0.1', $to->{port},
                          '', 0, 5000, 'keys', @keys);
        die "MIGRATE failed: $r" unless $r eq 'OK' || $r eq 'NOKEY';
        $moved += @keys;
    }
    return $moved;
}

sub cluster_migrate_end {
    my ($cluster, $from, $to, $slot) = @_;
    for my $m ($to, $from, cluster_masters($cluster)) {
        redis_cli($m->{port}, 'cluster', 'setslot', $slot, 'node', $to->{id});
    }
}

# a field of INFO: redis_info_field(port, 'errorstats', 'errorstat_ASK')
sub redis_info_field {
    my ($port, $section, $field) = @_;
    my $info = redis_cli($port, 'info', $section);
    return $info =~ /^\Q$field\E:(\S+)/m ? $1 : '';
}

# start_sentinels(master => port, name => NAME, count => 3): Sentinels
# watching the master (quorum 2, down after 1 s), ready when they agree on
# it and see its replica
sub start_sentinels {
    my (%o) = @_;
    my @s;
    for (1 .. ($o{count} || 3)) {
        my $port = free_port();
        my $dir = tempdir(CLEANUP => 1);
        open my $f, '>', "$dir/sentinel.conf" or die $!;
        print $f <<"CONF";
port $port
bind 127.0.0.1
dir $dir
sentinel monitor $o{name} 127.0.0.1 $o{master} 2
sentinel down-after-milliseconds $o{name} 1000
sentinel failover-timeout $o{name} 4000
sentinel parallel-syncs $o{name} 1
CONF
        close $f;
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            open STDOUT, '>', "$dir/sentinel.log";
            exec 'redis-server', "$dir/sentinel.conf", '--sentinel'
                or POSIX::_exit(1);
        }
        ApiLed::Redis::adopt($pid);
        push @s, { pid => $pid, port => $port, dir => $dir };
    }
    wait_until(sub {
        for my $s (@s) {
            my $r = redis_cli($s->{port}, 'sentinel', 'master', $o{name});
            return 0 unless $r =~ /\nnum-other-sentinels\n2\n/
                         && $r =~ /\nnum-slaves\n1\n/;
        }
        return 1;
    }, 20) or die "the sentinels did not agree";
    return \@s;
}

sub sentinel_master {
    my ($sentinel, $name) = @_;
    my ($ip, $port) = split /\n/, redis_cli($sentinel->{port}, 'sentinel',
                                          'get-master-addr-by-name', $name);
    return $port;
}

# http_many(port => P, path => '/t', n => N, concurrency => C,
#           headers => {...}, paths => [...]): N requests, C at a time,
# HTTP/1.0; returns { status => count, ... } and the list of
# [status, headers] in order of completion
sub http_many {
    my (%o) = @_;
    my $n = $o{n};
    my $c = $o{concurrency} || 8;
    my @paths = $o{paths} ? @{ $o{paths} } : (($o{path}) x $n);
    my @ports = $o{ports} ? @{ $o{ports} } : ($o{port});
    my (%count, @done, %open);
    my $sel = IO::Select->new;
    my $next = 0;
    my $start = sub {
        my $i = $next++;
        my $port = $ports[$i % @ports];
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 5) or die "connect: $!";
        my $req = "GET $paths[$i] HTTP/1.0\r\nHost: localhost\r\n";
        $req .= "$_: $o{headers}{$_}\r\n" for keys %{ $o{headers} || {} };
        print $s "$req\r\n";
        $s->blocking(0);
        $open{$s} = { s => $s, buf => '', i => $i };
        $sel->add($s);
    };
    $start->() while $next < @paths && $next < $c;
    my $deadline = time + ($o{timeout} || 60);
    while ($sel->count) {
        die "http_many: no answer in time" if time > $deadline;
        for my $s ($sel->can_read(1)) {
            my $st = $open{$s};
            my $r = sysread $s, my $chunk, 65536;
            if ($r) {
                $st->{buf} .= $chunk;
                next;
            }
            next if !defined $r && $!{EAGAIN};
            $sel->remove($s);
            close $s;
            delete $open{$s};
            my ($status) = $st->{buf} =~ m{^HTTP/1\.\d (\d+)};
            $status //= 0;
            my ($head) = split /\r\n\r\n/, $st->{buf}, 2;
            my %h;
            for (split /\r\n/, $head // '') {
                $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
            }
            $count{$status}++;
            push @done, [$status, \%h, $st->{i}];
            $start->() if $next < @paths;
        }
    }
    return (\%count, \@done);
}

# the slowest files skip themselves when TEST_NGINX_SKIP_SLOW is set (make
# test-valgrind SKIP_SLOW=1)
sub slow_tests_skipped {
    return $ENV{TEST_NGINX_SKIP_SLOW} ? 1 : 0;
}

1;
