# api_led_event: an event is published once the outcome is known, only
# when the status and the method match; its CloudEvents envelope; its data
# from the template language ({request...}, {response...} after the
# response transformation, variables); MAXLEN; what is not published (a
# missing value, data that is not JSON); a composition's part publishes
# when its own response ends; nginx -t.
#
# Runs its own nginx (ApiLed::Redis::start_nginx) against the run's Redis.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use ApiLed::Redis qw(start_nginx stop_nginx);
use ApiLed::Events;

my $rp = $ENV{TEST_NGINX_REDIS_PORT} or die "no TEST_NGINX_REDIS_PORT";

sub redis { ApiLed::Events::redis($rp, @_) }
sub xrange { ApiLed::Events::xrange($rp, @_) }
sub req { ApiLed::Events::request(@_) }

redis('DEL', map { "t075:$_" } 1 .. 13, 'gone', 'gone499');

# an upstream that takes connections and never answers: the client leaves
my $mute = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1:0',
                                 ReuseAddr => 1)
    or die "listen: $!";
my $mute_port = $mute->sockport;

my $ngx = start_nginx(http => <<"HTTP");
    api_led_redis 127.0.0.1:$rp;
    api_led_event_outbox 16m;

    server {
        listen 127.0.0.1:\$PORT;

        location /orders {
            api_led_api   orders layer=system;
            api_led_event order.created stream=t075:1 methods=POST
                'data={"id":{response/id},"sent":{request},"who":"\$http_x_who","v":[1,{request/n}]}';
            api_led_event order.failed stream=t075:2 on=4xx,500;
            api_led_response_json rename /oid /id;
            add_header X-Span \$api_led_span_id always;
            proxy_pass http://127.0.0.1:\$PORT/backend\$is_args\$args;
        }

        location /backend {
            if (\$arg_status = 404) {
                return 404 '{"error":"no"}';
            }
            if (\$arg_status = 503) {
                return 503 '{"error":"busy"}';
            }
            if (\$arg_status = 500) {
                return 500 '{"error":"broken"}';
            }
            default_type application/json;
            return 201 '{"oid":42,"ok":true}';
        }

        # its name, the source of its events, has a quote
        location "/q\\"x" {
            api_led_event quote.seen stream=t075:q on=204;
            return 204;
        }

        location /plain {
            api_led_event thing.seen stream=t075:3 on=200,204;
            add_header X-Trace \$api_led_trace_id always;
            add_header X-Span \$api_led_span_id always;
            proxy_pass http://127.0.0.1:\$PORT/p204;
        }

        location /p204 {
            return 204;
        }

        # 499: no answer went out (the client left), no 4xx happened
        location /gone {
            api_led_event thing.gone stream=t075:gone on=4xx;
            api_led_event thing.left stream=t075:gone499 on=499;
            proxy_pass http://127.0.0.1:$mute_port;
        }

        location /slow-body {
            client_body_timeout 1s;
            api_led_event thing.stalled stream=t075:gone on=4xx;
            api_led_event thing.timed stream=t075:gone499 on=408;
            proxy_pass http://127.0.0.1:$mute_port;
        }

        location /closed {
            api_led_event thing.closed stream=t075:gone on=4xx;
            return 444;
        }

        # a body larger than the buffer goes to a temporary file
        location /bigbody {
            client_body_buffer_size 1k;
            api_led_event big.posted stream=t075:13 methods=POST
                'data={"n":{request/n},"len":{request/pad}}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        # five times the body: an event larger than a stream's readers take
        location /huge {
            client_max_body_size 2m;
            api_led_event huge.posted stream=t075:14 methods=POST
                'data={"a":{request},"b":{request},"c":{request},"d":{request},"e":{request},"n":{request/n}}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /trim {
            api_led_event thing.trimmed stream=t075:4 maxlen=1;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /missing {
            api_led_event thing.missing stream=t075:5
                'data={"x":{response/nothing}}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /bytes {
            api_led_event thing.bytes stream=t075:6
                'data={"name":"\$http_x_name"}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /composed {
            api_led_api  front layer=experience;
            api_led_compose {
                a  "/part-a";
                b  "/part-b" optional;
            }
        }

        location /part-a {
            api_led_event part.a stream=t075:7 'data={"a":{response/oid}}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /part-b {
            api_led_event part.b stream=t075:7;
            proxy_pass http://127.0.0.1:\$PORT/backend?status=503;
        }

        # a composition that writes, then publishes
        location /write {
            api_led_api  customer layer=process;
            api_led_compose PATCH {
                record   PATCH "/sys?status=\$arg_status" body=\@request
                         status=pass;
                updated  event=customer.updated stream=t075:8 maxlen=100
                         'data={"id":{record/oid},"by":{request/who}}';
                told     event=customer.told stream=t075:8 after=record;
                audit    "/sys?status=503" optional;
                never    event=customer.audited stream=t075:8 after=audit;
            }
        }

        location /sys {
            proxy_pass http://127.0.0.1:\$PORT/backend\$is_args\$args;
        }
    }
HTTP

my $port = $ngx->{port};
my @ev;

# --- the envelope, data and conditions -----------------------------------

my ($st, $h, $body) = req($port, 'POST', '/orders', {
    'X-Who' => 'Ada "the first"',
    'Content-Type' => 'application/json',
    'traceparent' => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
}, '{"n":7,"item":"book"}');

is($st, 201, 'the API answers');
is($body, '{"ok":true,"id":42}', 'the response, transformed');

ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:1') } == 1 }),
   'one event in the stream');
