# Streamed rewrites (json/ngx_api_led_json_stream.c): where a location's
# JSON operations are all set (a constant), remove, rename (a name or a
# pointer) and wrap (at the end) on paths of member names that do not lead
# into one another, the body is rewritten while it is read, without a
# document.  What the stream writes is what the light path writes, byte
# for byte: every expected body here was recorded with the stream turned
# off (ngx_api_led_json_stream_compile() leaving *stream NULL), and the
# same bodies come with it on.  What it cannot do as the light path would,
# it declines, and the light path (or the tree) takes the text from its
# start.
#
# Each block runs its operations on both sides, on the same text:
#   --- ops     one operation a line, for api_led_request_json on /req and
#               api_led_response_json on /resp
#   --- doc     the body: POSTed to /req (the upstream shows what it got,
#               and its Content-Length) and answered by the upstream of
#               /resp (its POST body sent back as it came)
#   --- out     the body after the operations, on both sides
#   --- path    which path took it (the debug log says): streamed, light
#               (the light documents) or tree (jansson)
use Test::Nginx::Socket 'no_plan';
use bytes ();

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Up = <<'CONF';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/up.sock;
        default_type application/json;
        client_body_buffer_size 64k;
        location = /seen {
            echo_read_request_body;
            echo "$request_method cl=$http_content_length te=$http_transfer_encoding";
            echo_request_body;
        }
        location = /raw {
            echo_read_request_body;
            echo_request_body;
        }
    }
    upstream up { server unix:$TEST_NGINX_HTML_DIR/up.sock; }
CONF

our %Path = (
    streamed => ["body, streamed", "light document"],
    light    => ["body, light document", "body, streamed"],
    tree     => [undef, "body, streamed", "light document"],
);

# 64 and 65 members: the light path takes up to 64 in an object
our $M64 = '{' . CORE::join(",", map { qq("m$_":$_) } 1 .. 64) . '}';
our $M65 = '{' . CORE::join(",", map { qq("m$_":$_) } 1 .. 65) . '}';

# N levels of nesting: an object, arrays in it
sub nested { my $n = shift; '{"r":0,"d":' . ('[' x ($n - 1)) . '1' . (']' x ($n - 1)) . '}' }

