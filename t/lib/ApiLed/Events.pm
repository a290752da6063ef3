# Helpers for the event tests (t/075-t/079): a small RESP client (stream
# entries as Perl structures), HTTP requests with a method and a body, and
# a Server-Sent Events client that reads what has come.
#
# Under the real Test::Nginx, block code runs in package
# Test::Nginx::Util: call these fully qualified (ApiLed::Events::xrange).
package ApiLed::Events;

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use JSON::PP ();
use Time::HiRes qw(sleep time);

# the RESP line reader, wait_until and the error log reader are the other
# test helpers' (ApiLed::Redis, ApiLed::Gateway): one of each
use ApiLed::Redis ();
use ApiLed::Gateway ();

{
    no warnings 'once';
    *wait_until = \&ApiLed::Redis::wait_until;
    *error_log = \&ApiLed::Gateway::error_log;
}

# redis($port, @command): the reply, arrays as array references, nil as
# undef, an error as { error => TEXT }; undef when Redis does not answer
sub redis {
    my ($port, @cmd) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 2)
        or return undef;
    my $req = '*' . @cmd . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @cmd;
    print $s $req;
    my $buf = '';
    my $reply = read_reply($s, \$buf);
    close $s;
    return $reply;
}

sub fill {
    my ($s, $buf, $n) = @_;
    while (length $$buf < $n) {
        my $r = sysread $s, my $chunk, 65536;
        return 0 unless $r;
        $$buf .= $chunk;
    }
    return 1;
}

sub read_reply {
    my ($s, $buf) = @_;
    my $line = ApiLed::Redis::read_line($s, $buf);
    return undef unless defined $line;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+';
    return { error => $rest } if $t eq '-';
    return 0 + $rest if $t eq ':';
    if ($t eq '$') {
        return undef if $rest < 0;
        fill($s, $buf, $rest + 2) or return undef;
        my $v = substr $$buf, 0, $rest;
        substr($$buf, 0, $rest + 2) = '';
        return $v;
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [ map { read_reply($s, $buf) } 1 .. $rest ];
    }
    return undef;
}

