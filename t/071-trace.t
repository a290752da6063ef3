# W3C Trace Context: a client's traceparent is kept (its trace id, its
# span as the parent) and tracestate passed on; a missing or invalid one
# starts a new trace, and its tracestate is dropped; each API call has its
# own span, which its upstream gets in traceparent; the parts of a
# composition are child spans (through nested compositions too), and
# proxy_pass to another API location continues the trace from the caller's
# span.  $api_led_trace_id, $api_led_span_id, $api_led_parent_span_id;
# api_led_correlation_id trace; api_led_trace off; a location without
# module directives leaves the headers alone.
#
# The upstreams echo what they received; the API locations send their
# variables along (proxy_set_header), so that one answer holds both sides
# and a regular expression with back references compares them.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $T = '0af7651916cd43dd8448eb211c80319c';
our $P = 'b7ad6b7169203331';
our $S = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';

# an API location that shows its trace to its upstream, and the echo
our $Api = <<'_EOC_';
    location /api {
        api_led_api orders layer=experience;
        proxy_set_header X-Trace $api_led_trace_id;
        proxy_set_header X-Span $api_led_span_id;
        proxy_set_header X-Parent $api_led_parent_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "tp=$http_traceparent ts=$http_tracestate trace=$http_x_trace span=$http_x_span parent=$http_x_parent\n";
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value("config", $::Api);
    }

    if (!defined $block->no_error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]");
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a client's trace is kept: its trace id, its span the parent, tracestate passed on; the upstream gets the API call's own span
--- request
GET /api
--- more_headers eval
"traceparent: 00-$::T-$::P-01\ntracestate: $::S"
--- response_body_like eval
qr{^tp=00-$::T-(?!$::P)([0-9a-f]{16})-01 ts=\Q$::S\E trace=$::T span=\1 parent=$::P\n\z}



=== TEST 2: no traceparent: a new trace, sampled, without a parent
--- request
GET /api
--- response_body_like eval
qr{^tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}



=== TEST 3: the flags are kept (not sampled)
--- request
GET /api
--- more_headers eval
"traceparent: 00-$::T-$::P-00"
--- response_body_like eval
qr{^tp=00-$::T-([0-9a-f]{16})-00 ts= trace=$::T span=\1 parent=$::P\n\z}



