# Helpers for the rate-limit tests (t/030-039): private redis-servers, a
# fake Redis that answers late, a gate in front of a real Redis that holds
# script calls, a second nginx, plain HTTP requests.
package ApiLed::Redis;

use strict;
use warnings;

use base 'Exporter';
use IO::Socket::INET;
use Socket ();
use IO::Select;
use POSIX ();
use Time::HiRes qw(sleep time);
use Digest::SHA qw(sha1_hex);
use File::Temp qw(tempdir);

our @EXPORT = qw(free_port start_redis stop_redis redis_cli start_fake_redis
                 start_redis_gate gate_reset gate_hold gate_release
                 gate_drop gate_calls
                 start_nginx stop_nginx http_get wait_until nginx_port);

my %children;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0',
                                  ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# the port the test nginx listens on
sub nginx_port {
    no warnings 'once';
    return $Test::Nginx::Util::ServerPortForClient
        || $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

sub wait_until {
    my ($cond, $timeout) = @_;
    my $deadline = time + ($timeout || 5);
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return 0;
}

sub redis_cli {
    my ($port, @args) = @_;
    my $cmd = join ' ', 'redis-cli', '-p', $port,
                        map { "'$_'" } @args;
    my $out = `$cmd 2>/dev/null`;
    chomp $out;
    return $out;
}

# start_redis(port => P, args => [...]): a private redis-server, answering
# PING when this returns
sub start_redis {
    my (%o) = @_;
    my $port = $o{port} || free_port();
    my $dir = $o{dir} || tempdir(CLEANUP => 1);
    my @cmd = ('redis-server', '--port', $port, '--bind', '127.0.0.1',
               '--save', '', '--appendonly', 'no', '--dir', $dir,
               '--daemonize', 'no', '--logfile', "$dir/redis.log",
               @{ $o{args} || [] });
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        exec @cmd or POSIX::_exit(1);
    }
    $children{$pid} = 1;
    my @auth = $o{password} ? ('-a', $o{password}, '--no-auth-warning') : ();
    wait_until(sub { redis_cli($port, @auth, 'ping') eq 'PONG' }, 5)
        or die "redis-server on port $port did not start";
    return { pid => $pid, port => $port, dir => $dir };
}

# a child of the test, stopped at exit like the others
sub adopt {
    my ($pid) = @_;
    $children{$pid} = 1;
}

sub stop_redis {
    my ($redis) = @_;
    return unless $redis && $redis->{pid};
    kill 'TERM', $redis->{pid};
    waitpid $redis->{pid}, 0;
    delete $children{ $redis->{pid} };
    $redis->{pid} = undef;
}

# A fake Redis: answers the handshake at once and every EVALSHA/EVAL with
# an admitting reply for every limit of its requests after "delay" seconds,
# or with the raw text "reply" (a hostile or broken Redis); "close": the
# connection ends right after the reply (a Redis gone in the middle of it).
sub start_fake_redis {
    my (%o) = @_;
    my $delay = $o{delay} || 0;
    return serve_connections(sub { fake_session($_[0], $delay, $o{reply},
                                                $o{close}, $o{seen}) });
}

