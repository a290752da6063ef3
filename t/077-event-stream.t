# api_led_event_stream: a Redis Stream as Server-Sent Events.  The
# headers; an event published by api_led_event reaches the subscribers,
# formatted (id, event, data); types=; Last-Event-ID resumes (a bad one,
# or the largest id, is 400 problem+json); a stream trimmed past the
# subscriber's id is announced; heartbeats; the location's policies run
# first (an API key, deny); one blocking read per stream per worker
# whatever the number of subscribers; a subscriber that never reads is
# closed with a reason while the others go on; Redis stopped and
# restarted mid-stream; HTTP/2.
#
# Runs its own redis-server and nginx.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);
use POSIX ();
use ApiLed::Redis qw(start_redis stop_redis start_nginx stop_nginx);
use ApiLed::Events;

my $R = start_redis();
my $rp = $R->{port};

sub redis { ApiLed::Events::redis($rp, @_) }
sub req { ApiLed::Events::request(@_) }
sub sse_open { ApiLed::Events::sse_open(@_) }
sub sse_read { ApiLed::Events::sse_read(@_) }

my $dir = tempdir(CLEANUP => 1);
open my $cf, '>', "$dir/consumers.json" or die $!;
print $cf '{"consumers":[{"id":"channel","keys":["k-channel"]}]}';
close $cf;

my $h2port = ApiLed::Redis::free_port();
my $slowport = ApiLed::Redis::free_port();

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_consumers $dir/consumers.json;
    api_led_metrics_zone api_led:1m;

    server {
        listen 127.0.0.1:\$PORT;
        listen 127.0.0.1:$h2port http2;

        location /customers {
            api_led_api  customers layer=system;
            api_led_event customer.updated stream=t077:a methods=PUT
                'data={"id":"\$arg_id"}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok";
        }

        location /changes {
            api_led_event_stream t077:a heartbeat=1s;
        }

        location /typed {
            api_led_event_stream t077:b types=a.one,a.two;
        }

        location /keyed {
            api_led_api  changes layer=experience;
            api_led_auth key;
            api_led_event_stream t077:a types=customer.updated;
        }

        location = /catalog {
            api_led_catalog;
        }

        location = /metrics {
            api_led_metrics;
        }

        location /denied {
            deny all;
            api_led_event_stream t077:a;
        }

        location /trimmed {
            api_led_event_stream t077:d;
        }

        location /top {
            api_led_event_stream t077:top;
        }

        location /changes-if {
            api_led_event_stream t077:a;
            if (\$arg_x) {
                set \$y 1;
            }
        }

        location /changes-hidden {
            api_led_response_json remove /password;
            api_led_event_stream t077:a;
        }

@{[ join "\n", map { "        location /race$_ { api_led_event_stream t077:r$_; }" } 1 .. 8 ]}
    }

    server {
        listen 127.0.0.1:$slowport sndbuf=4k;

        location /small {
            api_led_event_stream t077:c buffer=64k;
        }
    }
HTTP

my $port = $ngx->{port};

sub add {
    my ($key, $type, $event) = @_;
    return redis('XADD', $key, '*', 'type', $type, 'event', $event);
}

sub got {
    my ($c, $n, $secs) = @_;
    sse_read($c, $secs || 3,
             sub { scalar(grep { defined $_->{id} } @{ $_[0]{events} }) >= $n });
    return [ grep { defined $_->{id} } @{ $c->{events} } ];
}

# --- the headers, an event published by the API ---------------------------