# xrange($port, $key): [ { id, type, event (decoded JSON or undef), raw } ]
sub xrange {
    my ($port, $key, $from, $to) = @_;
    my $r = redis($port, 'XRANGE', $key, $from // '-', $to // '+');
    return [] unless ref $r eq 'ARRAY';
    my @out;
    for my $e (@$r) {
        my %f = @{ $e->[1] || [] };
        my $json = eval { JSON::PP->new->utf8->decode($f{event} // '') };
        push @out, { id => $e->[0], type => $f{type}, raw => $f{event},
                     event => $json };
    }
    return \@out;
}

# request($port, $method, $path, { header => value }, $body):
# (status, { lowercase header => value }, body); HTTP/1.0, one request
sub request {
    my ($port, $method, $path, $h, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10)
        or return (0, {}, '');
    my $req = "$method $path HTTP/1.0\r\nHost: localhost\r\n";
    $h ||= {};
    $req .= "$_: $h->{$_}\r\n" for sort keys %$h;
    if (defined $body) {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }
    $req .= "\r\n" . ($body // '');
    print $s $req;
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($head, $rbody) = split /\r\n\r\n/, $res, 2;
    return (0, {}, '') unless $head && $head =~ m{^HTTP/1\.\d (\d+)};
    my $status = $1;
    my %hdr;
    for (split /\r\n/, $head) {
        $hdr{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status, \%hdr, $rbody // '');
}

# sse_open($port, $path, { header => value }): a connected SSE client,
# its response head read: { sock, status, headers, buf }
sub sse_open {
    my ($port, $path, $h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or return undef;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
            . "Accept: text/event-stream\r\n";
    $h ||= {};
    $req .= "$_: $h->{$_}\r\n" for sort keys %$h;
    print $s "$req\r\n";
    my $c = { sock => $s, buf => '', raw => '', chunked => 0, events => [] };
    my $deadline = time + 5;
    while ($c->{raw} !~ /\r\n\r\n/ && time < $deadline) {
        my $sel = IO::Select->new($s);
        next unless $sel->can_read(0.1);
        my $n = sysread $s, my $chunk, 65536;
        last unless $n;
        $c->{raw} .= $chunk;
    }
    my ($head, $rest) = split /\r\n\r\n/, $c->{raw}, 2;
    return undef unless defined $head && $head =~ m{^HTTP/1\.\d (\d+)};
    $c->{status} = $1;
    for (split /\r\n/, $head) {
        $c->{headers}{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    $c->{chunked} = ($c->{headers}{'transfer-encoding'} // '') =~ /chunked/i;
    $c->{raw} = $rest // '';
    dechunk($c);
    return $c;
}

sub dechunk {
    my ($c) = @_;
    if (!$c->{chunked}) {
        $c->{buf} .= $c->{raw};
        $c->{raw} = '';
        return;
    }
    while ($c->{raw} =~ /^([0-9a-fA-F]+)\r\n/) {
        my $len = hex $1;
        my $hl = length($1) + 2;
        last if length($c->{raw}) < $hl + $len + 2;
        $c->{buf} .= substr $c->{raw}, $hl, $len;
        substr($c->{raw}, 0, $hl + $len + 2) = '';
        $c->{closed_by_server} = 1 if $len == 0;
    }
}

# sse_read($c, $seconds, $until): reads for up to $seconds (or until
# $until->($c) holds); parses whole messages into $c->{events}:
# { id, event, data, comment } (a comment line alone: { comment })
sub sse_read {
    my ($c, $seconds, $until) = @_;
    my $deadline = time + $seconds;
    my $sel = IO::Select->new($c->{sock});
    while (time < $deadline) {
        last if $until && $until->($c);
        last if $c->{eof};
        next unless $sel->can_read(0.05);
        my $n = sysread $c->{sock}, my $chunk, 65536;
        if (!$n) {
            $c->{eof} = 1;
            last;
        }
        $c->{raw} .= $chunk;
        dechunk($c);
        parse_messages($c);
    }
    parse_messages($c);
    return $c->{events};
}

sub parse_messages {
    my ($c) = @_;
    while ($c->{buf} =~ s/^(.*?)\n\n//s) {
        my %m;
        for my $line (split /\n/, $1) {
            if ($line =~ /^:\s?(.*)$/) {
                $m{comment} = $1;
            } elsif ($line =~ /^(\w+): ?(.*)$/) {
                if ($1 eq 'data') {
                    $m{data} = defined $m{data} ? "$m{data}\n$2" : $2;
                } else {
                    $m{$1} = $2;
                }
            }
        }
        push @{ $c->{events} }, \%m;
    }
}

sub sse_close {
    my ($c) = @_;
    close $c->{sock} if $c && $c->{sock};
}

sub decode {
    my ($text) = @_;
    return eval { JSON::PP->new->utf8->decode($text) };
}

1;

package ApiLed::Events;

use File::Temp qw(tempdir);

# nginx_t(http => TEXT): `nginx -t` of a configuration with the module:
# (exit status, output)
sub nginx_t {
    my (%o) = @_;
    my $dir = tempdir(CLEANUP => 1);
    mkdir "$dir/logs";
    my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '')[0]
        or die "TEST_NGINX_LOAD_MODULES is not set";
    open my $f, '>', "$dir/nginx.conf" or die $!;
    print $f "load_module $module;\nerror_log $dir/logs/error.log;\n"
           . "pid $dir/logs/nginx.pid;\nevents { }\n"
           . "http {\n$o{http}\n}\n";
    close $f;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$bin -t -p $dir/ -c $dir/nginx.conf 2>&1`;
    return ($? >> 8, $out);
}

1;
