# Light documents, the transformations' fast path (json/ngx_api_led_json.h):
# what it writes is what the jansson tree writes, byte for byte (these
# bodies were checked against the module before the light path existed),
# and what it declines goes to the tree: member names repeated, objects of
# more than 64 members, bodies over 16 KB, "keep", text that is no JSON.
# The debug log says which path took a body.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the upstream serves the test's files as JSON, and shows a request body
our $Up = <<'CONF';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/up.sock;
        default_type application/json;
        location /doc/ { alias $TEST_NGINX_HTML_DIR/; }
        location /echo {
            client_body_in_single_buffer on;
            client_body_buffer_size 64k;
            proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/ret;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body $request_body;
        }
        location /ret { return 200 '$http_x_body\n'; }
    }
    upstream up { server unix:$TEST_NGINX_HTML_DIR/up.sock; }
CONF

our $Members = '{' . join(",", map { qq("m$_":$_) } 1 .. 65) . '}';
our $Large = '{"pad":"' . ('x' x 16400) . '","password":"p","id":1}';

# 16 KB of empty objects: the shape that takes jansson the most memory for
# its text; the light path takes it, so the tree must too (its bound is
# 32 times the text and 1 MB)
our $Empties = '[' . ('{},' x 5460) . '{}]';

# 300 objects, some with whitespace: with a request pool of 1 KB, nodes
# come in blocks of 10, 120 blocks for the document
our $Many = '[' . join(",", map { ($_ % 3 ? qq({"i":$_,"s":"v$_","t":true})
                                          : qq( { "i" : $_ , "s" : "v$_" , "t" : true } )) } 1 .. 300) . ']';