# over the light path's 16 KB
our $Large = '{"pad":"' . ('x' x 16400) . '","password":"p","id":1}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("main_config",
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    $block->set_value("http_config", ($block->http_config // "") . $::Up);

    my $ops = $block->ops;
    return unless defined $ops;

    my @ops = grep { /\S/ } split /\n/, $ops;
    my $req = CORE::join("", map { "        api_led_request_json $_;\n" } @ops);
    my $resp = CORE::join("", map { "        api_led_response_json $_;\n" } @ops);

    $block->set_value("config", <<"C" . ($block->config // ""));
    client_body_buffer_size 64k;
    location = /req {
$req        proxy_pass http://up/seen;
    }
    location = /resp {
$resp        proxy_pass http://up/raw;
    }
C

    # the body exactly as written (a Content-Length of its own: the
    # runners trim a body they count themselves); "--- side: req" or
    # "resp": that side alone
    my $doc = $block->doc;
    my $side = $block->side;
    my @req = ("POST /req\n$doc", "POST /resp\n$doc");
    @req = ($side eq "req" ? $req[0] : $req[1]) if defined $side;
    $block->set_value("request", @req > 1 ? \@req : $req[0]);
    $block->set_value("more_headers", "Content-Type: application/json\n"
                                      . "Content-Length: "
                                      . bytes::length($doc));

    my $out = $block->out;
    if (defined $out) {
        my @out = ("POST cl=" . bytes::length($out) . " te=\n$out", $out);
        @out = ($side eq "req" ? $out[0] : $out[1]) if defined $side;
        $block->set_value("response_body", @out > 1 ? \@out : $out[0]);
    }

    my $path = $block->path;
    if (defined $path) {
        my ($yes, @no) = @{ $::Path{$path} or die "path $path" };
        $block->set_value("error_log", $yes) if defined $yes;
        $block->set_value("no_error_log",
                          CORE::join("\n", @no, "[error]", "[warn]"));
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the first member removed
--- ops
remove /a
--- doc eval
'{"a":1,"b":2,"c":3}'
--- out chomp
{"b":2,"c":3}
--- path: streamed



=== TEST 2: a middle member removed, whitespace around names, colons and commas
--- ops
remove /b
--- doc eval
' { "a" : 1 , "b" : 2 , "c" : 3 } '
--- out chomp
{"a":1,"c":3}
--- path: streamed



=== TEST 3: the last member removed, whitespace before and after the commas
--- ops
remove /c
--- doc eval
'{"a" :1 ,"b": 2,  "c"  :  [ 3 ] }'
--- out chomp
{"a":1,"b":2}
--- path: streamed



=== TEST 4: the first two and the last removed: one comma between the two left
--- ops
remove /a
remove /b
remove /e
--- doc eval
'{ "a" : 1 , "b" : {"x":2} , "c" : 3 , "d" : 4 , "e" : 5 }'
--- out chomp
{"c":3,"d":4}
--- path: streamed



=== TEST 5: every member removed, the empty object written {}
--- ops
remove /a
remove /b
remove /c
--- doc eval
'{ "a" : 1 , "b" : {"x":[1, 2]} , "c" : "s" }'
--- out chomp
{}
--- path: streamed



=== TEST 6: the only member removed
--- ops
remove /a
--- doc eval
'{"a":{"x":1}}'
--- out chomp
{}
--- path: streamed



=== TEST 7: a member not there: the text as the serializer writes it
--- ops
remove /q
remove /x/y
--- doc eval
'{ "a" : [ 1 , { } , [ ] ] , "x" : "y" , "e" : { } }'
--- out chomp
{"a":[1,{},[]],"x":"y","e":{}}
--- path: streamed



=== TEST 8: pretty-printed (newlines, indentation, CRLF, tabs): removed first, nested and last
--- ops
remove /id
remove /user/password
remove /meta
--- doc eval
"{\n  \"id\": 7,\n  \"user\": {\n    \"name\": \"Ada\",\n    \"password\": \"x\",\n    \"roles\": [\n      \"admin\",\n      \"dev\"\n    ]\n  },\r\n\t\"tags\" :\t[ \"a\" , \"b\" ],\n  \"meta\": {\n    \"v\": 1\n  }\n}\n"
--- out chomp
{"user":{"name":"Ada","roles":["admin","dev"]},"tags":["a","b"]}
--- path: streamed



=== TEST 9: remove /items/*/x: elements that are objects (x first, last, alone, absent, in an empty object)
--- ops
remove /items/*/x
--- doc eval
'{"items":[{"x":1,"y":2},{"y":3,"x":4},{"x":{"deep":[1]}},{"y":5},{}],"x":"kept"}'
--- out chomp
{"items":[{"y":2},{"y":3},{},{"y":5},{}],"x":"kept"}
--- path: streamed



=== TEST 10: remove /items/*/x: scalars, arrays (their objects are not elements of items), an empty array
--- ops
remove /items/*/x
remove /empty/*/x
--- doc eval
'{ "items" : [ 1 , "x" , null , true , -0 , [ { "x" : 1 } ] , [ ] , { "x" : 2 , "z" : 3 } ] , "empty" : [ ] }'
--- out chomp
{"items":[1,"x",null,true,0,[{"x":1}],[],{"z":3}],"empty":[]}
--- path: streamed



=== TEST 11: remove /items/*/x where items is no array: a string, absent
--- ops
remove /items/*/x
remove /other/*/x
--- doc eval
'{"items":"text","keep":{"x":1}}'
--- out chomp
{"items":"text","keep":{"x":1}}
--- path: streamed



=== TEST 12: remove /items/*/x where items is an object: "*" is a member name there, the light path takes it
--- ops
remove /items/*/x
--- doc eval
'{"items":{"*":{"x":1,"y":2},"a":{"x":3}}}'
--- out chomp
{"items":{"*":{"y":2},"a":{"x":3}}}
--- path: light



=== TEST 13: "*" twice: objects in arrays in objects in an array
--- ops
remove /orders/*/lines/*/cost
--- doc eval
'{"orders":[{"id":1,"lines":[{"sku":"a","cost":2},{"cost":3,"sku":"b"}]},{"id":2,"lines":[]},{"id":3}]}'
--- out chomp
{"orders":[{"id":1,"lines":[{"sku":"a"},{"sku":"b"}]},{"id":2,"lines":[]},{"id":3}]}
--- path: streamed



=== TEST 14: rename to a name: the value goes last in its object
--- ops
rename /a x
rename /u/nm name
--- doc eval
'{ "a" : 1 , "b" : 2 , "u" : { "nm" : "Ada" , "pw" : "x" } }'
--- out chomp
{"b":2,"u":{"pw":"x","name":"Ada"},"x":1}
--- path: streamed



=== TEST 15: rename under "*": in every element that has the member
--- ops
rename /items/*/a b
--- doc eval
'{"items":[{"a":1,"c":0},{"c":2},{"a":{"k":[1]}},5,[]]}'
--- out chomp
{"items":[{"c":0,"b":1},{"c":2},{"b":{"k":[1]}},5,[]]}
--- path: streamed



=== TEST 16: rename to a name there already: the light path takes it (the value takes that member's place)
--- ops
rename /a b
--- doc eval
'{"a":1,"b":2,"c":3}'
--- out chomp
{"b":1,"c":3}
--- path: light



=== TEST 17: rename to a name there already, before the renamed one
--- ops
rename /c a
--- doc eval
'{"a":1,"b":2,"c":3}'
--- out chomp
{"a":3,"b":2}
--- path: light



=== TEST 18: rename of a member not there: nothing
--- ops
rename /q x
--- doc eval
'{"a":1}'
--- out chomp
{"a":1}
--- path: streamed



=== TEST 19: a move to /profile/name, /profile not there: made at the end
--- ops
rename /name /profile/name
--- doc eval
'{"name":"Ada","id":1}'
--- out chomp
{"id":1,"profile":{"name":"Ada"}}
--- path: streamed



=== TEST 20: a move from a nested member to a new nested place, and one to the top
--- ops
rename /u/name /profile/name
rename /u/age /age
--- doc eval
'{ "u" : { "name" : "Ada" , "age" : 36 , "b" : 1 } , "id" : 1 }'
--- out chomp
{"u":{"b":1},"id":1,"profile":{"name":"Ada"},"age":36}
--- path: streamed



=== TEST 21: a move of a member not there: no object made
--- ops
rename /name /profile/name
--- doc eval
'{"id":1}'
--- out chomp
{"id":1}
--- path: streamed



=== TEST 22: a move to /profile/name, /profile there: the light path puts it into that object
--- ops
rename /name /profile/name
--- doc eval
'{"name":"Ada","profile":{"age":3},"id":1}'
--- out chomp
{"profile":{"age":3,"name":"Ada"},"id":1}
--- path: light



=== TEST 23: a move to /profile/name, /profile a string: the light path puts it back at the end
--- ops
rename /name /profile/name
--- doc eval
'{"name":"Ada","profile":"x","id":1}'
--- out chomp
{"profile":"x","id":1,"name":"Ada"}
--- path: light



=== TEST 24: set of a member there: in place, the value replaced
--- ops
set /a 5
set /c number:1.50
--- doc eval
'{ "a" : 1 , "b" : 2 , "c" : { "x" : [ 1 ] } }'
--- out chomp
{"a":"5","b":2,"c":1.5}
--- path: streamed



=== TEST 25: set of a member not there: appended
--- ops
set /c 5
--- doc eval
'{ "a" : 1 , "b" : 2 }'
--- out chomp
{"a":1,"b":2,"c":"5"}
--- path: streamed



=== TEST 26: set into an empty object
--- ops
set /c bool:yes
--- doc eval
'{ }'
--- out chomp
{"c":true}
--- path: streamed



=== TEST 27: set of nested paths whose parents are missing: made in the order of the operations
--- ops
set /a/b 1
set /z 2
set /a/c 3
--- doc eval
'{"x":0}'
--- out chomp
{"x":0,"a":{"b":"1","c":"3"},"z":"2"}
--- path: streamed



=== TEST 28: the same sets, /a there with /a/c in it
--- ops
set /a/b 1
set /z 2
set /a/c 3
--- doc eval
'{"a":{"c":0,"d":1},"z":{"old":true}}'
--- out chomp
{"a":{"c":"3","d":1,"b":"1"},"z":"2"}
--- path: streamed



=== TEST 29: set of a deep path, some of its parents there
--- ops
set /a/b/c/d number:-0
--- doc eval
'{"a":{"b":{}}}'
--- out chomp
{"a":{"b":{"c":{"d":0}}}}
--- path: streamed



=== TEST 30: set where a parent is a string, an array, null, a number: nothing happens there
--- ops
set /s/b 1
set /l/b 1
set /n/b 1
set /f/b 1
set /z 2
--- doc eval
'{"s":"x","l":[1],"n":null,"f":1.50}'
--- out chomp
{"s":"x","l":[1],"n":null,"f":1.5,"z":"2"}
--- path: streamed



=== TEST 31: set on a document that is no object: nothing
--- ops
set /a 1
--- doc eval
'[{"a":0}]'
--- out chomp
[{"a":0}]
--- path: streamed



=== TEST 32: typed values, as the serializer writes them
--- ops
set /a 'json:{"k":[1,2.50,"\u00e9"],"n":null}'
set /b number:1E2
set /c string:json:x
set /d json:-0
set /e 'x"y/\\z'
--- doc eval
'{"b":0}'
--- out chomp
{"b":100.0,"a":{"k":[1,2.5,"é"],"n":null},"c":"json:x","d":0,"e":"x\"y/\\z"}
--- path: streamed



=== TEST 33: one wrap
--- ops
remove /a
wrap /data
--- doc eval
'{"a":1,"b":2}'
--- out chomp
{"data":{"b":2}}
--- path: streamed



=== TEST 34: two wraps, the later around the earlier, on an array
--- ops
wrap /data
wrap /outer/x
--- doc eval
' [ 1 , { "a" : [ ] } ] '
--- out chomp
{"outer":{"x":{"data":[1,{"a":[]}]}}}
--- path: streamed



=== TEST 35: a wrap before another operation: the light path takes it
--- ops
wrap /data
remove /data/a
--- doc eval
'{"a":1,"b":2}'
--- out chomp
{"data":{"b":2}}
--- path: light



=== TEST 36: escapes in strings: written as the serializer writes them
--- ops
remove /r
--- doc eval
"{\"r\":0,\"s\":\"\\u00e9t\\u00c9\",\"t\":\"a\\/b\",\"u\":\"l1\\nl2\\t\\\"q\\\"\\\\\",\"v\":\"\\u0041\\u001f\\u007f\",\"w\":\"\\ud83d\\ude00 \\ud800\",\"x\":\"\\u0000\",\"y\":\"\xc3\xa9t\xc3\xa9\",\"z\":\"\\u2028\"}"
--- out eval
"{\"s\":\"\xc3\xa9t\xc3\x89\",\"t\":\"a/b\",\"u\":\"l1\\nl2\\t\\\"q\\\"\\\\\",\"v\":\"A\\u001f\x7f\",\"w\":\"\xf0\x9f\x98\x80 \\ud800\",\"x\":\"\\u0000\",\"y\":\"\xc3\xa9t\xc3\xa9\",\"z\":\"\xe2\x80\xa8\"}"
--- path: streamed



=== TEST 37: numbers: -0, 1E2, 1.50, big integers, reals written otherwise
--- ops
remove /r
--- doc eval
'{"r":0,"n":[-0,1E2,1.50,12345678901234567890,-9223372036854775809,123456789012345678901234567890,-0.0,0.1,1e400,1e-7,2.5E-3,100,0.30000000000000004,1.0]}'
--- out chomp
{"n":[0,100.0,1.5,12345678901234567890,-9223372036854775809,123456789012345678901234567890,-0.0,0.1,1e400,1e-07,0.0025,100,0.30000000000000004,1.0]}
--- path: streamed



=== TEST 38: a member name repeated: the tree takes it (the last value, in the first place)
--- ops
remove /b
--- doc eval
'{"a":1,"b":2,"a":3}'
--- out chomp
{"a":3}
--- path: tree



=== TEST 39: a member name repeated in a nested object
--- ops
set /z 1
--- doc eval
'{"o":{"x":1,"x":[2]},"b":2}'
--- out chomp
{"o":{"x":[2]},"b":2,"z":"1"}
--- path: tree



=== TEST 40: an escaped member name: the light path takes it
--- ops
remove /a
remove /b
--- doc eval
'{"k\\u00e9y":1,"\\u0061":2,"b":3,"c":4}'
--- out chomp
{"kéy":1,"c":4}
--- path: light



=== TEST 41: a member name beyond ASCII without an escape: streamed, set in place
--- ops
remove /b
set /été 2
--- doc eval
"{\"\xc3\xa9t\xc3\xa9\":1,\"b\":2}"
--- out chomp
{"été":"2"}
--- path: streamed



=== TEST 42: a set with a variable: the light path takes it
--- ops
set /a $request_method
--- doc eval
'{"b":0}'
--- out chomp
{"b":0,"a":"POST"}
--- path: light



=== TEST 43: operations whose paths lead into one another: the light path does them one after the other
--- ops
remove /a/x
set /a/y 1
remove /a
rename /c d
set /d/e 1
--- doc eval
'{"a":{"x":1,"y":2},"b":3,"c":{"k":0}}'
--- out chomp
{"b":3,"d":{"k":0,"e":"1"}}
--- path: light



=== TEST 44: an index, and "*" in a set: the light path takes them
--- ops
remove /items/0
set /items/*/x 0
--- doc eval
'{"items":[{"x":1},{"y":3},{"x":2}]}'
--- out chomp
{"items":[{"y":3,"x":"0"},{"x":"0"}]}
--- path: light



=== TEST 45: an object of 64 members: streamed (65 once a member is added)
--- ops
set /m1 x
set /new 1
--- doc eval
$::M64
--- out eval
my $m = $::M64;
$m =~ s/"m1":1/"m1":"x"/;
$m =~ s/\}$/,"new":"1"}/;
$m
--- path: streamed



=== TEST 46: an object of 65 members: the tree takes it, with the same result
--- ops
remove /m2
set /m1 x
--- doc eval
$::M65
--- out eval
my $m = $::M65;
$m =~ s/"m1":1/"m1":"x"/;
$m =~ s/"m2":2,//;
$m
--- path: tree



=== TEST 47: an object of 65 members off the operations' paths: the tree takes it too
--- ops
remove /a
--- doc eval
'{"a":1,"n":' . $::M65 . '}'
--- out eval
'{"n":' . $::M65 . '}'
--- path: tree



=== TEST 48: invalid JSON in a request: the same 400 as before, the upstream not called
--- ops
remove /a
--- side: req
--- doc eval
'{"a":[1,2,],"b":"\\x"}'
--- error_code: 400
--- response_body_like chomp
^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"invalid value at byte 10","correlation_id":"[0-9a-f-]{36}"\}$
--- no_error_log
body, streamed
light document
http request line: "POST /seen



=== TEST 49: invalid JSON in a member the operations remove: still a 400, where it is
--- ops
remove /b
--- side: req
--- doc eval
"{\"a\":1,\"b\":{\"c\":\"\xc3\x28\"}}"
--- error_code: 400
--- response_body_like chomp
^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"invalid UTF-8 in a string at byte 17","correlation_id":"[0-9a-f-]{36}"\}$
--- no_error_log
body, streamed
light document
http request line: "POST /seen



=== TEST 50: text after the document in a request: a 400
--- ops
rename /a /p/a
--- side: req
--- doc eval
'{"a":1} x'
--- error_code: 400
--- response_body_like chomp
^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"data after the document at byte 8","correlation_id":"[0-9a-f-]{36}"\}$
--- no_error_log
body, streamed
light document
http request line: "POST /seen



