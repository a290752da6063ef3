# Helpers for tests that run their own nginx with a master process and
# workers (Test::Nginx runs nginx without a master): start it, reload it
# with a new configuration (SIGHUP), send requests, read its error log,
# and parse a metrics exposition with Debian's python3-prometheus-client.
#
# Called fully qualified (ApiLed::Gateway::start(...)): the real
# Test::Nginx evaluates a block's code in package Test::Nginx::Util.
package ApiLed::Gateway;

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IPC::Open3 qw(open3);
use JSON::PP ();
use POSIX qw(WNOHANG);
use Symbol qw(gensym);
use Time::HiRes qw(sleep time);
use File::Basename qw(dirname);
use File::Spec;

my %running;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0',
                                  ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# start(http => TEXT, workers => N, files => { name => text }): TEXT goes
# into the http block, $PORT (and $PORT2 ...) are free ports, $DIR the
# working directory
sub start {
    my (%o) = @_;
    my $self = {
        dir     => tempdir('api-led-gw.XXXXXX', TMPDIR => 1, CLEANUP => 1),
        workers => $o{workers} || 2,
        ports   => [ map { free_port() } 1 .. ($o{nports} || 1) ],
    };
    bless $self, __PACKAGE__;
    mkdir "$self->{dir}/logs" or die $!;
    $self->write_file($_, $o{files}{$_}) for keys %{ $o{files} || {} };
    $self->write_conf($o{http});
    return $self->run();
}

# start_conf(dir => DIR, port => PORT): an nginx.conf of one's own in DIR
# (with pid and error_log in DIR/logs/), the module loaded with -g; PORT
# is one it listens on
sub start_conf {
    my (%o) = @_;
    my $self = bless { dir => $o{dir}, workers => $o{workers} || 1,
                       ports => [ $o{port} ] }, __PACKAGE__;
    mkdir "$self->{dir}/logs";
    my $load = join '', map { "load_module $_; " }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $user = $> == 0 ? 'user root; ' : '';
    $self->{globals} = "${load}${user}daemon off; master_process on; "
                       . "worker_processes $self->{workers};";
    return $self->run();
}

# make test-valgrind: nginx (its master and the workers it forks) under
# valgrind memcheck, each process logging to logs/valgrind.PID.log;
# stop() then checks that no report involves the module
sub valgrind {
    my ($self) = @_;
    return () unless $ENV{TEST_NGINX_USE_VALGRIND};
    my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
              '--show-possibly-lost=no', '--num-callers=30',
              "--log-file=$self->{dir}/logs/valgrind.%p.log");
    my $sup = File::Spec->rel2abs('t/valgrind.suppress');
    push @vg, "--suppressions=$sup" if -f $sup;
    return @vg;
}

sub run {
    my ($self) = @_;
    my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my @vg = $self->valgrind;
    $self->{timeout} = @vg ? 60 : 10;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        exec @vg, $bin, '-p', "$self->{dir}/", '-c', "$self->{dir}/nginx.conf",
             $self->{globals} ? ('-g', $self->{globals}) : ()
            or POSIX::_exit(1);
    }
    $self->{pid} = $pid;
    $running{$pid} = 1;

    $self->await('nginx to listen', sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{ports}[0]",
                              Timeout => 1);
    }) or die "nginx did not start: " . $self->error_log;

    return $self;
}

sub port { $_[0]{ports}[ $_[1] || 0 ] }
sub dir  { $_[0]{dir} }

sub write_file {
    my ($self, $name, $text) = @_;
    open my $fh, '>', "$self->{dir}/$name" or die "$name: $!";
    print $fh $text;
    close $fh or die $!;
}

sub write_conf {
    my ($self, $http) = @_;
    my @p = @{ $self->{ports} };
    $http =~ s/\$PORT(\d?)\b/$p[$1 ? $1 - 1 : 0]/g;
    $http =~ s/\$DIR\b/$self->{dir}/g;
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    my $user = $> == 0 ? "user root;\n" : '';
    $self->write_file('nginx.conf', <<CONF);
$load$user
daemon off;
master_process on;
worker_processes $self->{workers};
error_log $self->{dir}/logs/error.log info;
pid $self->{dir}/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
$http
}
CONF
}

# the pids of the worker processes
sub workers {
    my ($self) = @_;
    my @w;
    opendir my $d, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $stat = <$fh> // '';
        my ($ppid) = $stat =~ /^\d+ \(.*\) \S (\d+)/;
        push @w, $p if defined $ppid && $ppid == $self->{pid};
    }
    return sort @w;
}