@ev = @{ xrange('t075:1') };
my $e = $ev[0]{event};

is($ev[0]{type}, 'order.created', 'the entry names its type');
is($e->{specversion}, '1.0', 'CloudEvents 1.0');
like($e->{id}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
     'id: a UUID');
is($e->{source}, 'orders', 'source: the API');
is($e->{type}, 'order.created', 'type');
is($e->{subject}, '/orders', 'subject: the path');
like($e->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'time: RFC 3339');
is($e->{datacontenttype}, 'application/json', 'datacontenttype');
is($e->{correlationid}, $h->{'x-correlation-id'},
   'correlationid: the request\'s, as the client saw it');
# CloudEvents distributed tracing: the trace context of the span that
# made the event, the API call's own, not the client's parent span
like($h->{'x-span'}, qr/^[0-9a-f]{16}$/, 'the API call has a span');
isnt($h->{'x-span'}, '00f067aa0ba902b7', 'its own, not the client\'s');
is($e->{traceparent},
   "00-4bf92f3577b34da6a3ce929d0e0e4736-$h->{'x-span'}-01",
   'traceparent: the client\'s trace, the API call\'s span');
is_deeply($e->{data}, { id => 42, sent => { n => 7, item => 'book' },
                        who => 'Ada "the first"', v => [1, 7] },
          'data: the response after its transformation, the client\'s '
          . 'body, a variable');

# a GET matches on= but not methods=: nothing
($st) = req($port, 'GET', '/orders');
is($st, 201, 'GET answered');

# failures: order.failed on 4xx and 500, never order.created
($st) = req($port, 'POST', '/orders?status=404', {}, '{}');
is($st, 404, '404 answered');
($st) = req($port, 'POST', '/orders?status=503', {}, '{}');
is($st, 503, '503 answered');
($st) = req($port, 'POST', '/orders?status=500', {}, '{}');
is($st, 500, '500 answered');

ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:2') } == 2 }),
   'on=4xx,500: two events');
@ev = @{ xrange('t075:2') };
is(join(',', map { $_->{event}{type} } @ev), 'order.failed,order.failed',
   'the failures');
ok(!exists $ev[0]{event}{data}, 'no data= : no data');
ok(!exists $ev[0]{event}{datacontenttype}, 'nor a datacontenttype');
is(scalar @{ xrange('t075:1') }, 1,
   'no order.created for a GET or a failure');