=== TEST 51: invalid JSON in a response where fields are removed: 502 in its place, as before
--- ops
remove /a
--- side: resp
--- doc eval
'{"a":[1,2,],"b":"\\x"}'
--- error_code: 502
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"the response of the upstream could not be transformed","correlation_id":"[0-9a-f-]{36}"\}$
--- error_log
api_led: response not transformed: invalid value at byte 10; 502 in its place
--- no_error_log
body, streamed
light document



=== TEST 52: invalid JSON in a response where fields are only set: passed through unchanged, with a warning
--- ops
set /z 1
--- side: resp
--- doc eval
'{"a":[1,2,],"b":"\\x"}'
--- out eval
'{"a":[1,2,],"b":"\\x"}'
--- error_log
api_led: response is not JSON to transform (invalid value at byte 10), passed through unchanged
--- no_error_log
body, streamed
light document
[error]



=== TEST 53: 1000 levels of nesting, the most there may be: streamed
--- ops
remove /r
--- doc eval
::nested(1000)
--- out eval
my $m = ::nested(1000);
$m =~ s/"r":0,//;
$m
--- path: streamed



=== TEST 54: 1001 levels in a request: 413, as before
--- ops
remove /r
--- side: req
--- doc eval
::nested(1001)
--- error_code: 413
--- response_body_like chomp
^\{"type":"urn:api-led:error:body_too_large","title":"Request body too large","status":413,"detail":"JSON nested deeper than 1000 levels","correlation_id":"[0-9a-f-]{36}"\}$
--- no_error_log
body, streamed
light document
http request line: "POST /seen



=== TEST 55: 1001 levels in a response where fields are removed: 502, as before
--- ops
remove /r
--- side: resp
--- doc eval
::nested(1001)
--- error_code: 502
--- error_log
api_led: response not transformed: JSON nested deeper than 1000 levels; 502 in its place
--- no_error_log
body, streamed
light document



=== TEST 56: a body over 16 KB: the tree takes it
--- ops
remove /password
--- doc eval
$::Large
--- out eval
my $m = $::Large;
$m =~ s/"password":"p",//;
$m
--- path: tree
