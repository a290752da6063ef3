# Request JSON bodies: set, remove, rename, keep, wrap on nested paths and
# arrays, typed values, variables, order, empty/chunked/file-buffered/large
# bodies (the upstream gets the new body with the right Content-Length),
# form <-> JSON conversion, bad input, nginx -t errors.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use lib 't/lib';
use ApiLed::Peak;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# The upstream shows what it received.  Its first hop reads the body
# (in one memory buffer) and passes it on in a header to the second hop,
# which prints it: a wrong Content-Length would hang or truncate it.
our $Echo = <<'CONF';
    log_format echo_body escape=none 'echo $request_uri $content_length $request_body';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/echo.sock;
        client_body_in_single_buffer on;
        client_body_buffer_size 1m;
        client_max_body_size 10m;
        large_client_header_buffers 4 1m;
        location / {
            access_log logs/access.log echo_body;
            proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/__ret/;
            proxy_pass_request_body off;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
            proxy_set_header X-M $request_method;
            proxy_set_header X-U $request_uri;
            proxy_set_header X-CL $http_content_length;
            proxy_set_header X-TE $http_transfer_encoding;
            proxy_set_header X-CT $http_content_type;
            proxy_set_header X-Tok $http_x_token;
            proxy_set_header X-Body $request_body;
        }
        location ^~ /__ret/ {
            return 200 "$http_x_m $http_x_u cl=$http_x_cl te=$http_x_te ct=$http_x_ct tok=$http_x_tok\n$http_x_body\n";
        }
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Echo);
});

# what the echo answers for a POST of BODY (as the upstream got it)
sub echo {
    my ($body, %h) = @_;
    my $ct = $h{ct} // "application/json";
    my $uri = $h{uri} // "/up";
    my $m = $h{method} // "POST";
    my $tok = $h{tok} // "";
    my $cl = $h{cl} // length($body);
    return "$m $uri cl=$cl te= ct=$ct tok=$tok\n$body\n";
}

# On one kept-alive connection: POSTs BODY to PATH, its header first and
# the body 0.1 s later, then GETs NEXT: the two statuses and bodies
sub late_body_then {
    my ($path, $body, $next) = @_;
    no warnings 'once';
    my $port = $Test::Nginx::Util::ServerPortForClient
               || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 30)
        or return ();
    $s->autoflush(1);
    print $s "POST $path HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n";
    select(undef, undef, undef, 0.1);
    print $s $body;
    my @out;
    for my $last (0, 1) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $n = sysread($s, $head, 1, length $head);
            last unless $n;
        }
        my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
        my ($len) = $head =~ m{^Content-Length: (\d+)}mi;
        my $rbody = '';
        while (defined $len && length($rbody) < $len) {
            my $n = sysread($s, $rbody, $len - length($rbody), length $rbody);
            last unless $n;
        }
        push @out, $status // 0, $rbody;
        print $s "GET $next HTTP/1.1\r\nHost: localhost\r\n"
                 . "Connection: close\r\n\r\n" unless $last;
    }
    close $s;
    return @out;
}

# 1 MB of empty objects: about 75 bytes of jansson values for each byte
our $Empties = '[' . join(',', ('{}') x 349000) . ']';
# 1 MB of a common document: well under the bound
our $Common = '{"items":[' . join(",", map { qq({"sku":"s$_","qty":$_,"ok":true}) } 1 .. 30000) . ']}';

our $Big = '{"items":[' . join(",", map { qq({"sku":"s$_","qty":$_,"secret":"x$_"}) } 1 .. 2000) . ']}';
our $BigOut = '{"items":[' . join(",", map { qq({"sku":"s$_","qty":$_}) } 1 .. 2000) . '],"n":"big"}';

# a 1 KB constant of 500 elements, and arrays of many small objects for it:
# 1 MB (the tree) and 15 KB (the light documents)
our $Arr = '[' . join(',', (1) x 500) . ']';
our $Tiny = '{"items":[' . join(',', ('{"a":"0123456789abcdefghij"}') x 35000) . ']}';