# a path with a quote and a backslash: the subject is percent-encoded, so
# valid JSON as it is
($st) = req($port, 'POST', '/orders/a%22b%5Cc', {}, '{"n":1}');
is($st, 201, 'a path with a quote and a backslash answered');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:1') } == 2 }),
   'its event published');
is(xrange('t075:1')->[1]{event}{subject}, '/orders/a%22b%5Cc',
   'subject: the path, percent-encoded');

# a body in a temporary file: the upstream has it, and the event reads it
# at the end (the upstream closed the file once its header was sent, and
# the event was lost)
my $pad = 'x' x 20000;
($st) = req($port, 'POST', '/bigbody', {}, qq({"n":7,"pad":"$pad"}));
is($st, 201, 'a 20 KB body answered');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:13') } == 1 }),
   'the event that reads a body in a temporary file is published');
is(xrange('t075:13')->[0]{event}{data}{n}, 7, 'with the value of the body');
is(length(xrange('t075:13')->[0]{event}{data}{len} // ''), 20000,
   'and its long string');

# an event over the 4 MB a reply may hold: in the stream, every
# subscriber and listener of it would stop at it for good; it is dropped
# and logged, and the stream goes on
redis('DEL', 't075:14');
my $big = 'y' x 900000;
($st) = req($port, 'POST', '/huge', {}, qq({"n":1,"pad":"$big"}));
is($st, 201, 'a body that makes a 4.5 MB event answered');
($st) = req($port, 'POST', '/huge', {}, '{"n":2}');
is($st, 201, 'and a small one');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:14') } == 1 }),
   'the small event published') or diag(scalar @{ xrange('t075:14') });
is(xrange('t075:14')->[0]{event}{data}{n}, 2, 'the large one not');
like(ApiLed::Events::error_log($ngx),
     qr/\[error\].*api_led: event "huge\.posted" not published: it is larger than a reader of its stream takes/,
     'the large one logged');

# a source that needs escaping: the location's name has a quote
($st) = req($port, 'GET', '/q%22x');
is($st, 204, 'a location with a quote in its name answered');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:q') } == 1 }),
   'its event published');
is(xrange('t075:q')->[0]{event}{source}, '/q"x',
   'source: escaped as JSON and read back');

# on=200,204: a 204 without a body
($st, $h) = req($port, 'GET', '/plain');
is($st, 204, 'a 204 answered');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:3') } == 1 }),
   'on=204 published');
is(xrange('t075:3')->[0]{event}{source}, '/plain',
   'no API: the source is the location');
like($h->{'x-trace'}, qr/^[0-9a-f]{32}$/, 'a trace started here');
like(xrange('t075:3')->[0]{event}{traceparent},
   qr/^00-$h->{'x-trace'}-$h->{'x-span'}-0[01]$/,
   'no traceparent came: the event carries the trace started here');