add_block_preprocessor(sub {
    my $block = shift;
    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Up);
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the serializer's text: no whitespace, escapes as it writes them, reals shortest, -0 as 0, long numbers as written
--- config
    location /t {
        api_led_response_json set /z 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{ "a" : "x\/y\u00e9\"q\n\t\u001f" , "r" : [ 1.50 , 1e2 , -0 , -0.0 , 0.1 , 12345678901234567890 , 1.0 , 0.00001 , 123456789.123456789 , 0.0001 , 2.5E-3 , 1e400 , 3.14159265358979323846 ] ,
  "s" : "\ud800 \udbff\udfff" , "n" : "a\u0000b" , "k\u00e9y" : true , "e" : [ ] , "o" : { } , "u" : "\u00e9t\u00c9" , "ok" : "été" , "f" : false , "nul" : null }
--- request
GET /t
--- response_body chomp
{"a":"x/yé\"q\n\t\u001f","r":[1.5,100.0,0,-0.0,0.1,12345678901234567890,1.0,0.00001,123456789.123456789,0.0001,0.0025,1e400,3.14159265358979323846],"s":"\ud800 􏿿","n":"a\u0000b","kéy":true,"e":[],"o":{},"u":"étÉ","ok":"été","f":false,"nul":null,"z":"1"}
--- error_log
api_led json: response body, light document
--- no_error_log
[error]
[warn]



=== TEST 2: a member name repeated: the tree takes it (the last value, in the first place)
--- config
    location /t {
        api_led_response_json set /z 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"a":1,"b":2,"a":3}
--- request
GET /t
--- response_body chomp
{"a":3,"b":2,"z":"1"}
--- no_error_log
api_led json: response body, light document
[error]



=== TEST 3: member order: a new name goes last, a name there already keeps its place, a rename to itself goes last
--- config
    location /t {
        api_led_response_json rename /a x;
        api_led_response_json rename /b c;
        api_led_response_json rename /d d;
        api_led_response_json set /e 5;
        api_led_response_json set /n 6;
        api_led_response_json rename /missing y;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"a":1,"b":2,"c":3,"d":4,"e":0,"f":7}
--- request
GET /t
--- response_body chomp
{"c":2,"e":"5","f":7,"x":1,"d":4,"n":"6"}
--- error_log
api_led json: response body, light document



=== TEST 4: moves: into a new object, into an array, back where it was when the new place does not fit
--- config
    location /t {
        api_led_response_json rename /a /p/q/a;
        api_led_response_json rename /l/1 /l2/-;
        api_led_response_json rename /b /s/x;
        api_led_response_json rename /l/0 /s/y;
        api_led_response_json rename /c /l2/7;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"a":{"k":[1]},"b":2,"c":3,"l":[10,11,12],"s":"text","l2":[]}
--- request
GET /t
--- response_body chomp
{"l":[10,12],"s":"text","l2":[11],"p":{"q":{"a":{"k":[1]}}},"b":2,"c":3}
--- error_log
api_led json: response body, light document



=== TEST 5: every element, an index, the end of an array, an index past it, all elements removed
--- config
    location /t {
        api_led_response_json set /items/*/x 'json:{"n":[1,2]}';
        api_led_response_json remove /items/1;
        api_led_response_json set /items/- 'json:{"sku":"new"}';
        api_led_response_json set /items/9 lost;
        api_led_response_json set /items/0/sku first;
        api_led_response_json remove /items/*/x/n/0;
        api_led_response_json remove /tags/*;
        api_led_response_json set /list/*/- 0;
        api_led_response_json set /empty/* 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"items":[{"sku":"a"},{"sku":"b"},{"sku":"c"}],"tags":["t","u"],"list":[[1],[2,3],"x"],"empty":[]}
--- request
GET /t
--- response_body chomp
{"items":[{"sku":"first","x":{"n":[2]}},{"sku":"c","x":{"n":[2]}},{"sku":"new"}],"tags":[],"list":[[1,"0"],[2,3,"0"],"x"],"empty":[]}
--- error_log
api_led json: response body, light document



=== TEST 6: a value set, then changed inside; typed values; names to escape; wrap under a nested path
--- config
    location /t {
        api_led_response_json set /p 'json:{"a":{"b":1,"c":"\u00e9"},"d":[true,null]}';
        api_led_response_json remove /p/a/b;
        api_led_response_json rename /p/a z;
        api_led_response_json set /p/d/0 bool:false;
        api_led_response_json set /q number:-0.50;
        api_led_response_json set /r string:12;
        api_led_response_json set "/we\"ird~1name" "v\"al";
        api_led_response_json set /v $arg_v;
        api_led_response_json wrap /data/inner;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"id":1}
--- request
GET /t?v=a%22b
--- response_body chomp
{"data":{"inner":{"id":1,"p":{"d":[false,null],"z":{"c":"é"}},"q":-0.5,"r":"12","we\"ird/name":"v\"al","v":"a%22b"}}}
--- error_log
api_led json: response body, light document



=== TEST 7: an object of 65 members goes to the tree, with the same result
--- config
    location /t {
        api_led_response_json remove /m2;
        api_led_response_json set /m1 x;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", $::Members]]
--- request
GET /t
--- response_body eval
my $m = $::Members;
$m =~ s/"m1":1/"m1":"x"/;
$m =~ s/"m2":2,//;
$m
--- no_error_log
api_led json: response body, light document
[error]



=== TEST 8: a body over 16 KB goes to the tree
--- config
    location /t {
        api_led_response_json remove /password;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", $::Large]]
--- request
GET /t
--- response_body eval
my $m = $::Large;
$m =~ s/"password":"p",//;
$m
--- no_error_log
api_led json: response body, light document
[error]



=== TEST 9: text that is no JSON: the tree says why, as before
--- config
    location /t {
        api_led_response_json set /z 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"a":[1,2,],"b":"\x"}
--- request
GET /t
--- response_body
{"a":[1,2,],"b":"\x"}
--- error_log
api_led: response is not JSON to transform (invalid value at byte 10), passed through unchanged
--- no_error_log
api_led json: response body, light document



=== TEST 10: invalid UTF-8 and a lone escape in a member name: refused as before
--- config
    location /t {
        api_led_response_json remove /a;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", "{\"a\":1,\"b\":\"\xc3\x28\"}"]]
--- request
GET /t
--- error_code: 502
--- error_log
api_led: response not transformed: invalid UTF-8 in a string at byte 12; 502 in its place
--- no_error_log
api_led json: response body, light document



=== TEST 11: a request body: the same text as the tree writes
--- config
    location /t {
        api_led_request_json rename /name /profile/name;
        api_led_request_json set /items/*/qty number:1;
        api_led_request_json set /note $http_x_note;
        proxy_pass http://up/echo;
    }
--- more_headers
Content-Type: application/json
X-Note: line\u2028
--- request
POST /t
{ "name" : "Ad\u00e1" , "items" : [ {"sku":"a\/b","qty":2.50} , {"sku":"c","qty":-0} ] , "big" : 123456789012345678901 }
--- response_body
{"items":[{"sku":"a/b","qty":1},{"sku":"c","qty":1}],"big":123456789012345678901,"profile":{"name":"Adá"},"note":"line\\u2028"}

--- error_log
api_led json: request body, light document



=== TEST 12: a set's value with a NUL in a member name keeps the whole name, in every copy, on both paths (the tree copied names as C strings)
--- config
    location /t {
        api_led_response_json set /items/* 'json:{"a\u0000b":1}';
        proxy_pass http://up/doc/d.json;
    }
    location /tree {
        api_led_response_json set /items/* 'json:{"a\u0000b":1}';
        api_led_response_json keep /items;
        proxy_pass http://up/doc/d.json;
    }
--- user_files
>>> d.json
{"items":[1,2]}
--- request eval
["GET /t", "GET /tree"]
--- response_body eval
['{"items":[{"a\u0000b":1},{"a\u0000b":1}]}', '{"items":[{"a\u0000b":1},{"a\u0000b":1}]}']



=== TEST 13: 16 KB of empty objects, the most jansson memory a text under the light bound can take: the light path takes it
--- config
    location /t {
        api_led_response_json set /0/x 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", $::Empties]]
--- request
GET /t
--- response_body eval
my $m = $::Empties;
$m =~ s/^\[\{\}/[{"x":"1"}/;
$m
--- error_log
api_led json: response body, light document
--- no_error_log
[error]



=== TEST 14: and the tree takes it too, within its memory bound ("keep" is the tree's)
--- config
    location /t {
        api_led_response_json keep /*;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", $::Empties]]
--- request
GET /t
--- response_body eval
$::Empties
--- no_error_log
api_led json: response body, light document
[error]



=== TEST 15: a request pool of 1 KB: the nodes come in smaller blocks, the text is the same
--- config
    request_pool_size 1k;
    location /t {
        api_led_response_json remove /*/t;
        api_led_response_json set /0/x 1;
        proxy_pass http://up/doc/d.json;
    }
--- user_files eval
[["d.json", $::Many]]
--- request
GET /t
--- response_body eval
'[' . CORE::join(",", map { qq({"i":$_,"s":"v$_") . ($_ == 1 ? ',"x":"1"' : '') . '}' } 1 .. 300) . ']'
--- error_log
api_led json: response body, light document
--- no_error_log
[error]