# POSTs the 1 MB body of small objects to /t: the output bound's 413, and
# the worker's peak under "mb" MB
sub bounded_tiny_post {
    my ($n, $mb) = @_;
    my ($st, $body, $hwm) = ApiLed::Peak::post_peak('/t', $::Tiny);
    Test::More::is($st, 413, "TEST $n: 413");
    Test::More::like($body, qr/"type":"urn:api-led:error:body_too_large".*"detail":"the transformed JSON document would be larger than 32 times the body"/,
                     "TEST $n: the detail of the output bound");
    if (ApiLed::Peak::measurable()) {
        Test::More::cmp_ok($hwm, '<', $mb * 1024,
                           "TEST $n: peak resident memory under $mb MB");
        Test::More::diag("TEST $n: peak resident memory $hwm kB")
            if $ENV{TEST_NGINX_VERBOSE};
    }
}
our $TinyLight = '{"items":[' . join(',', ('{}') x 5000) . ']}';

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: set creates nested members; the upstream gets the new length
--- config
    location /t {
        api_led_request_json set /user/name Ada;
        api_led_request_json set /meta/source/kind gateway;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"a":1,"user":{"id":7}}
--- more_headers
Content-Type: application/json
--- response_body eval
main::echo('{"a":1,"user":{"id":7,"name":"Ada"},"meta":{"source":{"kind":"gateway"}}}')
--- no_error_log
[error]