# maxlen=1: XADD MAXLEN ~ 1 trims (in whole nodes of 100 entries)
req($port, 'GET', '/trim') for 1 .. 250;
ok(ApiLed::Events::wait_until(sub {
       (redis('XINFO', 'STREAM', 't075:4') // [])->[1] // 0 } ), 'trimmed stream');
ok(ApiLed::Events::wait_until(sub {
       my $info = { @{ redis('XINFO', 'STREAM', 't075:4') } };
       $info->{'entries-added'} == 250 }), '250 added');
my $info = { @{ redis('XINFO', 'STREAM', 't075:4') } };
cmp_ok($info->{length}, '<', 250, 'MAXLEN ~ 1: the stream was trimmed');

# a value missing: not published, logged
($st) = req($port, 'GET', '/missing');
is($st, 201, 'the request is not affected');
ok(ApiLed::Events::wait_until(sub {
       ApiLed::Events::error_log($ngx) =~ /event "thing.missing" not published: \{response\/nothing\} not found/ }),
   'a missing value is logged');

# a variable that is not UTF-8: the data would not be JSON (the template
# refuses it when rendering, json/ngx_api_led_json_tmpl.c)
($st) = req($port, 'GET', '/bytes', { 'X-Name' => "caf\xe9" });
is($st, 201, 'the request is not affected');
($st) = req($port, 'GET', '/bytes', { 'X-Name' => "caf\xc3\xa9" });
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:6') } == 1 }),
   'UTF-8: published');
is(xrange('t075:6')->[0]{event}{data}{name}, "caf\x{e9}",
   'UTF-8 kept');
like(ApiLed::Events::error_log($ngx),
     qr/event "thing.bytes" not published: a variable's value is not UTF-8 text/,
     'not UTF-8: not published, logged');

is(scalar @{ xrange('t075:5') }, 0, 'nothing for the missing value');

# a composition's parts: the part that succeeded publishes, the one that
# failed does not; both when their own response ends
($st, $h, $body) = req($port, 'GET', '/composed');
is($st, 200, 'composition answered');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:7') } >= 1 }),
   'a part published');
sleep 0.2;
@ev = @{ xrange('t075:7') };
is(scalar @ev, 1, 'only the part that succeeded');
is($ev[0]{event}{type}, 'part.a', 'part a');
is_deeply($ev[0]{event}{data}, { a => 42 }, 'its own response');
is($ev[0]{event}{correlationid}, $h->{'x-correlation-id'},
   'the client request\'s correlation id');

# an event part: after the write succeeded, never after a failure, not in
# the answer
($st, $h, $body) = req($port, 'PATCH', '/write', {}, '{"who":"ada"}');
is($st, 200, 'the write answered');
is($body, qq({"record":{"oid":42,"ok":true},"audit":null}\n),
   'the event parts are not in the answer');
ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:8') } == 2 }),
   'two events');
@ev = @{ xrange('t075:8') };
is(join(',', map { $_->{type} } @ev), 'customer.updated,customer.told',
   'in declaration order, the one after a failed part not published');
is_deeply($ev[0]{event}{data}, { id => 42, by => 'ada' },
          "its data from the write's answer and the client's body");
is($ev[0]{event}{source}, 'customer', "the composition's API");
is($ev[0]{event}{correlationid}, $h->{'x-correlation-id'},
   "the request's correlation id");

($st) = req($port, 'PATCH', '/write?status=404', {}, '{"who":"ada"}');
is($st, 404, 'a failed write (status=pass)');
($st) = req($port, 'PATCH', '/write?status=500', {}, '{"who":"ada"}');
is($st, 502, 'a failed write: a 500 of the system (502)');
sleep 0.3;
is(scalar @{ xrange('t075:8') }, 2, 'no event for a failed write');

# the client leaves before the upstream answers: nginx logs 499
{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $c "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n";
    my $up = $mute->accept;
    close $c;
    ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:gone499') } == 1 }),
       'on=499: published when the client left');
    is(scalar @{ xrange('t075:gone') }, 0,
       'on=4xx: nothing when the client left (499 is no answer)');
    close $up if $up;
}

# a body that stops coming: nginx logs 408 and closes without an answer
{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $c "PUT /slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc";
    my $got = join '', <$c>;
    is($got, '', '408: no answer');
    ok(ApiLed::Events::wait_until(sub { @{ xrange('t075:gone499') } == 2 }),
       'on=408: published');
    is(scalar @{ xrange('t075:gone') }, 0,
       'on=4xx: nothing for a body that stopped coming');
}

# return 444: nginx closes without an answer
{
    my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $c "GET /closed HTTP/1.1\r\nHost: x\r\n\r\n";
    my $got = join '', <$c>;
    is($got, '', '444: no answer');
    sleep 0.3;
    is(scalar @{ xrange('t075:gone') }, 0, 'on=4xx: nothing for a 444');
}

unlike(ApiLed::Events::error_log($ngx), qr/\[(alert|crit|emerg)\]/,
       'no alert');

