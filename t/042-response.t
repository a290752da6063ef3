# Response headers and JSON bodies: every operation on a proxied response,
# Content-Length of the new body, non-JSON and error passthrough, the size
# limit, gzip-capable upstreams, subrequests (SSI), header operations.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $User = '{"id":7,"name":"Ada","password":"x","items":[{"sku":"a","cost":1},{"sku":"b","cost":2}]}';

our $Big = '{"items":[' . join(",", map { qq({"sku":"s$_","cost":$_}) } 1 .. 3000) . ']}';
our $BigOut = '{"items":[' . join(",", map { qq({"sku":"s$_"}) } 1 .. 3000) . ']}';

# valid JSON the parser used to refuse (1-5), and responses that cannot be
# transformed (6: not JSON, 7: nested deeper than the parser's bound)
our @Hostile = (undef,
    '{"name":"a\u0000b","password_hash":"x","id":1}',
    '{"name":"\ud800","password_hash":"x","id":1}',
    '{"id":1,"password_hash":"x","balance":123456789012345678901234567890.123456789012345678901234567890123}',
    '{"password_hash":"x","id":18446744073709551616}',
    '{"id":1,"password_hash":"x","deep":' . ('[' x 500) . (']' x 500) . '}',
    '{"id":1,"password_hash":"x",}',
    '{"id":1,"password_hash":"x","deep":' . ('[' x 1001) . (']' x 1001) . '}');

our $Many = '{"id":1,"items":[' . join(",", ("{}") x 400) . ']}';

# a 1 KB constant of 500 elements, and arrays of many small objects for it:
# 1 MB (the tree) and 15 KB (the light documents)
our $Arr = '[' . join(',', (1) x 500) . ']';
our $Tiny = '{"items":[' . join(',', ('{"a":"0123456789abcdefghij"}') x 35000) . ']}';
our $TinyLight = '{"items":[' . join(',', ('{}') x 5000) . ']}';