# a server on a free port, in a child: each connection is served by
# "session" in a child of its own; returns { pid, port }
sub serve_connections {
    my ($session) = @_;
    my $listen = IO::Socket::INET->new(Listen => 16, ReuseAddr => 1,
                                       LocalAddr => '127.0.0.1:0')
        or die "listen: $!";
    my $port = $listen->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $listen->accept) {
            my $k = fork;
            if (defined $k && $k == 0) {
                $session->($c);
                POSIX::_exit(0);
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $listen;
    $children{$pid} = 1;
    return { pid => $pid, port => $port };
}

sub fake_session {
    my ($c, $delay, $reply, $close, $seen) = @_;
    my $buf = '';
    for (;;) {
        my $cmd = read_command($c, \$buf);
        return unless $cmd;
        my $name = uc $cmd->[0];
        if ($seen && ($name eq 'EVALSHA' || $name eq 'EVAL')) {
            # the test knows a request is waiting for the reply
            if (open my $f, '>', $seen) {
                close $f;
            }
        }
        if ($name eq 'SCRIPT') {
            my $sha = sha1_hex($cmd->[2]);
            print $c "\$40\r\n$sha\r\n";
        } elsif (($name eq 'EVALSHA' || $name eq 'EVAL') && defined $reply) {
            sleep $delay if $delay;
            if ($close) {
                # the reply and the end of the connection in one segment:
                # corked, the bytes wait for the FIN
                setsockopt($c, Socket::IPPROTO_TCP(), Socket::TCP_CORK(), 1);
                syswrite $c, $reply;
                shutdown $c, 1;
                sleep 1;
                return;
            }
            print $c $reply;
        } elsif ($name eq 'EVALSHA' || $name eq 'EVAL') {
            sleep $delay if $delay;
            # the last argument lists the requests: per request, the
            # number of its limits, then their slots (one byte each)
            my @list = unpack 'C*', $cmd->[-1];
            my $n = 0;
            for (my $p = 0; $p < @list; $p += $list[$p] + 1) {
                $n += $list[$p];
            }
            # each limit: its TAT was not ahead of now
            print $c "*$n\r\n" . (":0\r\n" x $n);
        } else {
            print $c "+OK\r\n";
        }
        $c->flush;
    }
}

sub read_line {
    my ($c, $buf) = @_;
    while ($$buf !~ /\r\n/) {
        my $n = sysread $c, my $chunk, 4096;
        return undef unless $n;
        $$buf .= $chunk;
    }
    $$buf =~ s/^(.*?)\r\n//s;
    return $1;
}

sub read_command {
    my ($c, $buf) = @_;
    my $line = read_line($c, $buf);
    return undef unless defined $line && $line =~ /^\*(\d+)$/;
    my @args;
    for (1 .. $1) {
        my $len = read_line($c, $buf);
        return undef unless defined $len && $len =~ /^\$(\d+)$/;
        while (length $$buf < $1 + 2) {
            my $n = sysread $c, my $chunk, 65536;
            return undef unless $n;
            $$buf .= $chunk;
        }
        push @args, substr $$buf, 0, $1;
        substr($$buf, 0, $1 + 2) = '';
    }
    return \@args;
}

# A gate in front of a real Redis (start_redis_gate(port => P)): it passes
# every command and reply through, and for each script call (EVALSHA, EVAL)
# appends a line "REQUESTS KEYS" to $gate->{dir}/calls as it arrives: the
# number of rate-limit requests in the call (from its last argument, the
# list of requests) and of its keys.  While gate_hold() is on, script calls
# (and what comes after them) are held, not passed on: the call is on its
# way as far as nginx knows, Redis has not seen it.  gate_drop() then closes
# the connection instead, as a Redis that goes away in the middle of a call.
sub start_redis_gate {
    my (%o) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $gate = serve_connections(sub { gate_session($_[0], $o{port}, $dir) });
    $gate->{dir} = $dir;
    gate_reset($gate);
    return $gate;
}

sub gate_reset {
    my ($gate) = @_;
    unlink "$gate->{dir}/hold", "$gate->{dir}/drop";
    open my $f, '>', "$gate->{dir}/calls" or die $!;
    close $f;
}

sub gate_hold {
    my ($gate) = @_;
    open my $f, '>', "$gate->{dir}/hold" or die $!;
    close $f;
}

sub gate_release {
    my ($gate) = @_;
    unlink "$gate->{dir}/hold";
}

sub gate_drop {
    my ($gate) = @_;
    open my $f, '>', "$gate->{dir}/drop" or die $!;
    close $f;
}

# the script calls seen so far: [[requests, keys], ...]
sub gate_calls {
    my ($gate) = @_;
    open my $f, '<', "$gate->{dir}/calls" or return [];
    return [ map { [split] } grep { /\n$/ } <$f> ];
}

sub gate_session {
    my ($c, $port, $dir) = @_;
    my $up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or return;
    my $sel = IO::Select->new($c, $up);
    my $in = '';
    my @queue;
    for (;;) {
        for my $s ($sel->can_read(0.01)) {
            my $n = sysread $s, my $chunk, 65536;
            return unless $n;
            if ($s == $up) {
                write_all($c, $chunk) or return;
                next;
            }
            $in .= $chunk;
            while (my ($cmd, $len) = parse_command($in)) {
                my $raw = substr $in, 0, $len, '';
                if ($cmd->[0] =~ /^eval(sha)?$/i) {
                    my ($list, $p, $n) = ($cmd->[-1], 0, 0);
                    while ($p < length $list) {
                        $p += 1 + ord substr $list, $p, 1;
                        $n++;
                    }
                    open my $f, '>>', "$dir/calls" or die $!;
                    print $f "$n $cmd->[2]\n";
                    close $f;
                }
                push @queue, [$cmd->[0], $raw];
            }
        }
        while (@queue) {
            if ($queue[0][0] =~ /^eval(sha)?$/i && -e "$dir/hold") {
                return if -e "$dir/drop";
                last;
            }
            write_all($up, (shift @queue)->[1]) or return;
        }
    }
}

sub write_all {
    my ($s, $data) = @_;
    while (length $data) {
        my $n = syswrite $s, $data;
        return 0 unless $n;
        substr($data, 0, $n) = '';
    }
    return 1;
}

# one whole command at the start of the buffer: (args, its length), or ()
sub parse_command {
    my ($buf) = @_;
    return () unless $buf =~ /\A\*(\d+)\r\n/;
    my ($n, $pos, @args) = ($1, length $&);
    for (1 .. $n) {
        return () unless substr($buf, $pos) =~ /\A\$(\d+)\r\n/;
        my $len = $1;
        $pos += length $&;
        return () if length($buf) < $pos + $len + 2;
        push @args, substr $buf, $pos, $len;
        $pos += $len + 2;
    }
    return (\@args, $pos);
}

# start_nginx(http => '...'): another nginx with the module, one process,
# on a free port; returns { pid, port, dir }
sub start_nginx {
    my (%o) = @_;
    my $port = free_port();
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '')[0]
        or die "TEST_NGINX_LOAD_MODULES is not set";
    my $http = $o{http};
    $http =~ s/\$PORT\b/$port/g;
    my $master = $o{master} ? 'on' : 'off';
    my $workers = $o{workers} || 1;
    open my $f, '>', "$dir/nginx.conf" or die $!;
    print $f <<"CONF";
load_module $module;
daemon off;
master_process $master;
worker_processes $workers;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    $http
}
CONF
    close $f;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        exec $bin, '-p', "$dir/", '-c', "$dir/nginx.conf" or POSIX::_exit(1);
    }
    $children{$pid} = 1;
    wait_until(sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1)
    }, 5) or die "second nginx did not start";
    return { pid => $pid, port => $port, dir => $dir };
}

sub stop_nginx {
    my ($ngx) = @_;
    return unless $ngx && $ngx->{pid};
    kill 'QUIT', $ngx->{pid};
    waitpid $ngx->{pid}, 0;
    delete $children{ $ngx->{pid} };
    $ngx->{pid} = undef;
}

# http_get(port, path, headers...) -> (status, headers hashref, body)
sub http_get {
    my ($port, $path, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or return (0, {}, '');
    my $req = "GET $path HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_: $h{$_}\r\n" for keys %h;
    print $s "$req\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    return (0, {}, '') unless $head && $head =~ m{^HTTP/1\.\d (\d+)};
    my $status = $1;
    my %hdr;
    for (split /\r\n/, $head) {
        $hdr{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status, \%hdr, $body);
}

END {
    local $?;
    for my $pid (keys %children) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
