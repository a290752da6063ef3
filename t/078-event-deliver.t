# Delivery (api_led_event_deliver): nginx consumes a stream with a
# consumer group and POSTs each event to a location, as its own request
# without a client; XACK only after a 2xx; retries with backoff, then the
# dead-letter stream; entries left pending by a dead consumer claimed
# (XAUTOCLAIM); nothing lost across a Redis restart, an nginx reload or a
# worker crash.
#
# Runs its own redis-server (persistent, restarted mid-delivery), its own
# nginx (master and two workers: reloaded, a worker killed) and a listener
# backend that records what it receives.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use POSIX ();
use Sys::Hostname ();
use IO::Socket::INET;
use IO::Select;
use ApiLed::Redis qw(start_redis stop_redis start_nginx stop_nginx);
use ApiLed::Events;

my $rdir = tempdir(CLEANUP => 1);
my @rargs = ('--dir', $rdir, '--appendonly', 'yes',
             '--appendfsync', 'always');
my $R = start_redis(args => \@rargs);
my $rp = $R->{port};

sub redis { ApiLed::Events::redis($rp, @_) }
sub xrange { ApiLed::Events::xrange($rp, @_) }
sub req { ApiLed::Events::request(@_) }
sub wait_until { ApiLed::Events::wait_until(@_) }

# XPENDING KEY GROUP: the number of entries not acknowledged
sub pending {
    my ($key) = @_;
    my $r = redis('XPENDING', $key, 'g');
    return ref $r eq 'ARRAY' ? $r->[0] : -1;
}

sub xadd {
    my ($key, $event) = @_;
    return redis('XADD', $key, '*', 'type', 'thing.happened',
                 'event', $event);
}

sub event {
    my ($id) = @_;
    return qq({"specversion":"1.0","id":"$id","source":"t078",)
         . qq("type":"thing.happened","correlationid":"corr-$id",)
         . qq("data":{"n":"$id"}});
}

# The listener backend: /ok answers 200, /slow after a second, /hang
# after 5 seconds (later than the listener's timeout); every request it
# gets is appended to "received" as one line: METHOD PATH CONTENT-TYPE
# X-CORRELATION-ID BODY.
my $sdir = tempdir(CLEANUP => 1);

my $sink = ApiLed::Redis::serve_connections(sub {
    my ($c) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread $c, my $chunk, 65536;
        return unless $n;
        $buf .= $chunk;
    }
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
    $len //= 0;
    while (length $body < $len) {
        my $n = sysread $c, my $chunk, 65536;
        return unless $n;
        $body .= $chunk;
    }
    my ($method, $path) = $head =~ m{^(\S+) (\S+)};
    my ($ct) = $head =~ /^content-type:\s*([^\r\n]*)/mi;
    my ($cid) = $head =~ /^x-correlation-id:\s*([^\r\n]*)/mi;
    if ($body =~ /"id":"([^"]+)"/) {
        open my $s, '>>', "$sdir/started" or die $!;
        syswrite $s, "$1\n";
        close $s;
    }
    sleep 1 if $path eq '/slow';
    sleep 5 if $path eq '/hang';
    open my $f, '>>', "$sdir/received" or die $!;
    syswrite $f, "$method $path " . ($ct // '-') . ' ' . ($cid // '-')
                 . " $body\n";
    close $f;
    print $c "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
});
my $sp = $sink->{port};

# whether the backend has begun to answer an event (id)
sub started {
    my ($id) = @_;
    open my $f, '<', "$sdir/started" or return 0;
    return scalar grep { $_ eq "$id\n" } <$f>;
}

sub received {
    open my $f, '<', "$sdir/received" or return [];
    my @l = <$f>;
    chomp @l;
    return \@l;
}

# the ids the backend received (each may come more than once)
sub received_ids {
    my ($path) = @_;
    my %seen;
    for (@{ received() }) {
        next unless m{^POST \Q$path\E };
        $seen{$1}++ if /"id":"([^"]+)"/;
    }
    return \%seen;
}

