# Runs a test file as a child subreaper:  perl t/lib/subreaper.pl FILE.t
#
# The real Test::Nginx starts nginx with "daemon on": the daemon's parent
# exits and the daemon is re-parented to the nearest subreaper, or to
# pid 1. When pid 1 does not reap at once, the daemon stays a zombie after
# it exits, kill(0) still finds it, and the runner waits its whole timeout
# (about 2 s a block). As a subreaper, the test process adopts the daemon
# and its waitpid() reaps it at once. prctl(2): the attribute survives
# execve(2), so the perl that runs the test file keeps it.
use strict;
use warnings;
use Config ();

my $arch = $Config::Config{archname} // '';
my $nr = $arch =~ /x86_64|amd64/            ? 157
       : $arch =~ /aarch64|arm64|riscv64/   ? 167
       : undef;
if ($^O eq 'linux' && defined $nr) {
    syscall($nr, 36, 1);    # prctl(PR_SET_CHILD_SUBREAPER, 1)
}

exec { $^X } $^X, @ARGV or die "cannot run $^X: $!\n";
