package Test::Nginx::Socket;

# Compact, independent re-implementation of openresty's Test::Nginx::Socket
# (test-nginx 0.29) for machines where the real one is not installed.
# Same sections, same exported functions and the same number and names of
# test checks per block, so that "plan tests => ..." lines agree.
# See t/compat/README.md for what is (not) supported.
#
# NOTE: "use Test::Base -Base" runs Spiffy's source filter, which inserts
# "my $self = shift;" into every "sub name {" without a prototype, so every
# named sub below carries a prototype.

use lib 'lib';
use lib 'inc';

use v5.10.1;
use Test::Base -Base;

our $VERSION = '0.29_compat';

use POSIX ();
use Errno qw( EAGAIN EWOULDBLOCK EINTR );
use Time::HiRes qw( sleep time );
use Socket qw( MSG_NOSIGNAL );
use IO::Socket::INET ();
use IO::Select ();
use List::Util qw( min );
use Scalar::Util qw( looks_like_number );
use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use File::Temp ();
use Test::LongString;
use Test::Nginx::Util;

our @EXPORT = qw( env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location use_hup
  server_name
  server_addr server_root html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_test_cleanup_handler add_cleanup_handler
  add_response_body_check
);

our @ResponseBodyChecks;

sub value_contains ($$);

$RunTestHelper = \&run_test_helper;
$CheckErrorLog = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

sub set_http_config_filter ($) {
    $FilterHttpConfig = shift;
}

sub no_ending_fail ($) {
    my $msg = shift;
    Test::More->builder->no_ending(1);
    fail($msg);
}

# --------------------------------------------------------------------------
# building requests

# "METHOD [URL [VERSION]]\n[body]"
sub parse_request ($$) {
    my ($name, $raw) = @_;
    my ($first, $content) = ('', '');
    if (defined $raw && $raw =~ /\A([^\n]*\n?)(.*)\z/s) {
        ($first, $content) = ($1, $2);
    }
    if ($first eq '') {
        bail_out("$name - Request line should be non-empty");
    }
    if ($first !~ /^(\s*)(\S+)( *)((\S+)( *))?((\S+)( *))?(\s*)$/) {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' "
                 . "but got \"$first\".");
    }
    return {
        before    => length($1),
        method    => $2,
        url       => $5 // '/',
        http_ver  => $8 // 'HTTP/1.1',
        first_len => length($first),
        content   => $content,
    };
}