# an entry already in the stream before nginx starts: the group is made
# from the stream's start, it is delivered too
xadd('t078.ok', event('ok-before'));

# an entry a dead node read and never acknowledged
redis('XGROUP', 'CREATE', 't078.claim', 'g', '0', 'MKSTREAM');
xadd('t078.claim', event('claim-1'));
redis('XREADGROUP', 'GROUP', 'g', 'deadnode', 'COUNT', '10',
      'STREAMS', 't078.claim', '>');
is(pending('t078.claim'), 1, 'a dead node left an entry pending');

# entries a predecessor of worker 0 (its consumer name, HOSTNAME:0) read
# and did not acknowledge, one of them deleted from the stream since
my $me = lc(Sys::Hostname::hostname()) . ':0';
redis('XGROUP', 'CREATE', 't078.hist', 'g', '0', 'MKSTREAM');
xadd('t078.hist', event('hist-1'));
my $gone = xadd('t078.hist', event('hist-gone'));
redis('XREADGROUP', 'GROUP', 'g', $me, 'COUNT', '10',
      'STREAMS', 't078.hist', '>');
redis('XDEL', 't078.hist', $gone);
is(pending('t078.hist'), 2, "a predecessor ($me) left two entries pending");

my $ngx = start_nginx(master => 1, workers => 2, http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp timeout=300ms;
    api_led_metrics_zone api_led:1m;

    api_led_event_deliver t078.ok group=g to=/hook/ok
        dead_letter=t078.ok.dead;
    api_led_event_deliver t078.fail group=g to=/fail retries=2
        dead_letter=t078.fail.dead timeout=1s claim_after=3s;
    api_led_event_deliver t078.hang group=g to=/hook/hang retries=1
        dead_letter=t078.hang.dead timeout=1s claim_after=3s;
    api_led_event_deliver t078.missing group=g to=/nowhere retries=0
        dead_letter=t078.missing.dead;
    api_led_event_deliver t078.keep group=g to=/fail retries=0;
    api_led_event_deliver t078.slow group=g to=/hook/slow
        timeout=5s claim_after=12s concurrency=4;
    api_led_event_deliver t078.claim group=g to=/hook/ok
        timeout=1s claim_after=2s;
    api_led_event_deliver t078.limited group=g to=/limited;
    api_led_event_deliver t078.hist group=g to=/hook/ok;
    api_led_event_deliver t078.close group=g to=/close retries=0
        dead_letter=t078.close.dead;
    api_led_event_deliver t078.unbuffered group=g to=/unbuffered
        retries=0 dead_letter=t078.unbuffered.dead;

    limit_req_zone \$binary_remote_addr zone=t078:1m rate=10r/s;

    server {
        listen 127.0.0.1:\$PORT;
        root /nonexistent/t078;

        location /hook/ {
            proxy_pass http://127.0.0.1:$sp/;
        }

        location /fail {
            return 500;
        }

        location /close {
            return 444;
        }

        location /unbuffered {
            proxy_buffering off;
            proxy_pass http://127.0.0.1:$sp/unbuffered;
        }

        location /limited {
            limit_req zone=t078 burst=20;
            proxy_pass http://127.0.0.1:$sp/limited;
        }

        location /metrics {
            api_led_metrics;
        }
    }

    # a server's own listener delivers to that server's locations
    server {
        listen 127.0.0.1:\$PORT;
        server_name second;
        root /nonexistent/t078;

        api_led_event_deliver t078.srv group=g to=/only-here;

        location /only-here {
            proxy_pass http://127.0.0.1:$sp/second;
        }
    }
HTTP

my $port = $ngx->{port};
my $log = sub { ApiLed::Events::error_log($ngx) };

sub metric {
    my ($stream, $outcome) = @_;
    my (undef, undef, $text) = req($port, 'GET', '/metrics');
    return $text =~ /^api_led_events_total\{stream="\Q$stream\E",outcome="$outcome"\} (\d+)$/m
           ? $1 : 0;
}

# --- a 2xx: delivered as a CloudEvent, acknowledged

xadd('t078.ok', event('ok-1'));

ok(wait_until(sub { my $r = received_ids('/ok');
                    $r->{'ok-1'} && $r->{'ok-before'} }, 8),
   'the listener POSTed both events to the location')
    or diag(explain(received()));

my ($line) = grep { /"id":"ok-1"/ } @{ received() };
is($line, 'POST /ok application/cloudevents+json corr-ok-1 ' . event('ok-1'),
   'as the request body, application/cloudevents+json, unchanged, with '
   . 'its correlation id as X-Correlation-ID');
ok(wait_until(sub { pending('t078.ok') == 0 }),
   'acknowledged: nothing pending') or diag(pending('t078.ok'));

# --- 500: retried, then into the dead-letter stream

my $fid = xadd('t078.fail', event('fail-1'));

ok(wait_until(sub { @{ xrange('t078.fail.dead') } == 1 }, 8),
   'a listener that answers 500: the entry is dead-lettered');
my $dead = xrange('t078.fail.dead')->[0];
my %f = @{ redis('XRANGE', 't078.fail.dead', '-', '+')->[0][1] };
is_deeply([ @f{qw(stream id group attempts status)} ],
          [ 't078.fail', $fid, 'g', 3, 500 ],
          'with its stream, id, group, attempts (1 + retries=2), status');
is($dead->{event}{id}, 'fail-1', 'and the event itself');
is($dead->{type}, 'thing.happened', 'and its type');
ok(wait_until(sub { pending('t078.fail') == 0 }),
   'acknowledged once it is in the dead-letter stream');
like($log->(), qr/delivery of \Q$fid\E to "\/fail" failed with 500 \(attempt 1 of 3\)/,
     'each failure logged');
like($log->(), qr/delivery of \Q$fid\E to "\/fail" failed with 500 \(attempt 3 of 3\)/,
     'up to the last');

# --- a listener that does not answer in time

my $hid = xadd('t078.hang', event('hang-1'));

ok(wait_until(sub { @{ xrange('t078.hang.dead') } == 1 }, 10),
   'a listener that times out: dead-lettered after its attempts');
%f = @{ redis('XRANGE', 't078.hang.dead', '-', '+')->[0][1] };
is_deeply([ @f{qw(id attempts status)} ], [ $hid, 2, 504 ],
          'two attempts, 504');
like($log->(), qr/api_led: delivery timed out .*listener of stream "t078.hang" group "g", entry \Q$hid\E/,
     'the timeout logged with the listener and the entry');

# --- a location that is missing

my $mid = xadd('t078.missing', event('missing-1'));

ok(wait_until(sub { @{ xrange('t078.missing.dead') } == 1 }),
   'a missing location: dead-lettered');
%f = @{ redis('XRANGE', 't078.missing.dead', '-', '+')->[0][1] };
is_deeply([ @f{qw(id attempts status)} ], [ $mid, 1, 404 ],
          'retries=0: one attempt, 404');

# --- a location that closes the connection (444)

my $cl = xadd('t078.close', event('close-1'));
ok(wait_until(sub { @{ xrange('t078.close.dead') } == 1 }),
   'a location that answers 444: dead-lettered');
%f = @{ redis('XRANGE', 't078.close.dead', '-', '+')->[0][1] };
is_deeply([ @f{qw(id attempts status)} ], [ $cl, 1, 444 ], 'status 444');

# --- a target that streams its upstream's answer (proxy_buffering off):
# nginx sets TCP_NODELAY on the client's connection, which a delivery does
# not have (it failed: an alert, 502, dead-lettered)

my $uid = xadd('t078.unbuffered', event('unbuffered-1'));
ok(wait_until(sub { received_ids('/unbuffered')->{'unbuffered-1'}
                    && pending('t078.unbuffered') == 0 }),
   'proxy_buffering off: delivered and acknowledged');
is(scalar @{ xrange('t078.unbuffered.dead') }, 0, 'not dead-lettered');
unlike($log->(), qr/setsockopt\(TCP_NODELAY\) failed/,
       'no socket option set on the delivery\'s connection');

# --- an entry that is not a JSON event

my $bid = xadd('t078.ok', 'this is {not json');

ok(wait_until(sub { @{ xrange('t078.ok.dead') } == 1 }),
   'an entry that is not JSON: dead-lettered');
%f = @{ redis('XRANGE', 't078.ok.dead', '-', '+')->[0][1] };
is_deeply([ @f{qw(id attempts status event)} ],
          [ $bid, 0, 'invalid', 'this is {not json' ],
          'at once, never POSTed, as it was');
ok(!grep({ /not json/ } @{ received() }), 'the location never got it');
like($log->(), qr/entry \Q$bid\E is not a JSON event, not delivered/,
     'logged');

# --- no dead-letter stream: nothing acknowledged without a 2xx

my $kid = xadd('t078.keep', event('keep-1'));

ok(wait_until(sub { $log->() =~ /entry \Q$kid\E not delivered after 1 attempts, left pending/ }),
   'without dead_letter=: the failure is logged');
is(pending('t078.keep'), 1, 'and the entry stays pending');

# --- claimed from a dead consumer

ok(wait_until(sub { received_ids('/ok')->{'claim-1'} }, 8),
   'an entry a dead node left pending is claimed and delivered');
ok(wait_until(sub { pending('t078.claim') == 0 }),
   'and acknowledged');
like($log->(), qr/listener of stream "t078.claim" claimed 1 entries left pending longer than 2000 ms/,
     'the claim logged');

# --- a predecessor's pending entries, at once (not after claim_after=)

ok(wait_until(sub { received_ids('/ok')->{'hist-1'} }, 8),
   "worker 0 delivers its predecessor's pending entry at start");
ok(wait_until(sub { pending('t078.hist') == 0 }),
   'and acknowledges it and the one deleted from the stream');
like($log->(), qr/entry \Q$gone\E was deleted from the stream, acknowledged/,
     'the deleted one is logged, never delivered');

# --- a listener of a server

xadd('t078.srv', event('srv-1'));
ok(wait_until(sub { received_ids('/second')->{'srv-1'} }),
   "a server's listener delivers to its server's location")
    or diag(explain(received()));

# --- the target's own policies run: limit_req delays (a timer of the
# connection without a client), then the delivery goes on

xadd('t078.limited', event("limited-$_")) for 1 .. 6;
ok(wait_until(sub { my $r = received_ids('/limited');
                    6 == grep { $r->{$_} } map "limited-$_", 1 .. 6 }, 8),
   'a target with limit_req: every event delivered')
    or diag(explain(received_ids('/limited')));
like($log->(), qr/delaying request, excess: .*request: "POST \/limited"/,
     'after limit_req delayed some');
ok(wait_until(sub { pending('t078.limited') == 0 }), 'and acknowledged');

# --- Redis restarted mid-delivery (each delivery takes a second)

xadd('t078.slow', event("redis-$_")) for 1 .. 6;
ok(wait_until(sub { started('redis-1') }), 'deliveries under way');
stop_redis($R);
sleep 1.5;
$R = start_redis(port => $rp, args => \@rargs);
xadd('t078.slow', event('redis-after'));

ok(wait_until(sub { my $r = received_ids('/slow');
                    7 == grep { $r->{$_} } map("redis-$_", 1 .. 6),
                                                'redis-after' }, 20),
   'Redis restarted: every event delivered')
    or diag(explain(received_ids('/slow')));
ok(wait_until(sub { pending('t078.slow') == 0 }, 10),
   'and every one acknowledged') or diag(pending('t078.slow'));
like($log->(), qr/entry \S+ not acknowledged \(Redis unavailable\), it will be delivered again/,
     'a delivery ended while Redis was away: not acknowledged, delivered again');

# --- nginx reloaded during delivery

xadd('t078.slow', event("reload-$_")) for 1 .. 8;
ok(wait_until(sub { started('reload-1') }), 'deliveries under way');
kill 'HUP', $ngx->{pid};

ok(wait_until(sub { my $r = received_ids('/slow');
                    8 == grep { $r->{$_} } map "reload-$_", 1 .. 8 }, 20),
   'nginx reloaded: every event delivered')
    or diag(explain(received_ids('/slow')));
ok(wait_until(sub { pending('t078.slow') == 0 }, 10),
   'and acknowledged, none left pending') or diag(pending('t078.slow'));
ok(wait_until(sub { $log->() =~ /gracefully shutting down/ }),
   'the old workers shut down gracefully');
ok(wait_until(sub { my @w = split ' ', `pgrep -P $ngx->{pid}`; @w == 2 }, 15),
   'and exited');

# --- a worker killed during delivery

my @workers = grep { /^\d+$/ } split /\s+/, `pgrep -P $ngx->{pid}`;
ok(@workers >= 1, 'workers found');
xadd('t078.slow', event("crash-$_")) for 1 .. 6;
ok(wait_until(sub { started('crash-1') }), 'deliveries under way');
kill 'KILL', @workers;

ok(wait_until(sub { my $r = received_ids('/slow');
                    6 == grep { $r->{$_} } map "crash-$_", 1 .. 6 }, 20),
   'workers killed: every event delivered by the new ones')
    or diag(explain(received_ids('/slow')));
ok(wait_until(sub { pending('t078.slow') == 0 }, 10),
   'and acknowledged') or diag(pending('t078.slow'));
my $crash = 0;
$crash += $_ for @{ received_ids('/slow') }{ map "crash-$_", 1 .. 6 };
cmp_ok($crash, '>', 6, "the deliveries the killed workers had under way were made again ($crash POSTs)");

# --- the counters

cmp_ok(metric('t078.ok', 'delivered'), '>=', 1, 'delivered counted');
cmp_ok(metric('t078.fail', 'retried'), '>=', 1, 'retried counted');
cmp_ok(metric('t078.missing', 'dead_lettered'), '>=', 1,
       'dead_lettered counted');

is(join('', grep { !/exited on signal 9\b/ }
              $log->() =~ /^.*\[(?:alert|crit|emerg)\].*$/mg), '',
   'no alert, no crash (but the workers killed)');

stop_nginx($ngx);

# --- a Redis that cannot answer yet (LOADING its data after a restart, as
# an AOF makes it): read again every second, as a Redis away, not after
# claim_after= / 2 (30 s) as an error that stays.  A gate in front of the
# Redis answers XREADGROUP with LOADING while a file exists; the
# listener's reads come one at a time on a connection of their own.

my $ldir = tempdir(CLEANUP => 1);
my $loading = "$ldir/loading";

my $gate = ApiLed::Redis::serve_connections(sub {
    my ($c) = @_;
    my $up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$rp") or return;
    my $sel = IO::Select->new($c, $up);
    my $in = '';
    for (;;) {
        for my $s ($sel->can_read(0.05)) {
            my $n = sysread $s, my $chunk, 65536;
            return unless $n;
            if ($s == $up) {
                ApiLed::Redis::write_all($c, $chunk) or return;
                next;
            }
            $in .= $chunk;
            while (my ($cmd, $len) = ApiLed::Redis::parse_command($in)) {
                my $raw = substr $in, 0, $len, '';
                if (uc $cmd->[0] eq 'XREADGROUP' && -e $loading) {
                    ApiLed::Redis::write_all($c, "-LOADING Redis is loading "
                                             . "the dataset in memory\r\n")
                        or return;
                    next;
                }
                ApiLed::Redis::write_all($up, $raw) or return;
            }
        }
    }
});

open my $lf, '>', $loading or die $!;
close $lf;

my $lngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$gate->{port} timeout=300ms;
    api_led_event_deliver t078.loading group=g to=/hook/ok;

    server {
        listen 127.0.0.1:\$PORT;

        location /hook/ {
            proxy_pass http://127.0.0.1:$sp/;
        }
    }
HTTP

xadd('t078.loading', event('loading-1'));
ok(wait_until(sub { ApiLed::Events::error_log($lngx)
                    =~ /listener of stream "t078.loading": redis cannot answer yet \(LOADING/ }),
   'LOADING: said');
sleep 1.5;
unlink $loading;
ok(wait_until(sub { received_ids('/ok')->{'loading-1'} }, 5),
   'Redis loaded: the entry is delivered within seconds')
    or diag(ApiLed::Events::error_log($lngx));
ok(wait_until(sub { pending('t078.loading') == 0 }), 'and acknowledged');
my @said = (ApiLed::Events::error_log($lngx) =~ /redis cannot answer yet/g);
is(scalar @said, 1, 'said once while it lasted');

stop_nginx($lngx);
stop_redis($R);

# --- configuration mistakes, caught by nginx -t with file and line

sub nginx_t {
    my ($http) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '')[0];
    open my $f, '>', "$dir/nginx.conf" or die $!;
    print $f "load_module $module;\nerror_log stderr;\n"
           . "events { worker_connections 16; }\n"
           . "http {\n$http\n    server { listen 127.0.0.1:1; }\n}\n";
    close $f;
    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$bin -t -p $dir/ -c $dir/nginx.conf 2>&1`;
    return ($? >> 8, $out);
}

my @bad = (
    [ "api_led_event_deliver s group=g to=/x;",
      qr/"api_led_redis" is needed/, 'no api_led_redis' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=/x timeout=5s claim_after=5s;",
      qr/"claim_after=" must be longer than "timeout=".* in \S+nginx.conf:6/,
      'claim_after= not longer than timeout=' ],
    [ "api_led_redis 127.0.0.1:$rp;\n    api_led_event_deliver s group=g;",
      qr/"api_led_event_deliver" directive needs "group=" and "to=" in \S+nginx.conf:6/,
      'no to=' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=http://crm/x;",
      qr/invalid "to=http:\/\/crm\/x": a local URI/, 'to= not local' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=/x dead_letter=s;",
      qr/dead_letter=" stream that is the stream itself/,
      'dead_letter= is the stream' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=/x;\n"
      . "    api_led_event_deliver s group=g to=/y;",
      qr/the stream and group have a listener already in \S+nginx.conf:7/,
      'two listeners of one stream and group' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=/x retries=101;",
      qr/invalid "retries=101": 0 to 100/, 'retries= out of range' ],
    [ "api_led_redis 127.0.0.1:$rp;\n"
      . "    api_led_event_deliver s group=g to=/x concurrency=0;",
      qr/invalid "concurrency=0": 1 to 1024/, 'concurrency= out of range' ],
);

for my $b (@bad) {
    my ($rc, $out) = nginx_t($b->[0]);
    ok($rc != 0 && $out =~ $b->[1], "nginx -t: $b->[2]") or diag($out);
}

my ($rc, $out) = nginx_t("api_led_redis 127.0.0.1:$rp;\n"
                         . "    api_led_event_deliver s group=g to=/x?a=1 "
                         . "retries=0 dead_letter=s.dead timeout=1s "
                         . "claim_after=2s concurrency=64;");
is($rc, 0, 'nginx -t: every parameter') or diag($out);

done_testing();
