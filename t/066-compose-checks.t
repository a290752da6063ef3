# What nginx -t checks in a composition beyond its parts: body templates
# are JSON (placeholders as values, and inside strings as text); a
# composition is the location's only content handler, whatever the order
# of the directives; a part whose path is literal goes to a location whose
# api_led_callers allows the composition's layer.  Each message names the
# file and the line.  And what the templates render at run time, and what
# the catalog says of a location with several compositions.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Backend = <<'_EOC_';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location /record {
            return 200 '{"first_name":"Ada","last_name":"Lovelace","n":7,"ok":true,"nil":null,"tags":["a","b"],"quote":"say \\"hi\\"\\n","path":"a/b"}';
        }

        location /echo {
            echo_read_request_body;
            echo '{"received":$request_body}';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("main_config",
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    if (!defined $block->http_config) {
        $block->set_value("http_config", $::Backend);
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: placeholders inside strings insert their value's text, escaped; as values, the value
--- config
    location /t {
        api_led_compose {
            record /sys/record;
            out POST /sys/echo 'body={"name":"{record/first_name} {record/last_name}","label":"#{record/n}: {record/ok}/{record/nil}","tags":"{record/tags}","q":"<{record/quote}>","v":{record/tags},"key {record/n}":1}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body
{"record":{"first_name":"Ada","last_name":"Lovelace","n":7,"ok":true,"nil":null,"tags":["a","b"],"quote":"say \"hi\"\n","path":"a/b"},"out":{"received":{"name":"Ada Lovelace","label":"#7: true/null","tags":"[\"a\",\"b\"]","q":"<say \"hi\"\n>","v":["a","b"],"key {record/n}":1}}}
--- no_error_log
[error]



=== TEST 2: nginx variables inside strings are JSON-escaped
--- config
    location /t {
        api_led_compose {
            out POST /sys/echo 'body={"who":"$http_x_who","x":"a $arg_x b"}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t?x=%22%7D
--- more_headers
X-Who: "quoted" \ name
--- response_body
{"out":{"received":{"who":"\"quoted\" \\ name","x":"a %22%7D b"}}}



=== TEST 3: a template missing its closing brace fails nginx -t
--- config
    location /t {
        api_led_compose {
            a POST /x 'body={"id":{a0/id}';
            a0 /y;
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: "," or "\}" expected at character 14 \(""\) in \S+nginx\.conf:\d+/



=== TEST 4: text after the document
--- config
    location /t {
        api_led_compose {
            a POST /x 'body={"id":1} x';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: data after the document at character 10 \("x"\) in \S+nginx\.conf:\d+/



=== TEST 5: an nginx variable outside a string
--- config
    location /t {
        api_led_compose {
            a POST /x 'body={"n":$arg_n}';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: an nginx variable outside a JSON string \(write it inside quotes\) at character 6 in \S+nginx\.conf:\d+|the body of part "a" is not JSON: an nginx variable outside a JSON string \(write it inside quotes\) at character 6 \("\$arg_n\}"\) in \S+nginx\.conf:\d+/



=== TEST 6: not JSON at all: a form template
--- config
    location /a {
        api_led_compose {
            a POST /x 'body=name=ada';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: invalid literal at character 1 \("name=ada"\) in \S+nginx\.conf:\d+/



=== TEST 7: a bad escape in a string
--- config
    location /a {
        api_led_compose {
            a POST /x 'body={"a":"\\q"}';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: invalid escape at character 7/



=== TEST 8: a trailing comma
--- config
    location /a {
        api_led_compose {
            a POST /x 'body=[1,2,]';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: invalid value at character 6/



=== TEST 9: a number JSON does not know
--- config
    location /a {
        api_led_compose {
            a POST /x 'body={"n":01}';
        }
    }
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: "," or "\}" expected at character 7/



=== TEST 10: a placeholder cannot span the end of a string
--- config
    location /a {
        api_led_compose {
            b /y;
            a POST /x 'body={"a":"{b/x", "c":"}"}';
        }
    }
--- must_die
--- error_log eval
qr/unterminated placeholder/



=== TEST 11: every JSON value is fine, nested, with escapes and \u
--- config
    location /t {
        api_led_compose {
            a POST /sys/echo 'body={"a":[1,-2.5e3,0.1,true,false,null,{},[]],"s":"\\u00e9\\n\\/","e":{"x":{"y":[{"z":"-"}]}}}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body
{"a":{"received":{"a":[1,-2.5e3,0.1,true,false,null,{},[]],"s":"\u00e9\n\/","e":{"x":{"y":[{"z":"-"}]}}}}}



=== TEST 12: proxy_pass after api_led_compose fails nginx -t
--- config
    location /t {
        api_led_compose {
            a /sys/a;
        }
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 13: proxy_pass before api_led_compose fails nginx -t
--- config
    location /t {
        proxy_pass http://127.0.0.1:1;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 14: another content handler (echo) after it
--- config
    location /t {
        api_led_compose {
            a /sys/a;
        }
        echo hello;
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 15: two compositions of the same methods
--- config
    location /t {
        api_led_compose {
            a /sys/a;
        }
        api_led_compose {
            b /sys/b;
        }
    }
--- must_die
--- error_log eval
qr/method GET is answered by another "api_led_compose" of the location in \S+nginx\.conf:\d+/



=== TEST 16: an Experience API composing a System API directly: nginx -t names both APIs
--- config
    location /v1/customer {
        api_led_api customer-360 layer=experience;
        api_led_compose {
            profile "/process/profile?id=$arg_id";
            record  "/system/customers?id=$arg_id";
        }
    }
    location /process/profile {
        api_led_api profile layer=process;
        api_led_callers experience;
        return 200 '{}';
    }
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_callers process;
        return 200 '{}';
    }
--- must_die
--- error_log eval
qr/part "record" of api "customer-360" \(layer experience\) calls "\/system\/customers", api "customers-db", whose allowed callers are: process in \S+nginx\.conf:\d+/



=== TEST 17: the lookup is nginx's: regex locations, nested ones, ^~ and exact matches
--- config
    location /v1/ {
        api_led_api exp layer=experience;
        api_led_compose {
            a /data/regex/1;
        }
    }
    location /data/ {
        location /data/regex/ {
            api_led_api nested layer=process;
            api_led_callers experience;
            return 200 '{}';
        }
    }
    location ~ ^/data/regex/\d+$ {
        api_led_api sys layer=system;
        api_led_callers process;
        return 200 '{}';
    }
--- must_die
--- error_log eval
qr/part "a" of api "exp" \(layer experience\) calls "\/data\/regex\/1", api "sys", whose allowed callers are: process in \S+nginx\.conf:\d+/



=== TEST 18: ^~ stops the regular expressions: the prefix location allows the caller
--- config
    location /v1/ {
        api_led_api exp layer=experience;
        api_led_compose {
            a /data/regex/1;
            b /exact;
        }
    }
    location ^~ /data/ {
        api_led_api nested layer=process;
        api_led_callers experience;
        return 200 '{"a":1}';
    }
    location ~ ^/data/regex/\d+$ {
        api_led_api sys layer=system;
        api_led_callers process;
        return 200 '{}';
    }
    location = /exact {
        api_led_api exact layer=process;
        api_led_callers experience;
        return 200 '{"b":1}';
    }
    location /exact {
        api_led_callers process;
        return 200 '{}';
    }
--- request
GET /v1/
--- response_body
{"a":{"a":1},"b":{"b":1}}



=== TEST 19: a location without a layer may not compose a System API of process callers
--- config
    location /plain {
        api_led_compose {
            a /system/x;
        }
    }
    location /system/ {
        api_led_api sys layer=system;
        api_led_callers process;
        return 200 '{}';
    }
--- must_die
--- error_log eval
qr/part "a" of api "-" \(layer none\) calls "\/system\/x", api "sys", whose allowed callers are: process in \S+nginx\.conf:\d+/



=== TEST 20: the layer check looks in the composition's own server
--- config
    location /v1/x {
        api_led_api exp layer=experience;
        api_led_compose {
            a /sys/y;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/record;
    }
--- http_config eval
$::Backend . q{
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location /sys/ {
            api_led_callers process;
            return 200 '{}';
        }
    }
}
--- request
GET /v1/x
--- response_body_like chomp
^\{"a":\{"first_name":"Ada"



=== TEST 21: the catalog lists the parts of every composition of a location, with the methods they run for
--- config
    location /v1/customers {
        api_led_api customers layer=experience;
        api_led_compose {
            record  "/system/customers/$arg_id";
        }
        api_led_compose PATCH PUT {
            write   PATCH "/system/customers/$arg_id" body=@request;
        }
    }
    location /system/customers/ {
        api_led_api customers-db layer=system;
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_like eval
qr/"parts":\[\{"name":"record","method":"GET","uri":"\/system\/customers\/\$arg_id","optional":false,"for":\["GET","HEAD"\],"api":"customers-db"\},\{"name":"write","method":"PATCH","uri":"\/system\/customers\/\$arg_id","optional":false,"for":\["PUT","PATCH"\],"api":"customers-db"\}\],"merge":"namespaced"/



=== TEST 22: a template's strings must be UTF-8, as in any JSON the module reads (the parser of bodies reads templates)
--- config eval
"    location /t {
        api_led_compose {
            a POST /x 'body={\"name\":\"caf\xc3(\"}';
        }
    }"
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: invalid UTF-8 in a string at character 13 .* in \S+nginx\.conf:\d+/



=== TEST 23: UTF-8 text and a lone surrogate escape are JSON: sent as written
--- config eval
"    location /t {
        api_led_compose {
            out POST /sys/echo 'body={\"name\":\"caf\xc3\xa9 {record/n}\",\"s\":\"\\\\ud800\"}';
            record /sys/record;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/sys.sock:/;
    }"
--- request
GET /t
--- response_body_like eval
qr/"out":\{"received":\{"name":"caf\xc3\xa9 7","s":"\\ud800"\}\}/
--- no_error_log
[error]



=== TEST 24: nested deeper than the parser's bound (1000 levels)
--- config eval
"    location /t {
        api_led_compose {
            a POST /x 'body=" . ('[' x 1001) . (']' x 1001) . "';
        }
    }"
--- must_die
--- error_log eval
qr/the body of part "a" is not JSON: JSON nested deeper than 1000 levels at character 1001 \("\[\]{15}"\) in \S+nginx\.conf:\d+/



=== TEST 25: a string with a lone surrogate (valid JSON) inside a template's string is sent as its escape, the serializer's
--- config
    location /t {
        api_led_compose {
            record /lone;
            out POST /sys/echo 'body={"t":"<{record/s}>"}';
        }
    }
    location /lone {
        default_type application/json;
        return 200 '{"s":"a\\ud800b\\u00e9"}';
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body
{"record":{"s":"a\ud800b\u00e9"},"out":{"received":{"t":"<a\ud800bé>"}}}
--- no_error_log
[error]