stop_nginx($ngx);

# --- nginx -t ---------------------------------------------------------------

my @bad = (
    [ 'no api_led_redis',
      'server { listen 127.0.0.1:1; location / { api_led_event a.b stream=s; } }',
      qr/"api_led_redis" is needed, for the event in .*nginx.conf:\d+/ ],
    [ 'no stream=',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a.b on=2xx; } }",
      qr/event "a.b" needs "stream="/ ],
    [ 'a bad type',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event 'a b' stream=s; } }",
      qr/invalid event type "a b"/ ],
    [ 'a bad on=',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s on=2xy; } }",
      qr/invalid "on=2xy"/ ],
    [ 'a bad method',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s methods=GET,FETCH; } }",
      qr/invalid "methods=GET,FETCH"/ ],
    [ 'data= not JSON',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s 'data={\"a\":}'; } }",
      qr/the data of event "a" is not JSON: invalid value at character 6/ ],
    [ 'data= with invalid UTF-8 in a string (the parser of bodies reads it)',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s 'data={\"a\":\"x\xc3(\"}'; } }",
      qr/the data of event "a" is not JSON: invalid UTF-8 in a string at character 8 .* in \S+nginx\.conf:\d+/ ],
    [ 'an unknown placeholder',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s 'data={\"a\":{part/x}}'; } }",
      qr/unknown placeholder "\{part\/x\}" in the data of event "a"/ ],
    [ 'maxlen=0',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=s maxlen=0; } }",
      qr/invalid "maxlen=0"/ ],
    [ 'an event part with an unknown part',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_compose { e event=a.b stream=s 'data={\"x\":{nope/x}}'; } } }",
      qr/unknown part "nope" in placeholder "\{nope\/x\}" of part "e"/ ],
    [ "an event part with a call's parameter",
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_compose { e event=a.b stream=s timeout=1s; } } }",
      qr/invalid parameter "timeout=1s" in event part "e"/ ],
    [ 'an event part without stream=',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_compose { e event=a.b; } } }",
      qr/event "a.b" needs "stream="/ ],
    [ 'in a server block',
      "api_led_redis 127.0.0.1:$rp; server { api_led_event a stream=s; }",
      qr/"api_led_event" directive is not allowed here/ ],
    # an outbox of 0 dropped every event
    [ 'api_led_event_outbox 0',
      "api_led_redis 127.0.0.1:$rp; api_led_event_outbox 0; server { location / { api_led_event a stream=s; } }",
      qr/"api_led_event_outbox" directive must be at least 1 byte \(there is no unlimited size\) in \S+nginx\.conf:\d+/ ],
    # a key is taken as written: "\$api_led_consumer" was one stream for all
    [ 'a variable in stream= (the key would be literal)',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event a stream=ev:\$api_led_consumer; } }",
      qr/invalid stream key "ev:\$api_led_consumer": a stream key is fixed, it takes no variables in \S+nginx\.conf:\d+/ ],
    [ 'a variable in the key of api_led_event_stream',
      "api_led_redis 127.0.0.1:$rp; server { location / { api_led_event_stream ev:\$api_led_consumer; } }",
      qr/invalid stream key "ev:\$api_led_consumer": a stream key is fixed, it takes no variables in \S+nginx\.conf:\d+/ ],
);

for my $t (@bad) {
    my ($rc, $out) = ApiLed::Events::nginx_t(http => $t->[1]);
    isnt($rc, 0, "nginx -t fails: $t->[0]");
    like($out, $t->[2], "nginx -t says why: $t->[0]");
}

my ($rc, $out) = ApiLed::Events::nginx_t(http => "api_led_redis 127.0.0.1:$rp; "
    . "server { location / { api_led_event a.b stream=s on=2xx,404 "
    . "methods=POST,PATCH maxlen=1000 'data={\"b\":{request/x},\"r\":{response}}'; } }");
is($rc, 0, 'nginx -t: a valid configuration') or diag($out);

done_testing();