my $c = sse_open($port, '/changes');
is($c->{status}, 200, 'subscribed');
like($c->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream');
is($c->{headers}{'cache-control'}, 'no-cache', 'Cache-Control: no-cache');
is($c->{headers}{'x-accel-buffering'}, 'no', 'X-Accel-Buffering: no');
sse_read($c, 2, sub { @{ $_[0]{events} } >= 1 });
is($c->{events}[0]{retry}, 2000, 'a retry: hint first');

my ($st) = req($port, 'PUT', '/customers?id=42');
is($st, 200, 'the update answered');

my $ev = got($c, 1);
is(scalar @$ev, 1, 'the subscriber got the event');
is($ev->[0]{event}, 'customer.updated', 'event: its type');
like($ev->[0]{id}, qr/^\d+-\d+$/, 'id: the stream id');
my $env = ApiLed::Events::decode($ev->[0]{data} // '');
is($env->{type}, 'customer.updated', 'data: the CloudEvent');
is_deeply($env->{data}, { id => '42' }, 'with its data');
my $first_id = $ev->[0]{id};

# a failed update publishes nothing: a GET is not methods=PUT
req($port, 'GET', '/customers?id=43');
req($port, 'PUT', '/customers?id=44');
$ev = got($c, 2);
is(join(',', map { ApiLed::Events::decode($_->{data})->{data}{id} } @$ev),
   '42,44', 'only what matched, in order');

# heartbeats while nothing happens
$c->{events} = [];
sse_read($c, 2.5, sub { grep { ($_->{comment} // '') eq 'heartbeat' }
                              @{ $_[0]{events} } });
ok((grep { ($_->{comment} // '') eq 'heartbeat' } @{ $c->{events} }),
   'heartbeat=1s: a heartbeat comment');

# --- Last-Event-ID -------------------------------------------------------

my $r = sse_open($port, '/changes', { 'Last-Event-ID' => $first_id });
is($r->{status}, 200, 'resumed');
$ev = got($r, 1);
is(join(',', map { ApiLed::Events::decode($_->{data})->{data}{id} } @$ev),
   '44', 'Last-Event-ID: the entries after it');
req($port, 'PUT', '/customers?id=45');
$ev = got($r, 2);
is(join(',', map { ApiLed::Events::decode($_->{data})->{data}{id} } @$ev),
   '44,45', 'then the live ones, none twice');
ApiLed::Events::sse_close($r);

# numbers beyond 64 bits (fuzz/crashes-open/stream_id: they wrapped in the
# comparison): the ms or the sequence over 18446744073709551615, 31 digits
for my $bad ('abc', '1-2-3', '-1', '1' x 30, '12-', '99999999999999999999',
             '18446744073709551616-0', '1-18446744073709551616',
             '1844674407370955161500000000000-0') {
    my ($s, $h, $body) = req($port, 'GET', '/changes',
                             { 'Last-Event-ID' => $bad });
    is($s, 400, "Last-Event-ID \"$bad\": 400");
    like($h->{'content-type'}, qr{application/problem\+json},
         'problem+json');
    like($body, qr/invalid_last_event_id/, 'its code');
}

# the largest id there is: no entry can follow it (Redis refuses to add
# one), so no client saw an entry before it; it cost a Redis command a
# second for as long as the subscriber stayed, and logged nothing
sub xrange_calls {
    my $info = redis('INFO', 'commandstats') // '';
    return $info =~ /^cmdstat_xrange:calls=(\d+)/m ? $1 : 0;
}
my $top = '18446744073709551615-18446744073709551615';
my $calls = xrange_calls();
my $mx = sse_open($port, '/changes', { 'Last-Event-ID' => $top });
is($mx && $mx->{status}, 400, 'Last-Event-ID of the largest id: 400');
sse_read($mx, 2.5) if $mx;
is(xrange_calls(), $calls, 'and no reads of the stream for it');
ApiLed::Events::sse_close($mx) if $mx;
my ($ms, $mh, $mbody) = ($mx && $mx->{status} == 400)
    ? req($port, 'GET', '/changes', { 'Last-Event-ID' => $top })
    : (0, {}, '');
like($mh->{'content-type'} // '', qr{application/problem\+json},
     'problem+json');
like($mbody, qr/invalid_last_event_id/, 'its code');
like($mbody, qr/no entry can follow/, 'its detail says why');

# a producer gave the largest id to the last entry of a full page: the
# subscriber is at the end, no read after it
redis('XADD', 't077:top', "1-$_", 'type', 'a', 'event', '{}') for 1 .. 99;
redis('XADD', 't077:top', $top, 'type', 'a', 'event', '{}');
$calls = xrange_calls();
my $tc = sse_open($port, '/top', { 'Last-Event-ID' => '0-1' });
is(scalar @{ got($tc, 100) }, 100, 'a full page up to the largest id');
sse_read($tc, 2.5);
cmp_ok(xrange_calls() - $calls, '<=', 1, 'then no more reads after it');
ApiLed::Events::sse_close($tc);

# one below it still resumes
my $max = sse_open($port, '/changes',
    { 'Last-Event-ID' => '18446744073709551615-18446744073709551614' });
is($max && $max->{status}, 200, 'Last-Event-ID just below it: 200');
ApiLed::Events::sse_close($max) if $max;

($st) = req($port, 'POST', '/changes');
is($st, 405, 'POST: 405');

# an "if" block of the location streams (the worker crashed: the block's
# configuration had no stream)
my $fi = sse_open($port, '/changes-if?x=1');
is($fi && $fi->{status}, 200, 'an "if" block of the location: it streams');
ApiLed::Events::sse_close($fi) if $fi;

# a location that removes fields of responses streams all the same (its
# headers were held back for a 502 at the stream's end, which never came)
my $hid = sse_open($port, '/changes-hidden');
is($hid && $hid->{status}, 200,
   'api_led_response_json remove in the location: it streams');
like($hid && $hid->{headers}{'content-type'}, qr{^text/event-stream},
     '... text/event-stream');
ApiLed::Events::sse_close($hid) if $hid;

# --- types= ---------------------------------------------------------------

my $t = sse_open($port, '/typed');
sse_read($t, 1, sub { @{ $_[0]{events} } >= 1 });
add('t077:b', 'a.one', '{"n":1}');
add('t077:b', 'b.other', '{"n":2}');
add('t077:b', 'a.two', '{"n":3}');
$ev = got($t, 2);
is(join(',', map { $_->{event} } @$ev), 'a.one,a.two',
   'types=: only those types');
ApiLed::Events::sse_close($t);

# an entry that is not an event: "event: invalid", no data
my $u = sse_open($port, '/changes');
sse_read($u, 1, sub { @{ $_[0]{events} } >= 1 });
redis('XADD', 't077:a', '*', 'type', 'x', 'event', "two\nlines");
redis('XADD', 't077:a', '*', 'other', 'field');
$ev = got($u, 2);
is(join(',', map { $_->{event} } @$ev), 'invalid,invalid',
   'entries that are not events: event: invalid');
ok(!defined $ev->[0]{data}, 'without data (no line injected)');

# an event without a type field (another producer's): its data, no type
# (the missing field was NULL plus its length: UBSan stopped the worker)
redis('XADD', 't077:a', '*', 'event', '{"n":9}');
$ev = got($u, 3);
is($ev->[2]{data}, '{"n":9}', 'an event without a type: streamed');
is($ev->[2]{event}, '', 'with an empty type');
ApiLed::Events::sse_close($u);

# --- policies run first -------------------------------------------------

my ($s401, $h401, $b401) = req($port, 'GET', '/keyed');
is($s401, 401, 'no API key: 401');
like($b401, qr/missing_credentials/, 'problem+json');
my $k = sse_open($port, '/keyed', { 'X-API-Key' => 'k-channel' });
is($k->{status}, 200, 'with its key: streamed');
ApiLed::Events::sse_close($k);
($st) = req($port, 'GET', '/denied');
is($st, 403, 'deny all: 403');

# the catalog: what an API publishes, what it streams
my (undef, undef, $cat) = req($port, 'GET', '/catalog');
my %apis = map { $_->{name} => $_ } @{ (ApiLed::Events::decode($cat) // {})->{apis} // [] };
is_deeply($apis{customers}{events},
          { publishes => [ { type => 'customer.updated', stream => 't077:a',
                             on => ['2xx'] } ] },
          'catalog: the events an API publishes');
is_deeply($apis{changes}{events},
          { streams => { stream => 't077:a', types => ['customer.updated'] } },
          'catalog: the stream an API serves');

# --- a stream trimmed past the subscriber's id ----------------------------

my @ids = map { add('t077:d', 'd', qq({"n":$_})) } 1 .. 6;
redis('XTRIM', 't077:d', 'MAXLEN', '3');
my $g = sse_open($port, '/trimmed', { 'Last-Event-ID' => $ids[0] });
$ev = got($g, 3);
ok((grep { ($_->{comment} // '') =~ /^trimmed, entries before \Q$ids[3]\E may be gone$/ }
    @{ $g->{events} }), 'the trimmed entries are announced')
    or diag explain $g->{events};
is(join(',', map { ApiLed::Events::decode($_->{data})->{n} } @$ev), '4,5,6',
   'then what is left after the id');
ApiLed::Events::sse_close($g);
my $g2 = sse_open($port, '/trimmed', { 'Last-Event-ID' => $ids[3] });
$ev = got($g2, 2);
ok(!(grep { defined $_->{comment} && $_->{comment} =~ /trimmed/ }
     @{ $g2->{events} }), 'nothing gone after an id kept: no notice');
is(join(',', map { ApiLed::Events::decode($_->{data})->{n} } @$ev), '5,6',
   'the entries after it');
ApiLed::Events::sse_close($g2);

# the same while Redis cannot answer (BUSY: a script runs for 2 s): the
# question is asked again, the trimmed entries are still announced (BUSY
# was taken for "no stream": nothing announced)
redis('CONFIG', 'SET', 'busy-reply-threshold', '100');
my $busy = fork;
if (defined $busy && $busy == 0) {
    ApiLed::Events::redis($rp, 'EVAL',
        "local t = redis.call('TIME') "
        . "while tonumber(redis.call('TIME')[1]) - tonumber(t[1]) < 2 do end",
        0);
    POSIX::_exit(0);
}
sleep 0.5;
my $g3 = sse_open($port, '/trimmed', { 'Last-Event-ID' => $ids[0] });
$ev = got($g3, 3, 6);
waitpid $busy, 0;
redis('CONFIG', 'SET', 'busy-reply-threshold', '5000');
ok((grep { ($_->{comment} // '') =~ /^trimmed, entries before \Q$ids[3]\E may be gone$/ }
    @{ $g3->{events} }), 'Redis busy: the trimmed entries are announced')
    or diag explain $g3->{events};
is(join(',', map { ApiLed::Events::decode($_->{data})->{n} } @$ev), '4,5,6',
   'then what is left after the id');
ApiLed::Events::sse_close($g3);

# --- subscribers that come while the reader learns where its stream ends --
# A new stream's reader asks Redis where the stream ends; subscribers whose
# requests arrive in the same turn of the event loop as that answer start
# once: their headers go out once (they went out twice: nginx's alert
# "header already sent", the subscriber closed), then the events.

my ($started, $events, $n) = (0, 0, 0);
for my $i (1 .. 8) {
    my @socks = grep { defined }
        map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                    Timeout => 5) } 1 .. 30;
    syswrite $_, "GET /race$i HTTP/1.1\r\nHost: localhost\r\n\r\n" for @socks;
    sleep 0.3;
    add("t077:r$i", 'race', qq({"i":$i}));
    for my $s (@socks) {
        $n++;
        my $text = '';
        my $deadline = time + 3;
        my $sel = IO::Select->new($s);
        while ($text !~ /"i":$i/ && time < $deadline) {
            next unless $sel->can_read(0.1);
            my $r = sysread $s, my $chunk, 65536;
            last unless $r;
            $text .= $chunk;
        }
        my $heads = () = $text =~ m{HTTP/1\.1 200}g;
        my $hellos = () = $text =~ /^retry: 2000$/mg;
        $started++ if $heads == 1 && $hellos == 1;
        $events++ if $text =~ /^event: race\r?\n(?:[0-9a-f]+\r\n)?data: \{"i":$i\}/m
                     || $text =~ /data: \{"i":$i\}/;
        close $s;
    }
}
is($started, $n, "$n subscribers of new streams: each started once");
is($events, $n, 'each got the event');

# --- one blocking read per stream per worker ------------------------------

my $before = do { my $l = redis('CLIENT', 'LIST'); scalar(() = $l =~ /cmd=xread\b/g) };
cmp_ok($before, '>=', 1, 'a subscriber of /changes: a blocking read');
my @subs = map { sse_open($port, '/changes') } 1 .. 20;
sse_read($_, 0.3) for @subs;
sub xreads { my $l = redis('CLIENT', 'LIST'); scalar(() = $l =~ /cmd=xread\b/g) }
sse_read($_, 0.3) for @subs;
is(xreads(), $before, '21 subscribers of one stream: no XREAD more in Redis');
req($port, 'PUT', '/customers?id=46');
my $all = 1;
for my $s (@subs) {
    my $e = got($s, 1);
    $all = 0 unless @$e == 1
        && ApiLed::Events::decode($e->[0]{data})->{data}{id} eq '46';
}
ok($all, 'each of them got the event');
ApiLed::Events::sse_close($_) for @subs;
my (undef, undef, $mt) = req($port, 'GET', '/metrics');
my ($streamed) = $mt =~ /^api_led_events_total\{stream="t077:a",outcome="streamed"\} (\d+)$/m;
cmp_ok($streamed // 0, '>=', 20, 'metrics: the events streamed to subscribers')
    or diag($mt);
like($mt, qr/^api_led_events_total\{stream="t077:a",outcome="published"\} \d+$/m,
     'metrics: the events published');

# --- a subscriber that never reads ----------------------------------------

my $slow = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$slowport");
setsockopt($slow, SOL_SOCKET, SO_RCVBUF, 4096);
print $slow "GET /small HTTP/1.1\r\nHost: x\r\n\r\n";
my $fast = sse_open($slowport, '/small');
sse_read($fast, 0.5);
my $pad = 'x' x 2000;
for my $i (1 .. 400) {
    add('t077:c', 'big', qq({"i":$i,"pad":"$pad"}));
    sse_read($fast, 0.02) if $i % 5 == 0;
}
$ev = got($fast, 400, 10);
is(scalar @$ev, 400, 'a reading subscriber got all 400 events');
ok(ApiLed::Events::wait_until(sub {
       ApiLed::Events::error_log($ngx)
           =~ /event stream "t077:c" closed: the client does not read fast enough/ }),
   'the one that never reads is closed, with the reason logged');
$slow->blocking(0);
my $gone = 0;
for (1 .. 200) {
    my $n = sysread $slow, my $buf, 65536;
    if (defined $n && $n == 0) { $gone = 1; last }
    sleep 0.02 unless defined $n;
}
ok($gone, 'its connection is closed');
close $slow;
ApiLed::Events::sse_close($fast);

# --- Redis stopped and restarted mid-stream --------------------------------

my $m = sse_open($port, '/changes');
sse_read($m, 0.5);
stop_redis($R);
$m->{events} = [];
sse_read($m, 2.5, sub { grep { ($_->{comment} // '') eq 'heartbeat' }
                              @{ $_[0]{events} } });
ok((grep { ($_->{comment} // '') eq 'heartbeat' } @{ $m->{events} }),
   'Redis down: the subscriber stays, with heartbeats');
ok(!$m->{eof}, 'not closed');
$R = start_redis(port => $rp);
sleep 1.5;
req($port, 'PUT', '/customers?id=47');
$ev = got($m, 1, 5);
is(join(',', map { ApiLed::Events::decode($_->{data})->{data}{id} } @$ev),
   '47', 'Redis restarted: the next event reaches it');
ApiLed::Events::sse_close($m);
like(ApiLed::Events::error_log($ngx),
     qr/reading the event stream "t077:a" failed/,
     'the outage is logged');

# --- HTTP/2 ---------------------------------------------------------------

SKIP: {
    skip 'no curl', 2 unless -x '/usr/bin/curl';
    my $out = "$dir/h2.out";
    my $pid = fork;
    if ($pid == 0) {
        exec 'curl', '-sN', '--http2-prior-knowledge', '--max-time', '3',
             '-o', $out, "http://127.0.0.1:$h2port/changes";
    }
    sleep 1;
    req($port, 'PUT', '/customers?id=48');
    waitpid $pid, 0;
    my $text = do { local $/; open my $f, '<', $out; <$f> // '' };
    like($text, qr/^retry: 2000$/m, 'HTTP/2: the stream');
    like($text, qr/^event: customer\.updated\ndata: \{.*"id":"48"/m,
         'HTTP/2: the event');
}

unlike(ApiLed::Events::error_log($ngx), qr/\[(alert|emerg|crit)\]|signal \d+/,
       'no alert, no crash');

stop_nginx($ngx);

# --- no policy anywhere: a bad Last-Event-ID is still problem+json; a
# reload ends the streams of the old worker, which exits ------------------

my $bare_h2 = ApiLed::Redis::free_port();
my $bare = start_nginx(master => 1, http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp;
    server {
        listen 127.0.0.1:\$PORT;
        listen 127.0.0.1:$bare_h2 http2;
        location /s {
            api_led_event_stream t077:e heartbeat=1s;
        }
    }
HTTP

my ($sb, $hb, $bb) = req($bare->{port}, 'GET', '/s', { 'Last-Event-ID' => 'x' });
is($sb, 400, 'no API anywhere: a bad Last-Event-ID is 400');
like($hb->{'content-type'}, qr{application/problem\+json}, 'problem+json');
my $old = sse_open($bare->{port}, '/s');
sse_read($old, 0.5);
is($old->{status}, 200, 'a subscriber');
my $h2pid = fork;
if ($h2pid == 0) {
    exec 'curl', '-sN', '--http2-prior-knowledge', '--max-time', '10',
         '-o', "$dir/h2reload.out", "http://127.0.0.1:$bare_h2/s";
}
sleep 0.5;
my $t0 = time;
kill 'HUP', $bare->{pid};
sse_read($old, 5);
ok($old->{eof}, 'a reload: the old worker ends the stream and exits');
waitpid $h2pid, 0;
cmp_ok(time - $t0, '<', 4, 'HTTP/2: the stream ends at its next heartbeat');
is($? >> 8, 0, 'HTTP/2: in order (curl sees the end of the stream)');
ok(ApiLed::Events::wait_until(sub {
       ApiLed::Events::error_log($bare) =~ /gracefully shutting down/ }),
   'the old worker shut down');
sleep 0.5;
unlike(ApiLed::Events::error_log($bare), qr/open socket|\[alert\]/,
       'no socket left open by the old worker');
my $new = sse_open($bare->{port}, '/s');
is($new->{status}, 200, 'the new worker streams');
ApiLed::Events::sse_close($new);
stop_nginx($bare);

# --- a new subscriber while Redis cannot be read: 503 ----------------------

my $noredis = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:@{[ ApiLed::Redis::free_port() ]} timeout=200ms;
    server {
        listen 127.0.0.1:\$PORT;
        location /s {
            api_led_event_stream t077:f;
        }
    }
HTTP
my $t1 = time;
my ($s503, $h503, $b503) = req($noredis->{port}, 'GET', '/s');
is($s503, 503, 'Redis unreachable: a new subscriber gets 503');
like($b503, qr/event_stream_unavailable/, 'problem+json');
cmp_ok(time - $t1, '<', 3, 'without waiting long');
stop_nginx($noredis);

# --- nginx -t ---------------------------------------------------------------

for my $t (
    [ 'no api_led_redis', 'server { location / { api_led_event_stream s; } }',
      qr/api_led_redis/ ],
    [ 'a bad type', "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event_stream s types=a,b\@c; } }",
      qr/invalid event type "b\@c"/ ],
    [ 'buffer= too small', "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event_stream s buffer=100; } }",
      qr/invalid parameter "buffer=100"/ ],
    [ 'two in a location', "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event_stream s; api_led_event_stream t; } }",
      qr/is duplicate/ ],
    [ 'with proxy_pass', "api_led_redis 127.0.0.1:$rp; server { location / { proxy_pass http://127.0.0.1:1; api_led_event_stream s; } }",
      qr/"api_led_event_stream" directive conflicts with another content handler of the location in \S+nginx.conf:\d+/ ],
    [ 'before proxy_pass', "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event_stream s; proxy_pass http://127.0.0.1:1; } }",
      qr/"api_led_event_stream" directive conflicts with another content handler of the location in \S+nginx.conf:\d+/ ],
    [ 'with the metrics', "api_led_redis 127.0.0.1:$rp; server { location / { api_led_metrics; api_led_event_stream s; } }",
      qr/"api_led_event_stream" directive conflicts with another content handler of the location in \S+nginx.conf:\d+/ ],
) {
    my ($rc, $out) = ApiLed::Events::nginx_t(http => $t->[1]);
    isnt($rc, 0, "nginx -t fails: $t->[0]");
    like($out, $t->[2], "nginx -t says why: $t->[0]") or diag($out);
}

# --- an ACL user that may not run XINFO -------------------------------------
# the trimmed check cannot be made and never will: the client resumes
# without it (every error but LOADING, BUSY and MASTERDOWN was asked again
# every second, for good: the client got heartbeats and nothing else)

redis('ACL', 'SETUSER', 't077acl', 'on', '>t077pw', '~*', '+@all', '-xinfo');
my @acl = map { add('t077:acl', 'a', qq({"n":$_})) } 1 .. 3;
my $aclngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp user=t077acl password=t077pw timeout=300ms;

    server {
        listen 127.0.0.1:\$PORT;

        location /acl {
            api_led_event_stream t077:acl heartbeat=1s;
        }
    }
HTTP
my $ga = sse_open($aclngx->{port}, '/acl', { 'Last-Event-ID' => $acl[0] });
$ev = got($ga, 2, 4);
is(join(',', map { ApiLed::Events::decode($_->{data})->{n} } @$ev), '2,3',
   'a user that may not XINFO: the client resumes');
ApiLed::Events::sse_close($ga);
stop_nginx($aclngx);

stop_redis($R);
done_testing();