# Adds the request line, Host, Connection and Content-Length headers; keeps
# the packet boundaries of a request given as several packets.
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my $req = parse_request($name, join '', map { $_ // '' } @$packets);
    my $content = $req->{content};
    my $lead = 0;
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $lead = length(($content =~ /^(\s*)/)[0]);
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n" if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my $line = "$req->{method} $req->{url} $req->{http_ver}";
    my $head = "$line\r\n$headers";
    my $full = $head . $content;

    return [$full] if @$packets <= 1;

    my (@out, $orig);
    my $prev = 0;
    for my $i (0 .. $#$packets - 1) {
        $orig += length($packets->[$i] // '');
        my $pos;
        if ($orig < $req->{first_len}) {
            $pos = $orig - $req->{before};
            $pos = length($line) if $pos > length($line);
        } else {
            $pos = length($head) + $orig - $req->{first_len} - $lead;
            $pos = length($head) if $pos < length($head);
        }
        $pos = length($full) if $pos > length($full);
        $pos = $prev if $pos < $prev;
        push @out, substr($full, $prev, $pos - $prev);
        $prev = $pos;
    }
    push @out, substr($full, $prev);
    return \@out;
}

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('');
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/ || $header !~ /\S/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

sub headers_for_req ($$$) {
    my ($more_headers, $i, $what) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        bail_out("--- more_headers lacks data for the $what") unless defined $hdr;
        return parse_more_headers($hdr);
    }
    return parse_more_headers($more_headers);
}

# returns [ request, ... ], each request being [ {value => ..., delay_before => ...}, ... ]
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;
    my @req_list;

    my $raw_request = $block->raw_request;
    if (defined $raw_request) {
        if (ref $raw_request eq 'ARRAY') {
            push @req_list, [map { ref $_ eq 'HASH' ? {%$_} : {value => $_} } @$raw_request];
        } else {
            push @req_list, [{value => $raw_request}];
        }
        return \@req_list;
    }

    my $request;
    if (defined $block->request_eval) {
        diag "$name - request_eval DEPRECATED. Use request eval instead.";
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers || '';

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $prq = '';
        for my $i (0 .. $#$reqs) {
            my ($hdr, $is_chunked) = headers_for_req($more_headers, $i,
                                                     "$i pipelined request");
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $prq .= build_request_from_packets($name, $hdr, $is_chunked, $conn,
                                               [$reqs->[$i]])->[0];
        }
        push @req_list, [{value => $prq}];
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $is_chunked) = headers_for_req($more_headers, 0, 'request');
        my $r = build_request_from_packets($name, $hdr, $is_chunked, 'close', [$request]);
        push @req_list, [{value => $r->[0]}];

    } elsif (ref $request eq 'ARRAY') {
        for my $i (0 .. $#$request) {
            my $one_req = $request->[$i];
            my ($hdr, $is_chunked) = headers_for_req($more_headers, $i, "${i}th request");
            if (!ref $one_req) {
                my $r = build_request_from_packets($name, $hdr, $is_chunked, 'close',
                                                   [$one_req]);
                push @req_list, [{value => $r->[0]}];

            } elsif (ref $one_req eq 'ARRAY') {
                my @packets;
                for my $p (@$one_req) {
                    if (!ref $p) {
                        push @packets, $p;
                    } elsif (ref $p eq 'HASH') {
                        push @packets, $p->{value};
                    } else {
                        bail_out("$name - Invalid syntax. $p should be a string or hash with value.");
                    }
                }
                my $out = build_request_from_packets($name, $hdr, $is_chunked, 'close',
                                                     \@packets);
                my @bits;
                for my $j (0 .. $#$out) {
                    my $orig = $one_req->[$j];
                    push @bits, ref $orig eq 'HASH'
                                ? { %$orig, value => $out->[$j] }
                                : { value => $out->[$j] };
                }
                push @req_list, \@bits;

            } else {
                bail_out("$name - Invalid syntax. $one_req should be a string or an array of packets.");
            }
        }

    } else {
        bail_out("$name - invalid ---request : MUST be string or array of requests");
    }

    return \@req_list;
}

# --------------------------------------------------------------------------
# the HTTP client

sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;
    my @bits = @$req;

    my $head_req = (join('', map { $_->{value} // '' } @bits) =~ /^\s*HEAD\s+/) ? 1 : 0;

    if (use_http2($block) || use_http3($block)) {
        # as the real one: when curl fails, the list lacks the response and
        # the caller takes $head_req for it
        return send_http_req_by_curl($block, $req, $timeout), $head_req;
    }

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $sock;
    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        my $err = $!;
        if ($try == 20 || (defined $Test::Nginx::Util::ChildPid
                           && !is_running($Test::Nginx::Util::ChildPid)))
        {
            no_ending_fail("$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n");
            return (undef, $head_req);
        }
        sleep 0.005 * $try;
    }
    $sock->blocking(0);

    my $resp = '';
    my $wbuf = (shift @bits)->{value} // '';
    my $woff = 0;
    my $writing = 1;

    while (1) {
        my $rsel = IO::Select->new($sock);
        my $wsel = $writing ? IO::Select->new($sock) : undef;
        $! = 0;
        my ($readable, $writable) = IO::Select->select($rsel, $wsel, undef, $timeout);

        if (!$readable && !$writable) {
            next if $! == EINTR;
            # timed out
            close $sock;
            if (!defined $block->abort) {
                no_ending_fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            last;
        }

        if ($writable && @$writable) {
            while (1) {
                my $rest = length($wbuf) - $woff;
                if ($rest > 0) {
                    my $n = send($sock, substr($wbuf, $woff), MSG_NOSIGNAL);
                    if (!defined $n) {
                        last if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if $resp eq '';
                        $writing = 0;
                        last;
                    }
                    $woff += $n;
                    next;
                }
                my $next = shift @bits;
                if (!defined $next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^$/s;
                        shutdown($sock, $shutdown);
                    }
                    last;
                }
                my $delay = $next->{delay_before} // $middle_delay;
                sleep $delay if $delay;
                ($wbuf, $woff) = ($next->{value} // '', 0);
            }
        }

        if ($readable && @$readable) {
            my $eof;
            while (1) {
                my $buf;
                my $n = sysread($sock, $buf, 65536);
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    $eof = 1;
                    last;
                }
                if ($n == 0) {
                    $eof = 1;
                    last;
                }
                $resp .= $buf;
            }
            if ($eof) {
                close $sock;
                last;
            }
        }
    }

    return ($resp, $head_req);
}

# --------------------------------------------------------------------------
# HTTP/2: curl sends the request, as in the real one ("--- http2", or
# TEST_NGINX_USE_HTTP2=1). Its "-i" output (status line, headers, body) is
# then parsed like an HTTP/1 response.

# the curl command line for a built request (its packets joined)
sub gen_curl_cmd_from_req ($$) {
    my ($block, $req) = @_;
    my $name = $block->name;

    $req = join '', map { $_->{value} // '' } @$req;

    my ($meth, $uri, $http_ver);
    if ($req =~ m{^\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n}smig) {
        ($meth, $uri, $http_ver) = ($1, $2, $3);
    } elsif ($req =~ m{^\s*(\w+)\s+(.*\S)\s*\r?\n}smig) {
        ($meth, $uri, $http_ver) = ($1, $2, '0.9');
    } else {
        bail_out("$name - cannot parse the status line in the request: $req");
    }

    # no User-Agent, Accept or Host of curl's own: the request has its own
    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:', '-H', 'Host:');

    my $curl_protocol = $block->curl_protocol // 'http';

    push @args, $Test::Nginx::Util::Verbose ? '-vv' : '-sS';

    if (use_http2($block)) {
        push @args, '--http2-prior-knowledge';
    }

    if ($meth eq 'HEAD') {
        push @args, '-I';
    } elsif ($meth ne 'GET') {
        push @args, '-X', $meth;
    }

    push @args, '-0' if $http_ver ne '1.1';

    my @headers;
    if ($http_ver ge '1.0') {
        if ($req =~ m{\G(.*?)\r?\n\r?\n}gcs) {
            @headers = grep { !/^Connection\s*:/i } split /\r\n/, $1;
        } else {
            bail_out("cannot parse the header entries in the request: $req");
        }
    }

    my $found_content_type;
    for my $h (@headers) {
        $found_content_type = 1 if $h =~ /^\s*Content-Type\s*:/i;
        push @args, '-H', $h;
    }

    if ($req =~ m{\G(.+)}gcsm) {
        # curl would add "Content-Type: application/x-www-form-urlencoded"
        push @args, '-H', 'Content-Type: ' unless $found_content_type;
        my $file = html_dir() . '/curl.data.bin';
        open my $out, '>', $file or bail_out("$name - cannot write $file: $!");
        binmode $out;
        print $out $1;
        close $out;
        push @args, '--data-binary', '@' . $file;
    }

    # the section's own text, not parsed (as in the real one)
    my $timeout = $block->timeout || timeout();
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $link = "$curl_protocol://$addr:$ServerPortForClient$uri";

    my $curl_options = $block->curl_options;
    push @args, $curl_options if defined $curl_options;

    push @args, $link;
    return \@args;
}

sub quote_sh_args ($) {
    my $args = shift;
    for my $arg (@$args) {
        if ($arg =~ m{^[- "&%;,|?*.+=\w:/()]*$}) {
            $arg = "'$arg'" if $arg =~ /[ "&%;,|?*()]/;
            next;
        }
        $arg =~ s/\\/\\\\/g;
        $arg =~ s/'/\\'/g;
        $arg =~ s/\n/\\n/g;
        $arg =~ s/\r/\\r/g;
        $arg =~ s/\t/\\t/g;
        $arg = "\$'$arg'";
    }
    return "@$args";
}

# runs a command; returns (stdout, stderr), or dies after $timeout seconds
# (the real one's IPC::Run dies there too)
sub run_cmd ($$$) {
    my ($name, $cmd, $timeout) = @_;
    my $out_fh = File::Temp->new;
    my $err_fh = File::Temp->new;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $Test::Nginx::Util::InSubprocess = 1;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $out_fh;
        open STDERR, '>&', $err_fh;
        { no warnings 'exec'; exec { $cmd->[0] } @$cmd; }
        print STDERR "exec $cmd->[0] failed: $!\n";
        POSIX::_exit(127);
    }

    my $deadline = time + $timeout;
    my $step = 0.001;
    while (waitpid($pid, POSIX::WNOHANG()) != $pid) {
        if (time > $deadline) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            die "$name - \"@$cmd\" timed out after $timeout s\n";
        }
        sleep $step;
        $step *= 2 if $step < 0.02;
    }
    if ($? >> 8 == 127) {
        bail_out("$name - cannot run $cmd->[0] (HTTP/2 requests need curl)");
    }

    my ($out, $err) = map {
        seek $_, 0, 0;
        local $/;
        my $s = readline($_) // '';
        $s;
    } $out_fh, $err_fh;
    return ($out, $err);
}

sub send_http_req_by_curl ($$$) {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;

    my $cmd = gen_curl_cmd_from_req($block, $req);
    warn "running cmd @$cmd" if $Test::Nginx::Util::Verbose;

    my ($out, $err) = run_cmd($name, $cmd, $timeout);

    if (!$out) {
        if ($err) {
            my $curl_err = $block->curl_error;
            if (defined $curl_err) {
                return if ref $curl_err && $err =~ /$curl_err/;
                return if $err =~ /\Q$curl_err\E/;
            }
            fail("$name - command \"@$cmd\" generates stderr output: $err");
            return;
        }
        fail("$name - curl command \"@$cmd\" generates no stdout output");
        return;
    }

    warn "WARNING: $name - command \"@$cmd\" generates stderr output: $err" if $err;
    return $out;
}

# --------------------------------------------------------------------------
# parsing responses (what HTTP::Response->parse would give)

sub parse_http_message ($) {
    my $str = shift;
    my $status_line;
    if ($str =~ s/^(.*)\n//) {
        $status_line = $1;
    } else {
        ($status_line, $str) = ($str, '');
    }
    $status_line =~ s/\r\z//;

    my @hdr;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @hdr, [$1, $2];
            $hdr[-1][1] =~ s/\r\z//;
        } elsif (@hdr && $str =~ s/^([ \t].*)\n?//) {
            $hdr[-1][1] .= "\n$1";
            $hdr[-1][1] =~ s/\r\z//;
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }

    my ($code, $msg);
    if ($status_line =~ /^\d{3} /) {
        ($code, $msg) = split ' ', $status_line, 2;
    } else {
        (undef, $code, $msg) = split ' ', $status_line, 3;
    }
    return Test::Nginx::Socket::Response->new($code, $msg, \@hdr, $str);
}

sub parse_response ($$$) {
    my ($name, $raw_resp, $head_req) = @_;
    my $left;

    my $raw_headers = $raw_resp =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = parse_http_message($raw_resp);
    my $code = $res->code;

    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers);
    }

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $raw = $res->content // '';
        my $decoded = '';
        pos($raw) = 0;
        while (1) {
            if ($raw =~ /\G 0 [\ \t]* \r\n \r\n /gcsx) {
                $left = $1 if $raw =~ /\G (.+) /gcsx;
                last;
            }
            if ($raw =~ m{ \G [\ \t]* ( [A-Fa-f0-9]+ ) [\ \t]* \r\n }gcsx) {
                my $size = hex($1);
                my $at = pos($raw);
                if (length($raw) - $at < $size) {
                    no_ending_fail("$name - invalid chunked data received "
                                   . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr($raw, $at, $size);
                pos($raw) = $at + $size;
                if ($raw !~ /\G\r\n/gcs) {
                    no_ending_fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($raw =~ /\G(.+)/gcs) {
                no_ending_fail("$name - invalid chunked body received: $1");
                return;
            } else {
                no_ending_fail("$name - no last chunk found - $raw");
                return;
            }
        }
        $res->content($decoded);

    } elsif (defined $len && looks_like_number($len) && $len >= 0) {
        my $raw = $res->content;
        if (length $raw < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: $len expected, but got ",
                     length $raw, "\n";
            }
        } elsif (length $raw > $len) {
            $left = substr $raw, $len;
            $res->content(substr $raw, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# --------------------------------------------------------------------------
# per-request checks

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$req_idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.") if $req_idx != 0;
        return $value->[0];
    }
    return $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    if (defined $block->error_code_like) {
        my $val = get_indexed_value($name, scalar $block->error_code_like, $req_idx, $need_array);
        like($got, qr/$val/sm, "$name - status code ok");
    } elsif (defined $block->error_code) {
        is($got, get_indexed_value($name, scalar $block->error_code, $req_idx, $need_array),
           "$name - status code ok");
    } else {
        is($got, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';
    if (defined $block->raw_response_headers_like) {
        my $expected = get_indexed_value($name, scalar $block->raw_response_headers_like,
                                         $req_idx, $need_array);
        like($raw_headers, qr/$expected/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $expected = get_indexed_value($name, scalar $block->raw_response_headers_unlike,
                                         $req_idx, $need_array);
        unlike($raw_headers, qr/$expected/s, "$name - raw resp headers unlike");
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name, scalar $block->response_headers,
                                                      $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;
            if (!defined $val) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/msi,
                       "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            is($actual // '', $val, "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name, scalar $block->response_headers_like,
                                                      $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;
            my $actual = $res ? $res->header($key) : undef;
            like($actual // '', qr/^$val$/, "$name - header $key like ok");
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    if (ref $filter eq 'CODE') {
        return $filter->($content);
    }
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only supports "
                 . "subroutine reference values and string values");
    }
    my %builtin = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $f = $builtin{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return unless defined $res;
    my $content = $res->content;
    return unless defined $content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        for my $elem (@$filters) {
            bail_out("$name - the --- response_body_filters two-dimensional array "
                     . "only be like [[uc], [lc]] not [[uc], lc]") if ref $elem ne 'ARRAY';
        }
        $filters = $filters->[$req_idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") unless defined $filters;
    }
    for my $f (ref $filters eq 'ARRAY' ? @$filters : ($filters)) {
        $content = run_filter_helper($block, $f, $content);
    }
    $res->content($content);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if ($block->response_body_eval) {
            diag "$name - response_body_eval is DEPRECATED. Use response_body eval instead.";
            $expected = eval get_indexed_value($name, scalar $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, scalar $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }

        my $desc = "(repeated req $repeated_req_idx, req $req_idx)";
        if (ref $expected) {
            like($content, $expected, "$name - response_body - like $desc");
        } elsif ($NoLongString) {
            is($content, $expected, "$name - response_body - response is expected $desc");
        } else {
            is_string($content, $expected,
                      "$name - response_body - response is expected $desc");
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($patterns, $type, $cmp);
        if (defined $block->response_body_like) {
            ($patterns, $type, $cmp) = (scalar $block->response_body_like, 'like', \&like);
        } else {
            ($patterns, $type, $cmp) = (scalar $block->response_body_unlike, 'unlike', \&unlike);
        }
        my $pat = get_indexed_value($name, $patterns, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        $cmp->($content, qr/$pat/s, "$name - response_body_$type - response is expected ($summary)");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $repeated_req_idx, $dry_run);
    }
}

# --------------------------------------------------------------------------
# error.log / access.log checks

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if defined $v && value_contains($v, $pat);
        }
    }
    return undef;
}

sub normalize_pats ($) {
    my $pats = shift;
    return undef unless defined $pats;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub line_matches ($$) {
    my ($line, $pat) = @_;
    return ref $pat && $line =~ /$pat/ || $line =~ /\Q$pat\E/;
}

sub first_matching_line ($$) {
    my ($lines, $pat) = @_;
    for my $i (0 .. $#$lines) {
        return $i if line_matches($lines->[$i], $pat);
    }
    return undef;
}

sub grep_log_lines ($$) {
    my ($lines, $pat) = @_;
    my $out = '';
    for my $line (@$lines) {
        if (ref $pat && $line =~ /$pat/ || $line =~ /\Q$pat\E/) {
            my $matched = $&;
            $out .= "$matched\n" if $matched !~ /\n/;
        }
    }
    return $out;
}

sub check_patterns_present ($$$$) {
    my ($name, $pats, $lines, $what) = @_;
    for my $pat (@$pats) {
        next unless defined $pat;
        if (defined first_matching_line($lines, $pat)) {
            pass("$name - pattern \"$pat\" matches a line in $what");
        } else {
            fail("$name - pattern \"$pat\" should match a line in $what");
        }
    }
}

sub check_patterns_absent ($$$$) {
    my ($name, $pats, $lines, $what) = @_;
    for my $pat (@$pats) {
        next unless defined $pat;
        my $p = fmt_str($pat);
        my $i = first_matching_line($lines, $pat);
        if (defined $i) {
            my $ln = fmt_str($lines->[$i]);
            my $last = min($i + 9, $#$lines - 1);
            my $more = join '', @$lines[$i + 1 .. $last];
            $what =~ /^(\S+)(.*)$/;
            fail("$name - pattern \"$p\" should not match any line in $1 but matches "
                 . "line \"$ln\"$2\n$more");
        } else {
            pass("$name - pattern \"$p\" does not match a line in $what");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $pats = normalize_pats(scalar $block->access_log);
    my $no_pats = normalize_pats(scalar $block->no_access_log);
    return unless $pats || $no_pats;
    my $lines = access_log_data();
    check_patterns_present($name, $pats, $lines, "access.log (req $repeated_req_idx)") if $pats;
    check_patterns_absent($name, $no_pats, $lines, "access.log (req $repeated_req_idx)")
        if $no_pats;
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    my ($grep_pat, $grep_expected);
    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        $grep_pat = ref $grep_pats eq 'ARRAY' ? $grep_pats->[$repeated_req_idx] : $grep_pats;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }
    if (defined $grep_pat) {
        $grep_expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $grep_expected;
        if (ref $grep_expected eq 'ARRAY') {
            $grep_expected = $grep_expected->[$repeated_req_idx];
        }
    }

    my $err_log = $block->error_log;
    my $no_err_log = $block->no_error_log;
    my $pats = normalize_pats($err_log);
    my $no_pats = normalize_pats($no_err_log);

    my %check = (alert => 1, crit => 1, emerg => 1);
    for my $v (grep { defined } $err_log, $no_err_log) {
        for my $level (keys %check) {
            delete $check{$level} if value_contains($v, "[$level");
        }
    }

    my $lines = ($pats || $no_pats || defined $grep_pat)
                ? error_log_data()
                : Test::Nginx::Util::read_new_err_lines();

    # expected lines may be logged a bit after the response (log phase,
    # timers...): poll for them for a while instead of one long sleep
    my $deadline = time + $Test::Nginx::Util::ErrLogWait;
    while (time < $deadline) {
        my $missing = 0;
        for my $pat (@{ $pats || [] }) {
            next unless defined $pat;
            if (!defined first_matching_line($lines, $pat)) {
                $missing = 1;
                last;
            }
        }
        if (!$missing && defined $grep_pat) {
            my $got = grep_log_lines($lines, $grep_pat);
            $missing = ref $grep_expected eq 'Regexp' ? $got !~ $grep_expected
                                                      : $got ne ($grep_expected // '');
        }
        last unless $missing;
        sleep 0.01;
        error_log_more($lines);
    }

    if (defined $grep_pat) {
        my $got = grep_log_lines($lines, $grep_pat);
        my $desc = "$name - grep_error_log_out (req $repeated_req_idx)";
        if (ref $grep_expected eq 'Regexp') {
            like($got, $grep_expected, $desc);
        } elsif ($NoLongString) {
            is($got, $grep_expected, $desc);
        } else {
            is_string($got, $grep_expected, $desc);
        }
    }

    check_patterns_present($name, $pats, $lines, "error.log (req $repeated_req_idx)") if $pats;
    check_patterns_absent($name, $no_pats, $lines, "error.log (req $repeated_req_idx)")
        if $no_pats;

    for my $line (@$lines) {
        for my $level (sort keys %check) {
            if ($line =~ /\[$level\]/) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            my $l = $line;
            chomp $l;
            no_ending_fail("$name - $l\n");
        }
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines = error_log_data();

    my $no_pats = normalize_pats(scalar $block->no_shutdown_error_log);
    check_patterns_absent($name, $no_pats, $lines, "error.log") if $no_pats;

    my $pats = normalize_pats(scalar $block->shutdown_error_log);
    check_patterns_present($name, $pats, $lines, "error.log") if $pats;

    for my $line (@$lines) {
        if ($line =~ /\bAssertion .*? failed\.$/) {
            my $l = $line;
            chomp $l;
            no_ending_fail("$name - $l");
        }
    }
}

sub test_stap ($$) {
    my ($block, $dry_run) = @_;
    return unless $block->{stap};
    my $name = $block->name;
    SKIP: {
        skip("$name - stap_out - tests skipped due to env TEST_NGINX_USE_STAP is not set "
             . "(not supported by the compat runner)", 1);
    }
}

# --------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $r_req_list = get_req_from_block($block);
    bail_out("$name - request empty") if !@$r_req_list;

    if (defined $block->curl) {
        warn "# ", quote_sh_args(gen_curl_cmd_from_req($block, $r_req_list->[0])), "\n";
    }

    my $timeout = parse_time(scalar $block->timeout) // timeout();
    my $ignore_response = defined $block->ignore_response;
    my $pipelined = $block->pipelined_requests;

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one_req (@$r_req_list) {
        my ($raw_resp, $head_req) = send_request($one_req,
                                                 scalar $block->raw_request_middle_delay,
                                                 $timeout, $block);
        if ($pipelined) {
            $n = @$pipelined;
            $need_array = 1;
        } else {
            $need_array = @$r_req_list > 1;
        }

        while (1) {
            $raw_resp //= '';
            my ($raw_headers, $left);

            if (!$ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(200, 'OK', [], $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    $left =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in ",
                         "response: \"$left\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!$ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx,
                                       $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx,
                                    $need_array);
            }

            if ($n || $req_idx < @$r_req_list - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx) unless $ignore_response;
            }

            $req_idx++;
            last unless $n;
        }
    }

    sleep $block->wait if $block->wait;

    test_stap($block, $dry_run);

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
    check_access_log($block, $dry_run, $repeated_req_idx) unless $ignore_response;
}

# --------------------------------------------------------------------------
# minimal stand-in for HTTP::Response (not installed here)

package Test::Nginx::Socket::Response;

sub new ($$$$$) {
    my ($class, $code, $msg, $headers, $content) = @_;
    return bless { code => $code, message => $msg, headers => $headers,
                   content => $content }, $class;
}

sub code ($;$) {
    my $r = shift;
    $r->{code} = shift if @_;
    return $r->{code};
}

sub content ($;$) {
    my $r = shift;
    $r->{content} = shift if @_;
    return $r->{content};
}

# like HTTP::Headers: case-insensitive, "_" means "-", values joined by ", "
sub header ($$) {
    my ($r, $name) = @_;
    (my $want = lc $name) =~ tr/_/-/;
    my @v = map { $_->[1] } grep { lc($_->[0]) eq $want } @{ $r->{headers} };
    return @v ? join(', ', @v) : undef;
}

package Test::Nginx::Socket;

1;
