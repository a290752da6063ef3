# The peak resident memory of the nginx under test after a request
# (Test::Nginx runs it without a master: one process, the servers of the
# test's upstreams included).  Not meaningful under valgrind or ASan (their
# own allocators and quarantine): tests skip the check there.
package ApiLed::Peak;

use strict;
use warnings;

use IO::Socket::INET;

# POSTs BODY (JSON) to PATH over HTTP/1.0: (status, body, VmHWM in kB)
sub post_peak {
    my ($path, $body) = @_;
    no warnings 'once';
    my $port = $Test::Nginx::Util::ServerPortForClient
               || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 30)
        or return (0, '', 0);
    print $s "POST $path HTTP/1.0\r\nHost: localhost\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
    my $res = do { local $/; <$s> } // '';
    close $s;
    my ($status) = $res =~ m{^HTTP/1\.\d (\d+)};
    my (undef, $rbody) = split /\r\n\r\n/, $res, 2;
    open my $f, '<', $Test::Nginx::Util::PidFile
        or return ($status, $rbody, 0);
    my $pid = <$f>;
    chomp $pid;
    open my $st, '<', "/proc/$pid/status" or return ($status, $rbody, 0);
    my ($hwm) = join('', <$st>) =~ /^VmHWM:\s+(\d+) kB/m;
    return ($status // 0, $rbody // '', $hwm // 0);
}

# whether a peak measured here means anything
sub measurable {
    return !$ENV{TEST_NGINX_USE_VALGRIND} && !$ENV{TEST_NGINX_USE_ASAN};
}

1;