=== TEST 4: a tracestate without a traceparent is dropped with the new trace
--- request
GET /api
--- more_headers eval
"tracestate: $::S"
--- response_body_like eval
qr{^tp=00-(?!$::T)([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}



=== TEST 5: uppercase hex is invalid: a new trace, tracestate dropped
--- request
GET /api
--- more_headers eval
"traceparent: 00-" . uc($::T) . "-$::P-01\ntracestate: $::S"
--- response_body_like eval
qr{^tp=00-(?!$::T)([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}



=== TEST 6: an all-zero trace id is invalid
--- request
GET /api
--- more_headers eval
"traceparent: 00-" . ('0' x 32) . "-$::P-01"
--- response_body_like eval
qr{^tp=00-(?!0{32})([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}



=== TEST 7: an all-zero parent id, version ff, a short header, junk: each a new trace
--- request eval
["GET /api", "GET /api", "GET /api", "GET /api"]
--- more_headers eval
["traceparent: 00-$::T-" . ('0' x 16) . "-01",
 "traceparent: ff-$::T-$::P-01",
 "traceparent: 00-$::T-$::P-1",
 "traceparent: 00-$::T-$::P-01\r\nX-Junk: \x01"]
--- response_body_like eval
[qr{^tp=00-(?!$::T)[0-9a-f]{32}-[0-9a-f]{16}-01 ts= trace=(?!$::T)\w+ span=\w+ parent=\n\z},
 qr{^tp=00-(?!$::T)[0-9a-f]{32}-[0-9a-f]{16}-01 ts= trace=(?!$::T)\w+ span=\w+ parent=\n\z},
 qr{^tp=00-(?!$::T)[0-9a-f]{32}-[0-9a-f]{16}-01 ts= trace=(?!$::T)\w+ span=\w+ parent=\n\z},
 qr{^tp=00-$::T-[0-9a-f]{16}-01 ts= trace=$::T span=\w+ parent=$::P\n\z}]



=== TEST 8: two traceparent headers are no trace: a new one
--- request
GET /api
--- more_headers eval
"traceparent: 00-$::T-$::P-01\ntraceparent: 00-$::T-$::P-01"
--- response_body_like eval
qr{^tp=00-(?!$::T)([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}



=== TEST 9: a later version is read as version 00 and sent as 00
--- request
GET /api
--- more_headers eval
"traceparent: 01-$::T-$::P-01-what-comes-later"
--- response_body_like eval
qr{^tp=00-$::T-([0-9a-f]{16})-01 ts= trace=$::T span=\1 parent=$::P\n\z}



=== TEST 10: an invalid tracestate (a key twice) is dropped, the trace kept
--- request
GET /api
--- more_headers eval
"traceparent: 00-$::T-$::P-01\ntracestate: a=1,a=2"
--- response_body_like eval
qr{^tp=00-$::T-([0-9a-f]{16})-01 ts= trace=$::T span=\1 parent=$::P\n\z}



=== TEST 11: the parts of a composition are child spans of the API call; each its own
--- config
    location /view {
        api_led_api view layer=experience;
        add_header X-Trace $api_led_trace_id;
        add_header X-Parent $api_led_parent_span_id;
        api_led_compose {
            a "/part/a?main=$api_led_span_id";
            b "/part/b?main=$api_led_span_id";
        }
    }
    location /part/ {
        api_led_api part layer=process;
        proxy_set_header X-Main $arg_main;
        proxy_set_header X-Trace $api_led_trace_id;
        proxy_set_header X-Span $api_led_span_id;
        proxy_set_header X-Parent $api_led_parent_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-json;
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"main":"$http_x_main","tp":"$http_traceparent","span":"$http_x_span","parent":"$http_x_parent","trace":"$http_x_trace"}';
    }
--- request
GET /view
--- more_headers eval
"traceparent: 00-$::T-$::P-01"
--- response_headers eval
"X-Trace: $::T\nX-Parent: $::P"
--- response_body_like eval
qr{^\{"a":\{"main":"(?!$::P)([0-9a-f]{16})","tp":"00-$::T-(?!\1)([0-9a-f]{16})-01","span":"\2","parent":"\1","trace":"$::T"\},"b":\{"main":"\1","tp":"00-$::T-(?!\1|\2)([0-9a-f]{16})-01","span":"\3","parent":"\1","trace":"$::T"\}\}$}



=== TEST 12: a part that is itself a composition: its parts are its children
--- config
    location /outer {
        api_led_api outer layer=experience;
        api_led_compose {
            me "/part/me?main=$api_led_span_id";
            in /inner;
        }
    }
    location /inner {
        api_led_api inner layer=process;
        api_led_compose {
            x "/part/x?main=$api_led_span_id&up=$api_led_parent_span_id";
        }
    }
    location /part/ {
        api_led_api part layer=system;
        proxy_set_header X-Main $arg_main;
        proxy_set_header X-Up $arg_up;
        proxy_set_header X-Span $api_led_span_id;
        proxy_set_header X-Parent $api_led_parent_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-json;
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"main":"$http_x_main","up":"$http_x_up","tp":"$http_traceparent","span":"$http_x_span","parent":"$http_x_parent"}';
    }
--- request
GET /outer
--- more_headers eval
"traceparent: 00-$::T-$::P-01"
--- response_body_like eval
qr{^\{"me":\{"main":"([0-9a-f]{16})","up":"","tp":"00-$::T-([0-9a-f]{16})-01","span":"\2","parent":"\1"\},"in":\{"x":\{"main":"(?!\1|\2)([0-9a-f]{16})","up":"\1","tp":"00-$::T-(?!\1|\2|\3)([0-9a-f]{16})-01","span":"\4","parent":"\3"\}\}\}$}



=== TEST 13: a part with a body of its own (headers of its own anyway) is a child span too
--- config
    location /write {
        api_led_api write layer=experience;
        api_led_compose POST {
            a POST "/part/a?main=$api_led_span_id" body=@request;
        }
    }
    location /part/ {
        api_led_api part layer=process;
        proxy_set_header X-Main $arg_main;
        proxy_set_header X-Span $api_led_span_id;
        proxy_set_header X-Parent $api_led_parent_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-json;
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"main":"$http_x_main","tp":"$http_traceparent","span":"$http_x_span","parent":"$http_x_parent","cl":"$http_content_length"}';
    }
--- request
POST /write
{"n":1}
--- more_headers eval
"traceparent: 00-$::T-$::P-01\nContent-Type: application/json"
--- response_body_like eval
qr{^\{"a":\{"main":"([0-9a-f]{16})","tp":"00-$::T-(?!\1)([0-9a-f]{16})-01","span":"\2","parent":"\1","cl":"7"\}\}$}



=== TEST 14: proxy_pass to another API location (another node's, alike): it continues from the caller's span, and the caller's client's tracestate goes along
--- config
    location /exp {
        api_led_api exp layer=experience;
        proxy_set_header X-Exp-Span $api_led_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/proc;
    }
    location /proc {
        api_led_api proc layer=process;
        proxy_set_header X-Span $api_led_span_id;
        proxy_set_header X-Parent $api_led_parent_span_id;
        proxy_set_header X-Trace $api_led_trace_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "tp=$http_traceparent ts=$http_tracestate trace=$http_x_trace span=$http_x_span parent=$http_x_parent exp=$http_x_exp_span\n";
    }
--- request
GET /exp
--- more_headers eval
"traceparent: 00-$::T-$::P-01\ntracestate: $::S"
--- response_body_like eval
qr{^tp=00-$::T-([0-9a-f]{16})-01 ts=\Q$::S\E trace=$::T span=\1 parent=(?!$::P|\1)([0-9a-f]{16}) exp=\2\n\z}



=== TEST 15: api_led_correlation_id trace: the correlation id is the trace id, upstream and back
--- config
    location /api {
        api_led_api orders;
        api_led_correlation_id trace;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cid=$http_x_correlation_id tp=$http_traceparent\n";
    }
--- request eval
["GET /api", "GET /api"]
--- more_headers eval
["traceparent: 00-$::T-$::P-01\nX-Correlation-ID: mine",
 "X-Correlation-ID: mine"]
--- response_body_like eval
[qr{^cid=$::T tp=00-$::T-[0-9a-f]{16}-01\n\z},
 qr{^cid=([0-9a-f]{32}) tp=00-\1-[0-9a-f]{16}-01\n\z}]
--- response_headers_like eval
["X-Correlation-ID: $::T", "X-Correlation-ID: [0-9a-f]{32}"]



=== TEST 16: api_led_correlation_id header (the default) keeps the client's id
--- config
    api_led_correlation_id trace;
    location /api {
        api_led_api orders;
        api_led_correlation_id header;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "cid=$http_x_correlation_id\n";
    }
--- request
GET /api
--- more_headers eval
"traceparent: 00-$::T-$::P-01\nX-Correlation-ID: mine"
--- response_body
cid=mine



=== TEST 17: api_led_trace off: the client's headers go upstream as they came; the variables still tell the trace
--- config
    location /api {
        api_led_api orders;
        api_led_trace off;
        proxy_set_header X-Trace $api_led_trace_id;
        proxy_set_header X-Span $api_led_span_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /view {
        api_led_api view;
        api_led_trace off;
        api_led_compose {
            a /echo-json;
        }
    }
    location /echo {
        return 200 "tp=$http_traceparent ts=$http_tracestate trace=$http_x_trace\n";
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"tp":"$http_traceparent"}';
    }
--- request eval
["GET /api", "GET /view"]
--- more_headers eval
["traceparent: 00-$::T-$::P-01\ntracestate: a=1,a=2",
 "traceparent: 00-$::T-$::P-01"]
--- response_body eval
["tp=00-$::T-$::P-01 ts=a=1,a=2 trace=$::T\n",
 "{\"a\":{\"tp\":\"00-$::T-$::P-01\"}}\n"]



=== TEST 18: a location without module directives: the headers pass as they came
--- config
    location /plain {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "tp=$http_traceparent ts=$http_tracestate\n";
    }
--- request
GET /plain
--- more_headers eval
"traceparent: 00-" . uc($::T) . "-$::P-01\ntracestate: a=1,a=2"
--- response_body eval
"tp=00-" . uc($::T) . "-$::P-01 ts=a=1,a=2\n"



=== TEST 19: the variables anywhere, made on first use; an access log line per layer (log_subrequest on)
--- http_config
    log_format trace '$uri trace=$api_led_trace_id span=$api_led_span_id parent=$api_led_parent_span_id';
--- config
    location /view {
        api_led_api view layer=experience;
        log_subrequest on;
        access_log $TEST_NGINX_HTML_DIR/trace.log trace;
        api_led_compose {
            a /part/a;
            b /part/b after=a;
        }
    }
    location /part/ {
        api_led_api part layer=process;
        log_subrequest on;
        access_log $TEST_NGINX_HTML_DIR/trace.log trace;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-json;
    }
    location /echo-json {
        default_type application/json;
        return 200 '{"tp":"$http_traceparent"}';
    }
    location /plain {
        return 200 "trace=$api_led_trace_id span=$api_led_span_id parent=$api_led_parent_span_id\n";
    }
    location = /log {
        alias $TEST_NGINX_HTML_DIR/trace.log;
    }
--- request eval
["GET /plain", "GET /view", "GET /log"]
--- more_headers eval
["traceparent: 00-$::T-$::P-01", "traceparent: 00-$::T-$::P-01", ""]
--- response_body_like eval
[qr{^trace=$::T span=(?!$::P)[0-9a-f]{16} parent=$::P\n\z},
 qr{^\{"a":\{"tp":"00-$::T-([0-9a-f]{16})-01"\},"b":\{"tp":"00-$::T-(?!\1)[0-9a-f]{16}-01"\}\}$},
 qr{^/part/a trace=$::T span=([0-9a-f]{16}) parent=([0-9a-f]{16})\n/part/b trace=$::T span=(?!\1|\2)[0-9a-f]{16} parent=\2\n/view trace=$::T span=\2 parent=$::P\n\z}]



=== TEST 20: header names in any case are the same headers: TraceParent kept, TRACESTATE passed on, two of them no trace
--- request eval
["GET /api", "GET /api"]
--- more_headers eval
["TraceParent: 00-$::T-$::P-01\nTRACESTATE: $::S",
 "traceparent: 00-$::T-$::P-01\nTRACEPARENT: 00-$::T-$::P-01"]
--- response_body_like eval
[qr{^tp=00-$::T-(?!$::P)([0-9a-f]{16})-01 ts=\Q$::S\E trace=$::T span=\1 parent=$::P\n\z},
 qr{^tp=00-(?!$::T)([0-9a-f]{32})-([0-9a-f]{16})-01 ts= trace=\1 span=\2 parent=\n\z}]



=== TEST 21: several tracestate headers are one list: a key in two of them, or more than 32 members together, drop them all; distinct keys pass on
--- request eval
["GET /api", "GET /api", "GET /api"]
--- more_headers eval
["traceparent: 00-$::T-$::P-01\ntracestate: a=1\ntracestate: a=2",
 "traceparent: 00-$::T-$::P-01\ntracestate: "
     . CORE::join(",", map { "k$_=v" } 1 .. 20) . "\ntracestate: "
     . CORE::join(",", map { "k$_=v" } 21 .. 33),
 "traceparent: 00-$::T-$::P-01\ntracestate: a=1\ntracestate: b=2"]
--- response_body_like eval
[qr{^tp=00-$::T-([0-9a-f]{16})-01 ts= trace=$::T span=\1 parent=$::P\n\z},
 qr{^tp=00-$::T-([0-9a-f]{16})-01 ts= trace=$::T span=\1 parent=$::P\n\z},
 qr{^tp=00-$::T-([0-9a-f]{16})-01 ts=a=1 trace=$::T span=\1 parent=$::P\n\z}]