=== TEST 2: typed values: strings, numbers, booleans, null, literal JSON
--- config
    location /t {
        api_led_request_json set /s string:42;
        api_led_request_json set /plain "hello world";
        api_led_request_json set /prefixed string:json:x;
        api_led_request_json set /n number:42;
        api_led_request_json set /neg number:-1.5e3;
        api_led_request_json set /f number:0.1;
        api_led_request_json set /t bool:true;
        api_led_request_json set /no bool:off;
        api_led_request_json set /z json:null;
        api_led_request_json set /o 'json:{"x":[1,2.5,"y"],"e":{}}';
        api_led_request_json set /empty "";
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{}
--- response_body eval
main::echo('{"s":"42","plain":"hello world","prefixed":"json:x","n":42,"neg":-1500.0,"f":0.1,"t":true,"no":false,"z":null,"o":{"x":[1,2.5,"y"],"e":{}},"empty":""}')



=== TEST 3: values from variables, converted to the declared type
--- config
    location /t {
        api_led_api orders;
        api_led_request_json set /id number:$arg_id;
        api_led_request_json set /bad number:$arg_bad;
        api_led_request_json set /flag bool:$arg_flag;
        api_led_request_json set /ua "agent $http_user_agent";
        api_led_request_json set /cid $api_led_correlation_id;
        api_led_request_json set /claims json:$http_x_json;
        api_led_request_json set /broken json:$http_x_broken;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t?id=123&bad=12abc&flag=yes
{"k":"v"}
--- more_headers
User-Agent: curl/8
X-Correlation-ID: cid-42
X-Json: {"roles":["a","b"],"n":1}
X-Broken: {"roles":
--- response_body eval
main::echo('{"k":"v","id":123,"bad":null,"flag":true,"ua":"agent curl/8","cid":"cid-42","claims":{"roles":["a","b"],"n":1},"broken":null}', uri => "/up?id=123&bad=12abc&flag=yes")
--- error_log
value "12abc" is not a valid number, null used



=== TEST 4: remove: nested members, array elements, every element's member
--- config
    location /t {
        api_led_request_json remove /user/password;
        api_led_request_json remove /items/1;
        api_led_request_json remove /items/*/secret;
        api_led_request_json remove /not/there;
        api_led_request_json remove /items/7;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"user":{"name":"a","password":"p"},"items":[{"id":1,"secret":"s1"},{"id":2},{"id":3,"secret":"s3"}]}
--- response_body eval
main::echo('{"user":{"name":"a"},"items":[{"id":1},{"id":3}]}')



=== TEST 5: rename to a member name, move to a pointer, rename in every element
--- config
    location /t {
        api_led_request_json rename /user/nm name;
        api_led_request_json rename /user/email /contact/email;
        api_led_request_json rename /items/*/qty quantity;
        api_led_request_json rename "/a~1b" "/c~0d";
        api_led_request_json rename /missing other;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"user":{"nm":"Ada","email":"a@x"},"items":[{"qty":1},{"qty":2,"k":0}],"a/b":true}
--- response_body eval
main::echo('{"user":{"name":"Ada"},"items":[{"quantity":1},{"k":0,"quantity":2}],"contact":{"email":"a@x"},"c~d":true}')



=== TEST 6: keep only the listed paths, nested and in every element
--- config
    location /t {
        api_led_request_json keep /id /user/name /items/*/sku /items/0/qty;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"id":1,"internal":"x","user":{"name":"Ada","ssn":"123"},"items":[{"sku":"a","qty":1,"cost":3},{"sku":"b","qty":2}]}
--- response_body eval
main::echo('{"id":1,"user":{"name":"Ada"},"items":[{"sku":"a","qty":1},{"sku":"b"}]}')



=== TEST 7: wrap the whole body under a new member
--- config
    location /t {
        api_led_request_json wrap /data/payload;
        api_led_request_json set /data/version number:2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
[1,{"a":null}]
--- response_body eval
main::echo('{"data":{"payload":[1,{"a":null}],"version":2}}')



=== TEST 8: arrays: append with "-", set by index, set in every element
--- config
    location /t {
        api_led_request_json set /tags/- new;
        api_led_request_json set /items/0/qty number:5;
        api_led_request_json set /items/*/currency EUR;
        api_led_request_json set /items/9/x skipped;
        api_led_request_json set /list/-/first number:1;
        api_led_request_json set /scalar/x skipped;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"tags":["a"],"items":[{"qty":1},{"qty":2}],"scalar":3}
--- response_body eval
main::echo('{"tags":["a","new"],"items":[{"qty":5,"currency":"EUR"},{"qty":2,"currency":"EUR"}],"scalar":3,"list":[{"first":1}]}')



=== TEST 9: operations run in the order written, headers and JSON together
--- config
    location /t {
        api_led_request_json set /a 1;
        api_led_request_json rename /a b;
        api_led_request_json set /a 2;
        api_led_request_json set /token $http_x_token;
        api_led_request_header remove X-Token;
        api_led_request_json set /after-remove "[$http_x_token]";
        api_led_request_json wrap /body;
        api_led_request_json set /v 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"x":0}
--- more_headers
X-Token: t-1
--- response_body eval
main::echo('{"body":{"x":0,"b":"1","a":"2","token":"t-1","after-remove":"[]"},"v":"1"}')



=== TEST 10: an empty POST body with set becomes a JSON object
--- config
    location /t {
        api_led_request_json set /created bool:1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
--- response_body eval
main::echo('{"created":true}')



=== TEST 11: a GET without a body gets none
--- config
    location /t {
        api_led_request_json set /created bool:1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- response_body eval
main::echo('', method => 'GET', ct => '', cl => '')



=== TEST 12: a chunked body, arriving in pieces: Content-Length, no Transfer-Encoding
--- config
    location /t {
        api_led_request_json set /via gw;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- raw_request eval
["POST /t HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
Content-Type: application/json\r
\r
", "5\r
{\"a\":\r
", "3\r
 1}\r
0\r
\r
"]
--- raw_request_middle_delay: 0.05
--- response_body eval
main::echo('{"a":1,"via":"gw"}')



=== TEST 13: a body buffered to a temporary file
--- config
    location /t {
        client_body_buffer_size 1k;
        client_body_in_file_only on;
        api_led_request_json remove /items/*/secret;
        api_led_request_json set /n big;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n$::Big"
--- response_body eval
main::echo($::BigOut)



=== TEST 14: a large body (bigger than the buffer, read in many events)
--- config
    location /t {
        api_led_request_json remove /items/*/secret;
        api_led_request_json set /n big;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n$::Big"
--- response_body eval
main::echo($::BigOut)



=== TEST 15: a chunked body buffered to a file
--- config
    location /t {
        client_body_buffer_size 1k;
        api_led_request_json remove /items/*/secret;
        api_led_request_json set /n big;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- raw_request eval
my $b = $::Big;
my $chunks = "";
while (length $b) {
    my $c = substr($b, 0, 3000, "");
    $chunks .= sprintf("%x\r\n%s\r\n", length $c, $c);
}
"POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" . $chunks . "0\r\n\r\n"
--- response_body eval
main::echo($::BigOut)



=== TEST 16: invalid JSON: 400 invalid_json, the upstream is not called
--- config
    location /t {
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"a":
--- error_code: 400
--- response_headers
Content-Type: application/problem+json
--- response_body_like chomp
^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"unexpected end of the text","correlation_id":"[0-9a-f-]{36}"\}$
--- no_error_log
[error]



=== TEST 17: a body over api_led_request_json_max_size: 413 (Content-Length known)
--- config
    location /t {
        api_led_request_json_max_size 16;
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"a":"0123456789abcdef"}
--- error_code: 413
--- response_body_like chomp
"type":"urn:api-led:error:body_too_large",.*"detail":"the request body is larger than 16 bytes"



=== TEST 18: a chunked body over the limit: 413 once read
--- config
    location /t {
        api_led_request_json_max_size 16;
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- raw_request eval
"POST /t HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
\r
a\r
{\"a\":\"0123\r
a\r
456789abc\"\r
1\r
}\r
0\r
\r
"
--- error_code: 413
--- response_body_like chomp
"type":"urn:api-led:error:body_too_large"



=== TEST 19: nesting deeper than 1000 levels: valid JSON past the gateway's bound, 413
--- config
    location /t {
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n" . ("[" x 1001) . ("]" x 1001)
--- error_code: 413
--- response_body_like chomp
"type":"urn:api-led:error:body_too_large".*"detail":"JSON nested deeper than 1000 levels"



=== TEST 20: 1000 levels of nesting pass
--- config
    location /t {
        api_led_request_json set /b x;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n" . ('{"a":' x 999) . '[]' . ('}' x 999)
--- response_body eval
main::echo('{"a":' . ('{"a":' x 998) . '[]' . ('}' x 998) . ',"b":"x"}')



=== TEST 21: a JSON Content-Type is kept; anything else becomes application/json
--- config
    location /t {
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
["POST /t\n{}", "POST /t\n{}"]
--- more_headers eval
["Content-Type: application/vnd.api+json; charset=utf-8", "Content-Type: text/plain"]
--- response_body eval
[main::echo('{"a":"1"}', ct => 'application/vnd.api+json; charset=utf-8'),
 main::echo('{"a":"1"}')]



=== TEST 22: numbers, strings and escapes come out as they went in
--- config
    location /t {
        api_led_request_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"price":19.99,"big":9007199254740993,"neg":-0.5,"e":1e-7,"one":1.0,"s":"\u00e9\" \\ \u0001/\t","u":"日本"}
--- response_body eval
main::echo('{"price":19.99,"big":9007199254740993,"neg":-0.5,"e":1e-07,"one":1.0,"s":"é\" \\\\ \u0001/\t","u":"日本","x":"1"}')



=== TEST 23: form_to_json: decoded, repeated names become arrays, then JSON operations
--- config
    location /t {
        api_led_request_body_convert form_to_json;
        api_led_request_json rename /q query;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
q=a+b%26c&tag=1&tag=2&tag=3&empty=&flag&%C3%A9=%E2%82%AC
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body eval
main::echo('{"tag":["1","2","3"],"empty":"","flag":"","é":"€","query":"a b&c"}')



=== TEST 24: form_to_json with a JSON body: the body is taken as JSON
--- config
    location /t {
        api_led_request_body_convert form_to_json;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"already":"json"}
--- more_headers
Content-Type: application/json
--- response_body eval
main::echo('{"already":"json"}')



=== TEST 25: json_to_form: scalars, arrays repeated, nested as JSON text, null empty
--- config
    location /t {
        api_led_request_body_convert json_to_form;
        api_led_request_json remove /drop;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"name":"A b&c=d","n":1.5,"ok":true,"nil":null,"tags":["x","y"],"obj":{"k":1},"drop":1,"é":"€"}
--- response_body eval
main::echo('name=A%20b%26c%3Dd&n=1.5&ok=true&nil=&tags=x&tags=y&obj=%7B%22k%22%3A1%7D&%C3%A9=%E2%82%AC', ct => 'application/x-www-form-urlencoded')



=== TEST 26: json_to_form of a body that is not an object: 400
--- config
    location /t {
        api_led_request_body_convert json_to_form;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
[1,2]
--- error_code: 400
--- response_body_like chomp
"type":"urn:api-led:error:invalid_json".*"detail":"only a JSON object converts to a form"



=== TEST 27: a form that is not UTF-8 once decoded: 400 invalid_form
--- config
    location /t {
        api_led_request_body_convert form_to_json;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
a=%FF%FE
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 400
--- response_body_like chomp
"type":"urn:api-led:error:invalid_form"



=== TEST 28: set on the empty pointer replaces the whole document
--- config
    location /t {
        api_led_request_json set "" 'json:{"fresh":true}';
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"old":1}
--- response_body eval
main::echo('{"fresh":true}')



=== TEST 29: the upstream gets exactly the new body and length (raw request)
--- config
    location /t {
        api_led_request_json set /b 2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/mock.sock;
    }
--- raw_request eval
"POST /t HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: chunked\r
Content-Type: application/json\r
\r
7\r
{\"a\":1}\r
0\r
\r
"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/mock.sock"
--- tcp_query eval
"POST /t HTTP/1.0\r
Host: localhost\r
Connection: close\r
Content-Length: 15\r
Content-Type: application/json\r
\r
{\"a\":1,\"b\":\"2\"}"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
--- response_body
ok



=== TEST 30: nginx -t: a JSON Pointer must start with "/"
--- config
    location /t {
        api_led_request_json remove a/b;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "a\/b": must be empty or start with "\/" in \S+nginx\.conf:\d+/



=== TEST 31: nginx -t: "~" must be followed by 0 or 1
--- config
    location /t {
        api_led_response_json remove /a~2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "\/a~2": has "~" not followed by "0" or "1" in \S+nginx\.conf:\d+/



=== TEST 32: nginx -t: a constant that is not of its type
--- config
    location /t {
        api_led_request_json set /n number:12abc;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid number value "12abc" in \S+nginx\.conf:\d+/



=== TEST 33: nginx -t: literal JSON that does not parse
--- config
    location /t {
        api_led_request_json set /o 'json:{"a":';
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON value "\{"a":" in \S+nginx\.conf:\d+/



=== TEST 34: nginx -t: unknown operation, wrong argument count, bad targets
--- config
    location /t {
        api_led_request_json copy /a /b;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/unknown JSON operation "copy", must be "set", "remove", "rename", "keep" or "wrap" in \S+nginx\.conf:\d+/



=== TEST 35: nginx -t: rename into the renamed path
--- config
    location /t {
        api_led_request_json rename /a /a/b;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "\/a\/b": cannot be inside the renamed path in \S+nginx\.conf:\d+/



=== TEST 36: nginx -t: set takes a value
--- config
    location /t {
        api_led_request_json set /a;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid number of arguments of JSON operation "set" in \S+nginx\.conf:\d+/



=== TEST 37: nginx -t: wrap with a wildcard, keep with "-"
--- config
    location /t {
        api_led_request_json keep /a/-;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "\/a\/-": cannot hold "-" in "keep" in \S+nginx\.conf:\d+/



=== TEST 38: parser: each malformed document is a 400 invalid_json
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
[map { "POST /t\n$_" }
 '{"a":1,}', '[1,]', '{"a" 1}', "[\"a\tb\"]", '["\ud800\u12"]',
 '01', '[1.]', '[-]', '[tru]', '{"a":1} x', "[\"\xff\"]", "[\"\xc0\xaf\"]",
 "[\"\xed\xa0\x80\"]", '[1e]', '[.5]', '[+1]', '[0x1]',
 '{"a":"b"', '{"a":"\q"}', '["\u12"]', '{1:2}', 'nul']
--- error_code eval
[(400) x 22]
--- response_body_like eval
[("invalid_json") x 22]



=== TEST 39: parser: escapes in names and values, surrogate pairs, number forms, duplicates
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
["POST /t\n" . '{"a\"b":"c\nd","\u00e9":1,"k\/":"\ud83d\ude00","a\"b2":"\u00e9\u00e8"}',
 "POST /t\n" . ' [ 1 , -0 , 1E+2 , 2.5e-3 , -12.125 , 1e-7 , 123456.789 , true , null , {} , [ ] ] ',
 "POST /t\n" . '{"a":1,"a":2}']
--- response_body eval
[main::echo('{"a\"b":"c\nd","é":1,"k/":"😀","a\"b2":"éè","zz":"1"}'),
 main::echo('[1,0,100.0,0.0025,-12.125,1e-07,123456.789,true,null,{},[]]'),
 main::echo('{"a":2,"zz":"1"}')]



=== TEST 40: a long string full of escapes comes out whole
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n" . '{"s":"' . ('a\"\\\\\t' x 3000) . '"}'
--- response_body eval
main::echo('{"s":"' . ('a\"\\\\\t' x 3000) . '","zz":"1"}')



=== TEST 41: a subrequest transforms its own copy of the body (mirror); the main request's stays
--- config
    location /t {
        mirror /m;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
    location /m {
        internal;
        api_led_request_json set /mirrored bool:true;
        api_led_request_header set X-Token mirror;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/mirror;
    }
--- request
POST /t
{"a":1}
--- more_headers
X-Token: client
--- response_body eval
main::echo('{"a":1}', ct => '', tok => 'client')
--- access_log
echo /up 7 {"a":1}
echo /mirror 23 {"a":1,"mirrored":true}
--- no_error_log
[error]



=== TEST 42: valid JSON the parser used to refuse passes, as it was meant: \u0000 in names and strings, lone surrogates
A lone surrogate is kept and written back as its escape; a high surrogate
followed by an escape that is not its low half is lone, and the next
escape is read on its own.
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n" . '{"nul":"a\u0000b","k\u0000":1,"hi":"\uD800","lo":"x\udc00y","pair":"\ud83d\ude00","hi_a":"\ud800\u0041","lo_hi":"\udc00\ud800","end":"\udbff"}'
--- response_body eval
main::echo('{"nul":"a\u0000b","k\u0000":1,"hi":"\ud800","lo":"x\udc00y","pair":"' . "\xf0\x9f\x98\x80" . '","hi_a":"\ud800A","lo_hi":"\udc00\ud800","end":"\udbff","zz":"1"}')



=== TEST 43: valid JSON the parser used to refuse passes: numbers keep their value, digits beyond a double kept as written
Integers beyond 64 bits, numbers of 64 characters and more, exponents
beyond a double, decimals with more digits than a double holds: the text
as it came.  Numbers a double writes back as the same number are doubles.
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
"POST /t\n" . '{"big":123456789012345678901234567890,"neg":-99999999999999999999,"u64":18446744073709551616,"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"pi":3.14159265358979323846264338327950288419716939937510582097494459230781640628620899,"huge":1e999,"tiny":-1e-999,"js":0.30000000000000004,"e":1.5e300,"d17":1234567890.1234567,"trail":1.50,"z":-0.0,"sub":5e-324,"cut":0.1000000000000000055511151231257827}'
--- response_body eval
main::echo('{"big":123456789012345678901234567890,"neg":-99999999999999999999,"u64":18446744073709551616,"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,"pi":3.14159265358979323846264338327950288419716939937510582097494459230781640628620899,"huge":1e999,"tiny":-1e-999,"js":0.30000000000000004,"e":1.5e+300,"d17":1234567890.1234567,"trail":1.5,"z":-0.0,"sub":5e-324,"cut":0.1000000000000000055511151231257827,"zz":"1"}')



=== TEST 44: the memory of a parse is bounded: 1 MB of empty objects is a 413, not 80 MB of values; a common 1 MB document passes
The values of a document may take at most 32 times its size plus 1 MB
(issue 16, defect 8: 1 MB of "[{},{},...]" took 86 MB to parse); the
peak resident memory of nginx stays under 64 MB.
--- config
    location /t {
        client_body_buffer_size 2m;
        api_led_request_json_max_size 2m;
        api_led_request_json remove /x;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location /sink {
        return 200 "sunk $content_length\n";
    }
--- init
my ($st, $body, $hwm) = ApiLed::Peak::post_peak('/t', $::Empties);
Test::More::is($st, 413, 'TEST 44: empty objects: 413');
Test::More::like($body, qr/"type":"urn:api-led:error:body_too_large".*"detail":"the JSON document needs more memory than 32 times its size/,
                 'TEST 44: the detail says why');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 64 * 1024,
                       'TEST 44: peak resident memory under 64 MB');
    Test::More::diag("TEST 44: peak resident memory $hwm kB") if $ENV{TEST_NGINX_VERBOSE};
}
--- request eval
"POST /t\n" . $::Common
--- more_headers
Content-Type: application/json
--- response_body eval
"sunk " . (length($::Common)) . "\n"



=== TEST 45: integers come out as they came, the 64-bit extremes and negatives too
--- config
    location /t {
        api_led_request_json set /zz 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
{"a":0,"b":-1,"c":7,"d":-9223372036854775808,"e":9223372036854775807,"f":[10,-100,1000000]}
--- response_body eval
main::echo('{"a":0,"b":-1,"c":7,"d":-9223372036854775808,"e":9223372036854775807,"f":[10,-100,1000000],"zz":"1"}')
--- no_error_log
[error]



=== TEST 46: invalid JSON on a kept-alive connection: the problem, then the next request is served (the body was read with the header; the handler read its state after the request was freed)
--- config
    location /t {
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- pipelined_requests eval
["POST /t\n[1,", "POST /t\n{\"b\":2}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/^\{"type":"urn:api-led:error:invalid_json",.*"detail":"unexpected end of the text"/,
 qr/^POST \/up cl=15 te= ct=application\/json tok=\n\{"b":2,"a":"1"\}\n\z/]
--- no_error_log
[error]



=== TEST 47: invalid JSON that comes after the header, on a kept-alive connection: the problem, the request is not written to once freed, and the next request is served
--- config
    location /t {
        api_led_request_json set /a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
    location /next {
        return 200 "next\n";
    }
--- init
my @r = main::late_body_then('/t', '[1,', '/next');
Test::More::is($r[0], 400, 'TEST 47: the late invalid body: 400');
Test::More::like($r[1] // '', qr/^\{"type":"urn:api-led:error:invalid_json",.*"detail":"unexpected end of the text"/,
                 'TEST 47: the problem says why');
Test::More::is($r[2], 200, 'TEST 47: the next request on the connection: 200');
Test::More::is($r[3], "next\n", 'TEST 47: and its body');
--- request
GET /next
--- response_body
next
--- no_error_log
[error]



=== TEST 48: a move into an array at an index inserts there (RFC 6902 "move"); a move that does not fit puts the value back; on the light path, and on the tree (a member twice sends the document there)
--- config
    location /t {
        api_led_request_json rename /a/0 /a/1;
        api_led_request_json rename /x /a/0;
        api_led_request_json rename /a/3 /y;
        api_led_request_json rename /z /a/9;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
["POST /t\n{\"a\":[1,{\"b\":2},3],\"x\":\"first\",\"z\":0}",
 "POST /t\n{\"d\":1,\"d\":2,\"a\":[1,{\"b\":2},3],\"x\":\"first\",\"z\":0}"]
--- response_body eval
[main::echo('{"a":["first",{"b":2},1],"y":3,"z":0}'),
 main::echo('{"d":2,"a":["first",{"b":2},1],"y":3,"z":0}')]
--- no_error_log
[error]



=== TEST 49: json_to_form of a lone surrogate escape, in a value or a name: 400, nothing that is not UTF-8 goes upstream; NUL goes as %00, and a nested object keeps the escape
--- config
    location /t {
        api_led_request_body_convert json_to_form;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
["POST /t\n{\"a\":\"x\\ud800\"}", "POST /t\n{\"\\udc00\":1}", "POST /t\n{\"a\":[\"ok\",\"\\ud800\"]}", "POST /t\n{\"n\":\"a\\u0000b\",\"o\":{\"s\":\"\\ud800\"}}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 400, 400, 200]
--- response_body_like eval
[qr/"type":"urn:api-led:error:invalid_json".*"detail":"a lone surrogate escape \(\\\\ud800 to \\\\udfff\) is no character a form can carry"/,
 qr/"type":"urn:api-led:error:invalid_json"/,
 qr/"type":"urn:api-led:error:invalid_json"/,
 qr/^POST \/up cl=\d+ te= ct=application\/x-www-form-urlencoded tok=\nn=a%00b&o=%7B%22s%22%3A%22%5Cud800%22%7D\n\z/]
--- no_error_log
[error]



=== TEST 50: form_to_json: %00 decodes to the character \u0000, written as its escape
--- config
    location /t {
        api_led_request_body_convert form_to_json;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
a=%00&b%00=x
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body eval
main::echo('{"a":"\u0000","b\u0000":"x"}')
--- no_error_log
[error]



=== TEST 51: number: reads a number as the parser does: an integer beyond 64 bits or a number beyond a double is kept as written; text around it is no number
--- config
    location /t {
        api_led_request_json set /big number:$arg_big;
        api_led_request_json set /huge number:$arg_huge;
        api_led_request_json set /price number:$arg_price;
        api_led_request_json set /negzero number:$arg_nz;
        api_led_request_json set /spaced number:$arg_sp;
        api_led_request_json set /hex number:$arg_hex;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t?big=123456789012345678901234567890&huge=-1e999&price=1.50&nz=-0&sp=+1&hex=0x1
{}
--- response_body eval
main::echo('{"big":123456789012345678901234567890,"huge":-1e999,"price":1.5,"negzero":0,"spaced":null,"hex":null}', uri => "/up?big=123456789012345678901234567890&huge=-1e999&price=1.50&nz=-0&sp=+1&hex=0x1")



=== TEST 52: a largest body of 0 fails nginx -t (every JSON body was refused with 413)
--- config
    location /t {
        api_led_request_json_max_size 0;
        api_led_request_json set /x 1;
        return 200;
    }
--- must_die
--- error_log eval
qr/"api_led_request_json_max_size" directive must be at least 1 byte \(there is no unlimited size\) in \S+nginx\.conf:\d+/



=== TEST 53: the same for api_led_response_json_max_size
--- config
    location /t {
        api_led_response_json_max_size 0;
        return 200;
    }
--- must_die
--- error_log eval
qr/"api_led_response_json_max_size" directive must be at least 1 byte \(there is no unlimited size\) in \S+nginx\.conf:\d+/



=== TEST 54: a client's long header set in every element of a long array: 413, not a body hundreds of times the request (the fast path and the tree, json_to_form)
--- config
    location /light {
        api_led_request_json set /items/*/s $http_x_s;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
    location /tree {
        api_led_request_json set /items/*/s $http_x_s;
        api_led_request_json keep /items;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
    location /form {
        api_led_request_body_convert json_to_form;
        api_led_request_json set /items/*/s $http_x_s;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- pipelined_requests eval
["POST /light\n" . '{"items":[' . CORE::join(",", ("{}") x 400) . ']}',
 "POST /tree\n" . '{"items":[' . CORE::join(",", ("{}") x 400) . ']}',
 "POST /form\n" . '{"items":[' . CORE::join(",", ("{}") x 400) . ']}']
--- more_headers eval
"X-S: " . ("s" x 4000)
--- error_code eval
[413, 413, 413]
--- response_body_like eval
['"detail":"the transformed JSON document would be larger than 32 times the body"',
 '"detail":"the transformed JSON document would be larger than 32 times the body"',
 '"detail":"the transformed JSON document would be larger than 32 times the body"']
--- no_error_log
[alert]



=== TEST 55: a constant of many values set in every element of a long array: its copies are counted as they are made, a 413 before hundreds of MB (the tree: 1 MB of small objects took 368 MB)
--- config eval
"
    location /t {
        client_body_buffer_size 2m;
        api_led_request_json_max_size 2m;
        api_led_request_json set /items/*/x 'json:$::Arr';
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/sink;
    }
    location /sink {
        return 200 'sunk \$content_length\n';
    }
"
--- init
::bounded_tiny_post(55, 128);
--- request eval
"POST /t\n" . '{"items":[{},{}]}'
--- more_headers
Content-Type: application/json
--- response_body eval
"sunk " . length('{"items":[{"x":' . $::Arr . '},{"x":' . $::Arr . '}]}') . "\n"
--- no_error_log
[alert]



=== TEST 56: the same for a light document (15 KB of empty objects took 229 MB)
--- config eval
"
    location /t {
        api_led_request_json set /items/*/x 'json:$::Arr';
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/sink;
    }
    location /sink {
        return 200 'sunk \$content_length\n';
    }
"
--- init
my ($st, $body, $hwm) = ApiLed::Peak::post_peak('/t', $::TinyLight);
Test::More::is($st, 413, 'TEST 56: 413');
Test::More::like($body, qr/"detail":"the transformed JSON document would be larger than 32 times the body"/,
                 'TEST 56: the detail of the output bound');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 48 * 1024,
                       'TEST 56: peak resident memory under 48 MB');
    Test::More::diag("TEST 56: peak resident memory $hwm kB") if $ENV{TEST_NGINX_VERBOSE};
}
--- request eval
"POST /t\n" . '{"items":[{},{}]}'
--- more_headers
Content-Type: application/json
--- response_body eval
"sunk " . length('{"items":[{"x":' . $::Arr . '},{"x":' . $::Arr . '}]}') . "\n"
--- no_error_log
[alert]



=== TEST 57: a deep path set in every element of a long array: the objects created along it are counted as they are made, a 413 (the tree: 1 MB of small objects took 113 MB and passed a 3.2 MB body)
--- config eval
"
    location /t {
        client_body_buffer_size 2m;
        api_led_request_json_max_size 2m;
        api_led_request_json set /items/*/b/c/d/e/f/g/h/i/j/k 1;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/sink;
    }
    location /sink {
        return 200 'sunk \$content_length\n';
    }
"
--- init
::bounded_tiny_post(57, 64);
--- request eval
"POST /t\n" . '{"items":[{},{}]}'
--- more_headers
Content-Type: application/json
--- response_body eval
"sunk " . length('{"items":[' . CORE::join(',', ('{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":"1"}}}}}}}}}}') x 2) . ']}') . "\n"
--- no_error_log
[alert]



=== TEST 58: the same for a light document: its created nodes are counted (15 KB of empty objects passed)
--- config eval
"
    location /t {
        api_led_request_json set /items/*/b/c/d/e/f/g/h/i/j/k 1;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/sink;
    }
    location /sink {
        return 200 'sunk \$content_length\n';
    }
"
--- init
my ($st, $body) = ApiLed::Peak::post_peak('/t', $::TinyLight);
Test::More::is($st, 413, 'TEST 58: 413');
Test::More::like($body, qr/"type":"urn:api-led:error:body_too_large".*"detail":"the transformed JSON document would be larger than 32 times the body"/,
                 'TEST 58: the detail of the output bound');
--- request eval
"POST /t\n" . '{"items":[{},{}]}'
--- more_headers
Content-Type: application/json
--- response_body eval
"sunk " . length('{"items":[' . CORE::join(',', ('{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":"1"}}}}}}}}}}') x 2) . ']}') . "\n"
--- no_error_log
[alert]
