# A reload (SIGHUP to the master) picks up an edited consumers file: a key
# added works, a key removed is rejected, no restart.  A broken edit fails
# the reload and the running configuration keeps serving.  A plan whose
# rate changes keeps its consumers' usage (the shared-memory store; the
# Redis store is t/035).
#
# This file runs its own nginx (master process and one worker) with plain
# Test::More: Test::Nginx runs nginx without a master process.
use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use HTTP::Tiny;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

my $dir = tempdir('api-led-reload.XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/logs" or die $!;

my $port = do {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1:0')
        or die "no free port: $!";
    $s->sockport;
};

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$name: $!";
    print $fh $text;
    close $fh or die $!;
}

sub consumers {
    my @keys = @_;
    my $rate = $main::Rate // '4r/m';
    my $list = join ', ', map { "\"$_\"" } @keys;
    return qq({"plans": {"gold": {"limits": ["$rate", "1000r/d"]}},\n)
         . qq( "consumers": [{"id": "acme", "plan": "gold", "keys": [$list]}]}\n);
}

my $load = join '', map { "load_module $_;\n" } @modules;
my $user = $> == 0 ? "user root;\n" : '';

write_file('consumers.json', consumers('k-old'));
write_file('nginx.conf', <<CONF);
$load$user
daemon off;
master_process on;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    api_led_consumers $dir/consumers.json;
    server {
        listen 127.0.0.1:$port;
        location /t {
            api_led_auth key;
            proxy_pass http://127.0.0.1:$port/echo;
            add_header X-Who \$api_led_consumer;
        }
        location /limited {
            api_led_auth key;
            api_led_rate_limit plan;
            proxy_pass http://127.0.0.1:$port/echo;
        }
        location /echo {
            return 200 "ok";
        }
    }
}
CONF

my $pid = fork();
die "fork: $!" unless defined $pid;

if ($pid == 0) {
    exec $nginx, '-p', "$dir/", '-c', "$dir/nginx.conf"
        or die "exec $nginx: $!";
}

my $http = HTTP::Tiny->new(timeout => 5);

# the plan's RateLimit-Limit and -Remaining of a request to /limited
sub limited {
    my ($key) = @_;
    my $res = $http->get("http://127.0.0.1:$port/limited",
                         { headers => { 'X-API-Key' => $key } });
    return join ' ', $res->{status},
                     $res->{headers}{'ratelimit-limit'} // '-',
                     $res->{headers}{'ratelimit-remaining'} // '-';
}

sub status {
    my ($key) = @_;
    my $res = $http->get("http://127.0.0.1:$port/t",
                         { headers => { 'X-API-Key' => $key } });
    return $res->{status};
}

# waits (bounded) until the condition holds
sub await {
    my ($what, $cond) = @_;
    my $deadline = time + 10;
    while (time < $deadline) {
        return 1 if $cond->();
        sleep 0.05;
    }
    diag("timed out waiting for: $what");
    return 0;
}

sub error_log {
    open my $fh, '<', "$dir/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub stop {
    return unless $pid;
    kill 'QUIT', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    if (kill 0, $pid) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    $pid = 0;
}

END { stop() }

ok(await('nginx to answer', sub { (status('k-old') // 0) == 200 }),
   'the first configuration accepts k-old');
is(status('k-new'), 401, 'k-new is unknown before the reload');

my $master = $pid;

write_file('consumers.json', consumers('k-new'));
kill 'HUP', $pid;

ok(await('the new key after the reload', sub { status('k-new') == 200 }),
   'after the reload k-new is accepted');
is(status('k-old'), 401, 'after the reload k-old is rejected');
ok(kill(0, $master), 'the same master process (no restart)');

# a broken edit: the reload fails, the running configuration stays
write_file('consumers.json', "{\"consumers\": [\n  {\"id\": \"acme\",,}\n]}\n");
kill 'HUP', $pid;

ok(await('the failed reload to be logged',
         sub { error_log() =~ /consumers file "\Q$dir\E\/consumers\.json": line 2, column \d+/ }),
   'the failed reload names the file, line and column');
is(status('k-new'), 200, 'the previous configuration keeps serving');

# usage across a rate change: 3 of 4 a minute used are 6 of 8 after it
is(limited('k-new'), '200 4 3', 'the plan: 4r/m, one used');
is(limited('k-new'), '200 4 2', 'two used');
is(limited('k-new'), '200 4 1', 'three used');

$main::Rate = '8r/m';
write_file('consumers.json', consumers('k-new', 'k-probe'));
kill 'HUP', $pid;

ok(await('the new plan after the reload', sub { status('k-probe') == 200 }),
   'reloaded with the plan at 8r/m');
is(limited('k-new'), '200 8 1',
   'the bucket and its usage survive the rate change: 7 of 8 used, '
   . 'not a fresh quota');

stop();

unlike(error_log(), qr/k-old|k-new/, 'no key value in the error log');

done_testing();
