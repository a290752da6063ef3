# The project's System services for tests: services/system_db.py (the
# customer database, sqlite3) and services/crm.py (a CRM that records what
# it received), each on a free port, started once per test file.
#
#   use lib 't/lib';
#   use Test::Nginx::Socket 'no_plan';
#   use ApiLed::Services;
#
#   our $System = ApiLed::Services::start_system_db();  # TEST_NGINX_SYSTEM_PORT
#   our $Crm    = ApiLed::Services::start_crm();        # TEST_NGINX_CRM_PORT
#
# Call them at the top of the file, before run_tests(): the ports are in the
# environment before any block's config is generated.  Under the real
# Test::Nginx, block code (--- init, eval sections) runs in package
# Test::Nginx::Util: call the helpers fully qualified there, as above, and
# name the objects $::System, $::Crm.  The services stop when the test file
# exits; each file gets a fresh database (seeded: c-42 Ada Lovelace, c-43
# Grace Hopper, c-44 Alan Turing; orders o-1001, o-1002 of c-42, o-1003 of
# c-43) and an empty CRM record.
package ApiLed::Services;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);

my $Top = abs_path(dirname(__FILE__) . '/../../..');
my $Owner = $$;
my %children;

# start_system_db(db => FILE): the customer database service; sets
# $ENV{TEST_NGINX_SYSTEM_PORT}; returns { pid, port, dir, db, log }
sub start_system_db {
    my (%o) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $db = $o{db} || "$dir/system.db";
    my $svc = start_service('system_db', $dir, '--db', $db);
    $svc->{db} = $db;
    $ENV{TEST_NGINX_SYSTEM_PORT} = $svc->{port};
    return $svc;
}

# start_crm(): the CRM; sets $ENV{TEST_NGINX_CRM_PORT}; returns
# { pid, port, dir, record, log }
sub start_crm {
    my $dir = tempdir(CLEANUP => 1);
    my $svc = start_service('crm', $dir, '--record', "$dir/received.jsonl");
    $svc->{record} = "$dir/received.jsonl";
    $ENV{TEST_NGINX_CRM_PORT} = $svc->{port};
    return $svc;
}

# both: (system_db, crm)
sub start_services {
    return (start_system_db(), start_crm());
}

sub start_service {
    my ($name, $dir, @args) = @_;
    my $python = $ENV{PYTHON} || 'python3';
    my $script = "$Top/services/$name.py";
    -f $script or die "no $script";
    my $port_file = "$dir/port";
    my $log = "$dir/$name.log";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/$name.out";
        open STDERR, '>&', \*STDOUT;
        exec $python, $script, '--port', 0, '--port-file', $port_file,
             '--log', $log, @args
            or POSIX::_exit(127);
    }
    $children{$pid} = 1;
    my $svc = { pid => $pid, dir => $dir, log => $log, name => $name };
    my $deadline = time + 10;
    while (time < $deadline) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $children{$pid};
            die "$name did not start: " . slurp("$dir/$name.out");
        }
        if (-s $port_file) {
            ($svc->{port}) = slurp($port_file) =~ /^(\d+)/;
            return $svc if $svc->{port};
        }
        sleep 0.02;
    }
    die "$name did not start within 10 s: " . slurp("$dir/$name.out");
}

sub stop_service {
    my ($svc) = @_;
    return unless $svc && $svc->{pid};
    kill 'TERM', $svc->{pid};
    waitpid $svc->{pid}, 0;
    delete $children{ $svc->{pid} };
    $svc->{pid} = undef;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh>;
}

# the service's request log: one line per request,
#   TIME SERVICE ADDR "REQUEST LINE" STATUS cid=CORRELATION-ID
sub service_log {
    my ($svc) = @_;
    return slurp($svc->{log});
}

# what the CRM recorded (every POST, PUT, PATCH): [{ method, path,
# correlation_id, content_type, body, json }, ...], optionally only
# those of one correlation id
sub crm_received {
    my ($crm, $cid) = @_;
    my @out;
    for my $line (split /\n/, slurp($crm->{record})) {
        my $item = JSON::PP::decode_json($line);
        push @out, $item if !defined $cid || $item->{correlation_id} eq $cid;
    }
    return \@out;
}

END {
    return unless $$ == $Owner;
    local $?;
    for my $pid (keys %children) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