# reload(HTTP): a new configuration, SIGHUP; returns 1 once nginx took
# it: new workers run and the old ones are gone (an old worker that has
# not yet seen its signal may still accept a connection), 0 when nginx
# refused it
sub reload {
    my ($self, $http) = @_;
    my @old = $self->workers;
    my %old = map { $_ => 1 } @old;
    $self->write_conf($http);
    my $log = length $self->error_log;
    kill 'HUP', $self->{pid};
    $self->await('the reload', sub {
        my $tail = substr $self->error_log, $log;
        return 1 if $tail =~ /\[emerg\]/;
        my @new = grep { !$old{$_} } $self->workers;
        return @new >= $self->{workers} && !grep { kill 0, $_ } @old;
    }) or return 0;
    return substr($self->error_log, $log) !~ /\[emerg\]/;
}

sub request {
    my ($self, $method, $path, %h) = @_;
    my $port = delete $h{port} // $self->{ports}[0];
    my $body = delete $h{body};
    my $res = HTTP::Tiny->new(timeout => 10, keep_alive => 0)->request(
        $method, "http://127.0.0.1:$port$path",
        { headers => \%h, defined $body ? (content => $body) : () });
    return $res;
}

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/logs/error.log" or return '';
    local $/;
    return <$fh> // '';
}

sub await {
    my ($self, $what, $cond) = @_;
    my $deadline = time + ($self->{timeout} || 10);
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }
    Test::More::diag("timed out waiting for $what");
    return 0;
}

sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    kill 'QUIT', $pid;
    my $deadline = time + ($self->{timeout} || 10);
    while (time < $deadline) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    delete $running{$pid};
    $self->{pid} = undef;

    if ($self->valgrind) {
        my @reports;
        for my $log (glob "$self->{dir}/logs/valgrind.*.log") {
            open my $fh, '<', $log or next;
            my $text = do { local $/; <$fh> } // '';
            push @reports, $text if $text =~ /ngx_api_led/;
        }
        Test::More::is(join('', @reports), '',
                       'valgrind: no report involves the module');
    }
}

# parse(TEXT, openmetrics => 1): the samples of an exposition as Debian's
# prometheus_client parses them, [{ name, labels, value, family, type }];
# dies with the parser's message when it does not parse
sub parse {
    my ($text, %o) = @_;
    my $script = dirname(__FILE__) . '/prom_parse.py';
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, '/usr/bin/python3', $script,
                    $o{openmetrics} ? ('openmetrics') : ());
    print $in $text;
    close $in;
    my $json = do { local $/; <$out> } // '';
    my $msg = do { local $/; <$err> } // '';
    waitpid $pid, 0;
    die "the Prometheus parser refused the exposition: $msg\n" if $?;
    return JSON::PP::decode_json($json);
}

# scrape(PATH, COND, headers => {}, openmetrics => 1): the samples of the
# exposition at PATH (and its text, in list context), scraped again
# (for up to 5 s) until COND(samples) holds.  A request is counted in the
# log phase, just after its response went out: the client may scrape
# (another worker) before the worker that answered it has counted it.
sub scrape {
    my ($self, $path, $cond, %o) = @_;
    my ($samples, $text);
    my $deadline = time + 5;
    for (;;) {
        my $res = $self->request('GET', $path, %{ $o{headers} || {} });
        $text = $res->{content};
        $samples = eval { parse($text, openmetrics => $o{openmetrics}) };
        last if $samples && $cond->($samples);
        last if time > $deadline;
        sleep 0.05;
    }
    return wantarray ? ($samples, $text) : $samples;
}

# value(SAMPLES, NAME, { labels }): the value of the sample with exactly
# these labels, undef if none
sub value {
    my ($samples, $name, $labels) = @_;
    for my $s (@$samples) {
        next unless $s->{name} eq $name;
        my $l = $s->{labels};
        next unless keys %$l == keys %$labels;
        next if grep { !defined $l->{$_} || $l->{$_} ne $labels->{$_} }
                keys %$labels;
        return $s->{value};
    }
    return undef;
}

# the samples of NAME whose labels include these
sub select {
    my ($samples, $name, $labels) = @_;
    return grep {
        my $l = $_->{labels};
        $_->{name} eq $name
            && !grep { ($l->{$_} // "\0") ne $labels->{$_} } keys %$labels
    } @$samples;
}

END {
    local $?;
    for my $pid (keys %running) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