our $Up = <<"CONF";
    server {
        listen unix:\$TEST_NGINX_HTML_DIR/up.sock;
        default_type application/json;
        location /user { return 200 '$User'; }
        location /text { default_type text/plain; return 200 '{"id":7}'; }
        location /hal { default_type application/hal+json; return 200 '{"id":7}'; }
        location /untyped { default_type ""; return 200 '{"id":7}'; }
        location /many { return 200 '$Many'; }
        location /problem { default_type application/problem+json; return 404 '{"id":7}'; }
        location /err { return 500 '{"id":7}'; }
        location /bad { return 200 '{"id":'; }
        location /empty { return 200 ''; }
        location /ae { return 200 '{"ae":"\$http_accept_encoding"}'; }
        location /lm {
            add_header Last-Modified 'Mon, 01 Jan 2024 00:00:00 GMT';
            return 200 '{"a":1}';
        }
        location /digests {
            add_header Digest 'sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=';
            add_header Content-MD5 'Q2hlY2sgSW50ZWdyaXR5IQ==';
            add_header Content-Digest 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';
            add_header Repr-Digest 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';
            add_header X-Keep k;
            return 200 '{"a":1}';
        }
        location /headers {
            add_header X-Internal secret;
            add_header X-Old old;
            add_header X-Keep k;
            add_header ETag '"v1"';
            return 200 '{"a":1}';
        }
        location /big.json { ssi on; ssi_types application/json; root html; }
        location /hostile/ { root html; }
        location /copies/ { root html; }
    }
    server {
        listen unix:\$TEST_NGINX_HTML_DIR/gz.sock;
        gzip on;
        gzip_min_length 1;
        gzip_types application/json;
        gzip_proxied any;
        gzip_http_version 1.0;
        default_type application/json;
        location / { return 200 '$User'; }
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Up);

    if (!defined $block->user_files) {
        $block->set_value("user_files", [["big.json", $::Big],
                                         ["copies/tree", $::Tiny],
                                         ["copies/light", $::TinyLight],
                                         map { ["hostile/$_", $::Hostile[$_]] }
                                             1 .. $#::Hostile]);
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: set, remove, rename on nested paths and every array element; new Content-Length
--- config
    location /t {
        api_led_response_json remove /password;
        api_led_response_json rename /name /profile/name;
        api_led_response_json set /items/*/currency EUR;
        api_led_response_json remove /items/*/cost;
        api_led_response_json set /v number:2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /t
--- response_body chomp
{"id":7,"items":[{"sku":"a","currency":"EUR"},{"sku":"b","currency":"EUR"}],"profile":{"name":"Ada"},"v":2}
--- response_headers
Content-Length: 107
Content-Type: application/json
--- no_error_log
[error]
[warn]



=== TEST 2: keep, then wrap, then array index and append
--- config
    location /t {
        api_led_response_json keep /id /items/*/sku;
        api_led_response_json set /items/0/first bool:true;
        api_led_response_json set /items/- 'json:{"sku":"c"}';
        api_led_response_json wrap /data;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /t
--- response_body chomp
{"data":{"id":7,"items":[{"sku":"a","first":true},{"sku":"b"},{"sku":"c"}]}}



=== TEST 3: values from variables and typed values in responses
--- config
    location /t {
        api_led_api users;
        api_led_response_json keep /id;
        api_led_response_json set /cid $api_led_correlation_id;
        api_led_response_json set /status number:$upstream_status;
        api_led_response_json set /page number:$arg_page;
        api_led_response_json set /debug bool:$arg_debug;
        api_led_response_json set /nil json:null;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /t?page=3&debug=0
--- more_headers
X-Correlation-ID: c-1
--- response_body chomp
{"id":7,"cid":"c-1","status":200,"page":3,"debug":false,"nil":null}



=== TEST 4: ETag and Accept-Ranges go: they described the old body
--- config
    location /t {
        api_led_response_json set /b 2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/headers;
    }
--- request
GET /t
--- response_body chomp
{"a":1,"b":"2"}
--- response_headers
!ETag
Content-Length: 15
X-Keep: k



=== TEST 5: a non-JSON response passes untouched (length and all)
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/text;
    }
--- request
GET /t
--- response_body chomp
{"id":7}
--- response_headers
Content-Length: 8
Content-Type: text/plain
--- no_error_log
[warn]



=== TEST 6: application/...+json is JSON
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hal;
    }
--- request
GET /t
--- response_body chomp
{"id":7,"x":"1"}



=== TEST 7: error statuses and problem documents pass untouched
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/problem;
    }
    location /e {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/err;
    }
--- request eval
["GET /t", "GET /e"]
--- error_code eval
[404, 500]
--- response_body eval
['{"id":7}', '{"id":7}']



=== TEST 8: a response that is not valid JSON passes unchanged, with a warning
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/bad;
    }
--- request
GET /t
--- response_body chomp
{"id":
--- response_headers
Content-Length: 6
--- error_log
response is not JSON to transform



=== TEST 9: an empty response passes unchanged, without a warning
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/empty;
    }
--- request
GET /t
--- response_body chomp

--- no_error_log
[warn]



=== TEST 10: a body in many buffers, no Content-Length from upstream
--- config
    location /t {
        api_led_response_json remove /items/*/cost;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/big.json;
    }
--- request
GET /t
--- response_body eval
$::BigOut
--- response_headers eval
"Content-Length: " . length($::BigOut)
--- no_error_log
[warn]



=== TEST 11: over api_led_response_json_max_size (length announced): unchanged, warned
--- config
    location /t {
        api_led_response_json_max_size 32;
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /t
--- response_body eval
$::User
--- error_log
larger than api_led_response_json_max_size, passed through unchanged



=== TEST 12: over the limit while streaming (no length announced), "pass" chosen: unchanged, warned
--- config
    location /t {
        api_led_response_json_max_size 8k;
        api_led_response_json remove /items/*/cost;
        api_led_response_json_on_error pass;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/big.json;
    }
--- request
GET /t
--- response_body eval
$::Big
--- error_log
response is larger than api_led_response_json_max_size, passed through unchanged



=== TEST 13: a gzip-capable upstream: the client asks for gzip, the transform still works
--- config
    location /t {
        api_led_response_json keep /id /name;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/gz.sock;
    }
--- request
GET /t
--- more_headers
Accept-Encoding: gzip
--- response_body chomp
{"id":7,"name":"Ada"}
--- response_headers
!Content-Encoding
--- no_error_log
[warn]



=== TEST 14: the same upstream compresses when the location has no JSON operations
--- config
    location /t {
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/gz.sock;
    }
--- request
GET /t
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip



=== TEST 15: the upstream gets no Accept-Encoding; nginx's gzip for the client still works
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/ae;
    }
    location /gz {
        gzip on;
        gzip_min_length 1;
        gzip_types application/json;
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/ae;
    }
--- request eval
["GET /t", "GET /gz"]
--- more_headers
Accept-Encoding: gzip
--- response_headers eval
["!Content-Encoding", "Content-Encoding: gzip"]
--- response_body_like eval
['^\{"ae":"","x":"1"\}$', '.']



=== TEST 16: an upstream that compresses anyway: passed through, warned
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/gz.sock;
    }
--- request
GET /t
--- response_headers
Content-Encoding: gzip
--- error_log
response is "gzip" encoded, JSON operations skipped



=== TEST 17: response headers: set, add, remove, rename (ETag is a known header)
--- config
    location /t {
        api_led_response_header remove X-Internal;
        api_led_response_header rename X-Old X-New;
        api_led_response_header set X-Keep "kept $arg_v";
        api_led_response_header add X-Added one;
        api_led_response_header add X-Added two;
        api_led_response_header remove ETag;
        api_led_response_header set X-Status $upstream_status;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/headers;
    }
--- request
GET /t?v=1
--- response_body chomp
{"a":1}
--- raw_response_headers_like chomp
X-New: old\r\nX-Keep: kept 1\r\nX-Added: one\r\nX-Added: two\r\nX-Status: 200\r\n
--- response_headers
!X-Internal
!X-Old
!ETag
Content-Length: 7



=== TEST 18: set Content-Type: a mislabelled JSON response gets transformed
--- config
    location /t {
        api_led_response_header set Content-Type application/json;
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/text;
    }
--- request
GET /t
--- response_body chomp
{"id":7,"x":"1"}
--- response_headers
Content-Type: application/json



=== TEST 19: a header value with CR/LF is not set, with a warning
--- http_config
    map $request_uri $evil {
        default "x\r\nSet-Cookie: a=b";
    }
--- config
    location /t {
        api_led_response_header set X-Evil $evil;
        api_led_response_header set X-Fine fine;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/headers;
    }
--- request
GET /t
--- response_headers
!X-Evil
!Set-Cookie
X-Fine: fine
--- error_log
value of response header "X-Evil" holds a control character, header not changed



=== TEST 20: header operations apply to error responses too, JSON operations do not
--- config
    location /t {
        api_led_response_header set X-A a;
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/err;
    }
--- request
GET /t
--- error_code: 500
--- response_headers
X-A: a
--- response_body chomp
{"id":7}



=== TEST 21: a subrequest's response (SSI include) is transformed in place
--- user_files eval
[["page.html", qq(A<!--# include virtual="/part" -->B\n)]]
--- config
    location /page.html {
        ssi on;
        root html;
    }
    location /part {
        api_led_response_json keep /id /name;
        api_led_response_json set /via part;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /page.html
--- more_headers
Accept-Encoding: gzip
--- response_body
A{"id":7,"name":"Ada","via":"part"}B
--- no_error_log
[error]
[warn]



=== TEST 22: HEAD: no body to transform, no Content-Length that could be wrong
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
HEAD /t
--- response_headers
!Content-Length
--- response_body chomp



=== TEST 23: request and response transformed in one location; the module's own errors untouched
--- config
    location /t {
        api_led_request_json_max_size 8;
        api_led_request_json set /x 1;
        api_led_response_json set /y 2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hal;
    }
--- request eval
["POST /t\n{}", "POST /t\n{\"long\":\"body\"}"]
--- error_code eval
[200, 413]
--- response_body_like eval
['^\{"id":7,"y":"2"\}$', '^\{"type":"urn:api-led:error:body_too_large",.*\}$']



=== TEST 24: a response JSON body from return (no upstream)
--- config
    location /t {
        default_type application/json;
        api_led_response_json rename /a b;
        return 200 '{"a":[1,2]}';
    }
--- request
GET /t
--- response_body chomp
{"b":[1,2]}



=== TEST 25: server-level response operations, replaced by a location's own
--- config
    api_led_response_json set /from server;
    api_led_response_header set X-From server;
    location /t {
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hal;
    }
    location /own {
        api_led_response_json set /from own;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hal;
    }
--- request eval
["GET /t", "GET /own"]
--- response_body eval
['{"id":7,"from":"server"}', '{"id":7,"from":"own"}']
--- response_headers eval
["X-From: server", "!X-From"]



=== TEST 26: nginx -t: response Content-Length and Connection belong to nginx
--- config
    location /t {
        api_led_response_header remove Connection;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock;
    }
--- must_die
--- error_log eval
qr/header "Connection" cannot be changed with "remove" in \S+nginx\.conf:\d+/



=== TEST 27: nginx -t: Content-Type can be set or removed, not renamed
--- config
    location /t {
        api_led_response_header rename Content-Type X-Type;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock;
    }
--- must_die
--- error_log eval
qr/header "Content-Type" cannot be changed with "rename" in \S+nginx\.conf:\d+/



=== TEST 28: nginx -t: wrap takes no wildcard
--- config
    location /t {
        api_led_response_json wrap /a/*;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock;
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "\/a\/\*": cannot hold "\*" in "wrap" in \S+nginx\.conf:\d+/



=== TEST 29: the upstream closes before the end of a body to transform: 502 problem, not an empty reply
--- config
    location /t {
        api_led_api users layer=experience;
        api_led_response_json remove /password;
        api_led_response_header set X-Op op;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: cid-cut
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n"
. "X-Upstream: u\r\nSet-Cookie: s=1\r\n\r\n{\"id\":7,\"password\":\"x\""
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
X-Op: op
X-Correlation-ID: cid-cut
!X-Upstream
!Set-Cookie
--- response_body
{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"the upstream response is incomplete","correlation_id":"cid-cut"}
--- error_log
upstream prematurely closed connection
api_led: the upstream response ended before its end, answered 502



=== TEST 30: the same unbuffered, and a chunked body without its last chunk
--- config
    location /t {
        api_led_response_json remove /password;
        proxy_buffering off;
        proxy_http_version 1.1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
. "8\r\n{\"id\":7,\r\n"
--- error_code: 502
--- response_body_like chomp
"detail":"the upstream response is incomplete"



=== TEST 31: a body that ends with the connection (no length announced) is complete and transformed
--- config
    location /t {
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\":7,\"password\":\"x\"}"
--- response_body chomp
{"id":7}



=== TEST 32: a part location that transforms: its upstream closes early, the part fails
--- config
    location /t {
        api_led_compose {
            user /part;
        }
    }
    location /part {
        internal;
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/;
    }
--- request
GET /t
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval
"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"id\":7"
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: user \(502, the upstream response is incomplete\)"



=== TEST 33: a field is removed from valid JSON the parser used to refuse (\u0000, lone surrogates, long numbers, big integers, deep nesting)
Each of these responses used to pass unchanged, password_hash included.
--- config
    location /t {
        api_led_response_json remove /password_hash;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hostile/$arg_n;
    }
--- request eval
[map { "GET /t?n=$_" } 1 .. 5]
--- response_body eval
['{"name":"a\u0000b","id":1}',
 '{"name":"\ud800","id":1}',
 '{"id":1,"balance":123456789012345678901234567890.123456789012345678901234567890123}',
 '{"id":18446744073709551616}',
 '{"id":1,"deep":' . ('[' x 500) . (']' x 500) . '}']
--- no_error_log
[warn]



=== TEST 34: where fields are removed, a response that is not JSON after all is a 502 problem, not the response
The client never sees password_hash.
--- config
    location /t {
        api_led_response_json remove /password_hash;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hostile/6;
    }
--- request
GET /t
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"the response of the upstream could not be transformed","correlation_id":"[-0-9a-f]+"\}$
--- error_log
response not transformed: a member name expected at byte 28; 502 in its place



=== TEST 35: where fields are kept, a response nested deeper than the parser's bound is a 502 problem
--- config
    location /t {
        api_led_response_json keep /id;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hostile/7;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"status":502
--- error_log
response not transformed: JSON nested deeper than 1000 levels; 502 in its place



=== TEST 36: "api_led_response_json_on_error pass": the response passes unchanged, warned
--- config
    location /t {
        api_led_response_json remove /password_hash;
        api_led_response_json_on_error pass;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/hostile/6;
    }
--- request
GET /t
--- response_body chomp
{"id":1,"password_hash":"x",}
--- error_log
response is not JSON to transform



=== TEST 37: where fields are removed: a response announced over the size limit is a 502 problem
--- config
    location /t {
        api_led_response_json_max_size 32;
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/user;
    }
--- request
GET /t
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
--- response_body_like chomp
"status":502
--- error_log
response not transformed: it is larger than api_led_response_json_max_size; 502 in its place



=== TEST 38: where fields are kept: an encoded response is a 502 problem, not encoded itself
--- config
    location /t {
        api_led_response_json keep /id;
        proxy_set_header Accept-Encoding gzip;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/gz.sock;
    }
--- request
GET /t
--- more_headers
Accept-Encoding: gzip
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
!Content-Encoding
--- response_body_like chomp
"status":502
--- error_log
response not transformed: it is encoded; 502 in its place



=== TEST 39: "closed" chosen where a location only sets fields
--- config
    location /t {
        api_led_response_json set /x 1;
        api_led_response_json_on_error closed;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/bad;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"status":502
--- error_log
response not transformed: unexpected end of the text; 502 in its place



=== TEST 40: where fields are removed: growing over the size limit while streaming is a 502 problem
--- config
    location /t {
        api_led_response_json_max_size 8k;
        api_led_response_json remove /items/*/cost;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/big.json;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"status":502
--- error_log
response not transformed: it is larger than api_led_response_json_max_size; 502 in its place



=== TEST 41: a Range from the client does not reach the upstream where fields are removed: the whole body, transformed (an attack got the password through a range)
--- http_config
    server {
        listen unix:$TEST_NGINX_HTML_DIR/static.sock;
        default_type application/json;
        location / { root html; }
    }
--- user_files
>>> user.json
{"id":1,"password":"secret","name":"Ada"}
--- config
    location /t/ {
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/static.sock:/;
    }
--- request eval
["GET /t/user.json", "GET /t/user.json", "GET /t/user.json"]
--- more_headers eval
["Range: bytes=0-", "Range: bytes=5-30", "Range: bytes=0-20\nIf-Range: Thu, 01 Jan 2099 00:00:00 GMT"]
--- error_code eval
[200, 200, 200]
--- response_body eval
["{\"id\":1,\"name\":\"Ada\"}", "{\"id\":1,\"name\":\"Ada\"}", "{\"id\":1,\"name\":\"Ada\"}"]
--- no_error_log
[error]



=== TEST 42: a range (206) the upstream sends on its own, where fields are removed: a 502 problem, nothing of it goes out
--- http_config
    server {
        listen unix:$TEST_NGINX_HTML_DIR/partial.sock;
        default_type application/json;
        location / {
            add_header Content-Range "bytes 0-40/41";
            return 206 '{"id":1,"password":"secret","name":"Ada"}';
        }
    }
--- config
    location /t {
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/partial.sock:/;
    }
--- request
GET /t
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
!Content-Range
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_failed",.*"status":502
--- error_log
response not transformed: it is a range of the body (206); 502 in its place



=== TEST 43: a range (206) where the location only sets fields: passed unchanged, warned
--- http_config
    server {
        listen unix:$TEST_NGINX_HTML_DIR/partial.sock;
        default_type application/json;
        location / {
            add_header Content-Range "bytes 0-6/7";
            return 206 '{"id":1}';
        }
    }
--- config
    location /t {
        api_led_response_json set /x 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/partial.sock:/;
    }
--- request
GET /t
--- error_code: 206
--- response_headers
Content-Range: bytes 0-6/7
--- response_body chomp
{"id":1}
--- error_log
response is a range of the body (206), JSON operations skipped



=== TEST 44: where fields are removed, a body without a Content-Type is a 502 problem, not the body
It went out untouched, the member the location removes included.
--- config
    location /t {
        api_led_response_json remove /id;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/untyped;
    }
--- request
GET /t
--- error_code: 502
--- response_headers
Content-Type: application/problem+json
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_failed",.*"status":502,"detail":"the response of the upstream could not be transformed"
--- error_log
response not transformed: its Content-Type is not a JSON type; 502 in its place
--- no_error_log
[alert]



=== TEST 45: HEAD: no ETag or Accept-Ranges either, as GET has none (they described the old body)
--- config
    location /t {
        api_led_response_json set /b 2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/headers;
    }
--- request
HEAD /t
--- response_headers
!ETag
!Accept-Ranges
!Content-Length
X-Keep: k
--- response_body chomp



=== TEST 46: a client's long argument set in every element of a long array where fields are removed: 502, not a body hundreds of times the response
--- config
    location /t {
        api_led_response_json remove /id;
        api_led_response_json set /items/*/s $arg_s;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/many;
    }
--- request eval
"GET /t?s=" . ("s" x 4000)
--- error_code: 502
--- response_body_like chomp
"detail":"the response of the upstream could not be transformed"
--- error_log
response not transformed: the transformed document would be larger than 32 times the body; 502 in its place



=== TEST 47: the same where the location only sets fields: passed unchanged, warned
--- config
    location /t {
        api_led_response_json set /items/*/s $arg_s;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/many;
    }
--- request eval
"GET /t?s=" . ("s" x 4000)
--- response_body eval
$::Many
--- error_log
the transformed document would be larger than 32 times the body), passed through unchanged



=== TEST 48: the upstream's checksums of its body go with the body they describe (GET and HEAD)
--- config
    location /t {
        api_led_response_json set /b 2;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/digests;
    }
--- request eval
["GET /t", "HEAD /t"]
--- response_headers eval
["!Digest\n!Content-MD5\n!Content-Digest\n!Repr-Digest\nX-Keep: k", "!Digest\n!Content-MD5\n!Content-Digest\n!Repr-Digest\nX-Keep: k"]
--- response_body eval
["{\"a\":1,\"b\":\"2\"}", ""]



=== TEST 49: operations with per-request values drop Last-Modified; constant operations keep it
The upstream's date stayed on a body made for this request ($arg_who): a
cache (proxy_cache, a client's) could revalidate one client's body with it
and get a 304 for another's.
--- config
    location /t {
        api_led_response_json set /who $arg_who;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/lm;
    }
    location /c {
        api_led_response_json set /who ada;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/lm;
    }
--- request eval
["GET /t?who=ada", "HEAD /t?who=ada", "GET /c"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["!Last-Modified", "!Last-Modified", "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT"]
--- response_body eval
['{"a":1,"who":"ada"}', "", '{"a":1,"who":"ada"}']



=== TEST 50: a body not labelled JSON where fields are kept is a 502 too; a HEAD and on_error pass let it through
--- config
    location /u {
        api_led_response_json keep /name;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/text;
    }
    location /t {
        api_led_response_json remove /id;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/untyped;
    }
    location /v {
        api_led_response_json remove /id;
        api_led_response_json_on_error pass;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/untyped;
    }
--- request eval
["GET /u", "HEAD /t", "GET /v"]
--- error_code eval
[502, 200, 200]
--- response_body_like eval
['"status":502', '^$', '^\{"id":7\}$']
--- response_headers eval
["Content-Type: application/problem+json", "Content-Length: 8",
 "Content-Length: 8\nContent-Type:"]



=== TEST 51: a constant of many values set in every element of an upstream's long array: its copies are counted as they are made, the answer of the output bound before hundreds of MB (1 MB of small objects took 368 MB, 15 KB of empty objects 229 MB)
--- config eval
"
    location /tree {
        api_led_response_json_max_size 2m;
        api_led_response_json remove /id;
        api_led_response_json set /items/*/x 'json:$::Arr';
        proxy_method GET;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/up.sock:/copies/tree;
    }
    location /light {
        api_led_response_json set /items/*/x 'json:$::Arr';
        proxy_method GET;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/up.sock:/copies/light;
    }
"
--- init
use lib 't/lib';
require ApiLed::Peak;
my ($st, $body, $hwm) = ApiLed::Peak::post_peak('/light', '{}');
Test::More::is($st, 200, 'TEST 51: light: passed unchanged');
Test::More::is($body, $::TinyLight, 'TEST 51: light: the upstream\'s body');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 48 * 1024,
                       'TEST 51: light: peak resident memory under 48 MB');
    Test::More::diag("TEST 51: light: peak resident memory $hwm kB") if $ENV{TEST_NGINX_VERBOSE};
}
($st, $body, $hwm) = ApiLed::Peak::post_peak('/tree', '{}');
Test::More::is($st, 502, 'TEST 51: tree, fields removed: 502');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 128 * 1024,
                       'TEST 51: tree: peak resident memory under 128 MB');
    Test::More::diag("TEST 51: tree: peak resident memory $hwm kB") if $ENV{TEST_NGINX_VERBOSE};
}
--- request
GET /light
--- response_body eval
$::TinyLight
--- error_log
the transformed document would be larger than 32 times the body), passed through unchanged
response not transformed: the transformed document would be larger than 32 times the body; 502 in its place



=== TEST 52: where fields are removed (inherited from the server), the module's own answers that are not JSON go out: metrics, the catalog page
They were 502 problems: the metrics text and the catalog's HTML page are
not an upstream's mislabelled JSON.
--- http_config
    api_led_metrics_zone api_led:1m;
--- config
    api_led_response_json remove /password;
    location = /metrics {
        api_led_metrics;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request eval
["GET /metrics", "GET /catalog"]
--- more_headers eval
["", "Accept: text/html"]
--- error_code eval
[200, 200]
--- response_headers_like eval
["Content-Type: text/plain.*", "Content-Type: text/html.*"]
--- no_error_log
response not transformed



=== TEST 53: where fields are removed, a body not labelled JSON of a length not announced goes out when it is empty, is a 502 when it is not
An empty answer up to the upstream's close (HTTP/1.0) or chunked (HTTP/1.1)
was a 502: nothing in it to hide.  SSI takes the Content-Length off (an
SSI command alone makes the empty body).
--- http_config
    server {
        listen unix:$TEST_NGINX_HTML_DIR/ssi.sock;
        default_type text/plain;
        ssi on;
        ssi_types text/plain;
        root html;
    }
--- config
    location /t/ {
        api_led_response_json remove /password;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/ssi.sock:/;
    }
    location /h11/ {
        api_led_response_json remove /password;
        proxy_http_version 1.1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/ssi.sock:/;
    }
--- user_files eval
[["empty.txt", '<!--# set var="x" value="1" -->'],
 ["pw.txt", '{"password":"x"}']]
--- request eval
["GET /t/empty.txt", "GET /h11/empty.txt", "GET /t/pw.txt", "GET /h11/pw.txt"]
--- error_code eval
[200, 200, 502, 502]
--- response_body_like eval
['^$', '^$', '"status":502', '"status":502']
--- response_headers_like eval
["Content-Type: text/plain", "Content-Type: text/plain",
 "Content-Type: application/problem\\+json",
 "Content-Type: application/problem\\+json"]
--- no_error_log
[alert]



=== TEST 54: a deep path set in every element of an upstream's long array: the objects created along it are counted as they are made, the answer of the output bound (1 MB of small objects took 113 MB and passed a 3.2 MB body; 15 KB of empty objects passed)
--- config
    location /tree {
        api_led_response_json_max_size 2m;
        api_led_response_json remove /id;
        api_led_response_json set /items/*/b/c/d/e/f/g/h/i/j/k 1;
        proxy_method GET;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/copies/tree;
    }
    location /light {
        api_led_response_json set /items/*/b/c/d/e/f/g/h/i/j/k 1;
        proxy_method GET;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/copies/light;
    }
--- init
use lib 't/lib';
require ApiLed::Peak;
my ($st, $body, $hwm) = ApiLed::Peak::post_peak('/light', '{}');
Test::More::is($st, 200, 'TEST 54: light: passed unchanged');
Test::More::is($body, $::TinyLight, 'TEST 54: light: the upstream\'s body');
($st, $body, $hwm) = ApiLed::Peak::post_peak('/tree', '{}');
Test::More::is($st, 502, 'TEST 54: tree, fields removed: 502');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 64 * 1024,
                       'TEST 54: tree: peak resident memory under 64 MB');
    Test::More::diag("TEST 54: tree: peak resident memory $hwm kB") if $ENV{TEST_NGINX_VERBOSE};
}
--- request
GET /light
--- response_body eval
$::TinyLight
--- error_log
the transformed document would be larger than 32 times the body), passed through unchanged
response not transformed: the transformed document would be larger than 32 times the body; 502 in its place
