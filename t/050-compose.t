# api_led_compose: parts in parallel and in sequence, placeholders in URIs
# and POST bodies, variables and captures, what every part receives
# (correlation id, consumer, no client body), nested compositions, the
# success status and $api_led_compose_status.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# slow parts: 0.4 s each; under valgrind everything is slower
our $Slow = 0.4;
# at least one part's time, below the sum of three (1.2 s), with room for
# a busy machine
our $ParallelRe = $ENV{TEST_NGINX_USE_VALGRIND} ? '(0\.[4-9]|1\.[01])\d*'
                                                 : '0\.[4-9]\d*';

# the System APIs: a second server on a unix socket
our $Backend = <<'_EOC_';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location /slow {
            echo_sleep $arg_s;
            echo '{"part":"$arg_p","slept":$arg_s}';
        }

        location /customers/ {
            return 200 '{"id":"c-42","name":"Ada","tier":"gold"}';
        }

        location /orders {
            return 200 '{"customer":"$arg_customer","count":2,"items":[{"sku":"A-1"},{"sku":"B/2"}]}';
        }

        location /echo {
            return 200 '{"method":"$request_method","uri":"$uri","args":"$args","cid":"$http_x_correlation_id","consumer":"$http_x_consumer_id","cl":"$http_content_length","te":"$http_transfer_encoding"}';
        }

        location /crm {
            echo_read_request_body;
            echo '{"method":"$request_method","ct":"$http_content_type","cid":"$http_x_correlation_id","received":$request_body}';
        }

        location /nothing {
            return 204;
        }

        location /missing {
            return 404;
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->main_config) {
        $block->set_value("main_config",
            "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", $::Backend);
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: namespaced merge in declaration order
--- config
    location /t {
        api_led_api customer-360 layer=experience;
        api_led_compose {
            orders   "/sys/orders?customer=c-1";
            customer /sys/customers/c-1;
            nothing  /sys/nothing;
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body
{"orders":{"customer":"c-1","count":2,"items":[{"sku":"A-1"},{"sku":"B/2"}]},"customer":{"id":"c-42","name":"Ada","tier":"gold"},"nothing":null}
--- response_headers
Content-Type: application/json
X-Compose: orders:200,customer:200,nothing:204
!API-Led-Partial
--- no_error_log
[error]



=== TEST 2: independent parts run in parallel (total close to the slowest, not the sum)
--- config eval
"
    location /t {
        api_led_compose {
            a \"/sys/slow?s=$::Slow&p=a\";
            b \"/sys/slow?s=$::Slow&p=b\";
            c \"/sys/slow?s=$::Slow&p=c\";
        }
        add_header X-Elapsed \$request_time;
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
"
--- request
GET /t
--- response_body eval
qq({"a":{"part":"a","slept":$::Slow},"b":{"part":"b","slept":$::Slow},"c":{"part":"c","slept":$::Slow}}\n)
--- response_headers_like eval
"X-Elapsed: $::ParallelRe"
--- no_error_log
[error]



=== TEST 3: after= runs parts one after the other
--- config eval
"
    location /t {
        api_led_compose {
            c \"/sys/slow?s=$::Slow&p=c\" after=b;
            b \"/sys/slow?s=$::Slow&p=b\" after=a;
            a \"/sys/slow?s=$::Slow&p=a\";
        }
        add_header X-Elapsed \$request_time;
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
"
--- request
GET /t
--- response_body eval
qq({"c":{"part":"c","slept":$::Slow},"b":{"part":"b","slept":$::Slow},"a":{"part":"a","slept":$::Slow}}\n)
--- response_headers_like
X-Elapsed: (1\.[2-9]|[2-9]\.)\d*
--- no_error_log
[error]



=== TEST 4: three steps in sequence: a value into a URI, a document into a POST body
--- config
    location /t {
        api_led_api customer-process layer=process;
        api_led_compose {
            customer /sys/customers/c-1;
            orders   "/sys/orders?customer={customer/id}";
            crm      POST /sys/crm
                     'body={"customer":{customer},"orders":{orders/count},"first_sku":{orders/items/1/sku}}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: trace-4
--- response_body
{"customer":{"id":"c-42","name":"Ada","tier":"gold"},"orders":{"customer":"c-42","count":2,"items":[{"sku":"A-1"},{"sku":"B/2"}]},"crm":{"method":"POST","ct":"application/json","cid":"trace-4","received":{"customer":{"id":"c-42","name":"Ada","tier":"gold"},"orders":2,"first_sku":"B/2"}}}
--- no_error_log
[error]



=== TEST 5: placeholders in a body are JSON values; inside quotes, use a whole string value
--- config
    location /t {
        api_led_compose {
            customer /sys/customers/c-1;
            crm      PUT /sys/crm
                     'body={"id":{customer/id},"name":{customer/name},"tier":{customer/tier},"all":{customer}}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body_like chomp
^\{"customer":\{"id":"c-42","name":"Ada","tier":"gold"\},"crm":\{"method":"PUT","ct":"application/json","cid":"[^"]+","received":\{"id":"c-42","name":"Ada","tier":"gold","all":\{"id":"c-42","name":"Ada","tier":"gold"\}\}\}\}$
--- no_error_log
[error]



=== TEST 6: nginx variables and regex captures in URIs; variables in bodies are JSON-escaped
--- config
    location ~ ^/t/(\w+)$ {
        api_led_compose {
            echo "/sys/echo/$1?expand=$arg_expand";
            crm  POST /sys/crm 'body={"who":"$http_x_who","id":"$1"}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t/c77?expand=orders
--- more_headers
X-Who: say "hi"\ there
--- response_body_like chomp
^\{"echo":\{"method":"GET","uri":"/echo/c77","args":"expand=orders",.*"crm":\{"method":"POST","ct":"application/json","cid":"[^"]+","received":\{"who":"say \\"hi\\"\\\\ there","id":"c77"\}\}\}$
--- no_error_log
[error]



=== TEST 7: a placeholder in the query string is percent-encoded
--- config
    location /t {
        api_led_compose {
            doc  /sys/doc;
            echo "/sys/echo?q={doc/q}&n={doc/n}&t={doc/t}";
        }
    }
    location /sys/doc {
        internal;
        default_type application/json;
        return 200 '{"q":"a b&c=d/e","n":12.5,"t":true}';
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_body_like chomp
"args":"q=a%20b%26c%3Dd%2Fe&n=12\.5&t=true"
--- no_error_log
[error]



=== TEST 8: every part gets the correlation id and the consumer, even outside an API location
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k-acme"]}]}
--- http_config eval
$::Backend . "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;"
--- config
    location /t {
        api_led_api customer-360 layer=experience;
        api_led_auth key;
        api_led_consumer_headers on;
        api_led_compose {
            a /sys/echo/a;
            b /sys/echo/b;
        }
    }
    location /plain {
        api_led_compose {
            a /sys/echo/a;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request eval
["GET /t", "GET /plain"]
--- more_headers eval
["X-API-Key: k-acme\nX-Correlation-ID: cid-8", "X-Correlation-ID: cid-8b"]
--- response_body eval
['{"a":{"method":"GET","uri":"/echo/a","args":"","cid":"cid-8","consumer":"acme","cl":"","te":""},"b":{"method":"GET","uri":"/echo/b","args":"","cid":"cid-8","consumer":"acme","cl":"","te":""}}
',
'{"a":{"method":"GET","uri":"/echo/a","args":"","cid":"cid-8b","consumer":"","cl":"","te":""}}
']
--- no_error_log
[error]



=== TEST 9: the client's body is not sent to the parts (unless they say body=@request)
--- config
    location /t {
        api_led_compose POST {
            a /sys/echo/a;
            crm POST /sys/crm 'body={"n":1}';
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
POST /t
{"client":"body","that":"is long enough to notice"}
--- response_body_like chomp
^\{"a":\{"method":"GET","uri":"/echo/a","args":"","cid":"[^"]+","consumer":"","cl":"","te":""\},"crm":\{"method":"POST","ct":"application/json","cid":"[^"]+","received":\{"n":1\}\}\}$
--- no_error_log
[error]



=== TEST 10: api_led_compose_status sets the success status
--- config
    location /t {
        api_led_compose_status 201;
        api_led_compose {
            a /sys/customers/c-1;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- error_code: 201
--- response_body
{"a":{"id":"c-42","name":"Ada","tier":"gold"}}



=== TEST 11: layered: an Experience composition of a Process composition of System APIs
--- config
    location /v1/customer {
        api_led_api customer-experience layer=experience;
        api_led_compose {
            profile /process/profile;
            summary "/sys/slow?s=0.1&p=summary";
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /process/profile {
        internal;
        api_led_api customer-process layer=process;
        api_led_compose_merge deep;
        api_led_compose {
            customer /sys/customers/c-1;
            orders   "/sys/orders?customer={customer/id}";
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /v1/customer
--- response_body
{"profile":{"id":"c-42","name":"Ada","tier":"gold","customer":"c-42","count":2,"items":[{"sku":"A-1"},{"sku":"B/2"}]},"summary":{"part":"summary","slept":0.1}}
--- response_headers
X-Compose: profile:200,summary:200
--- no_error_log
[error]



=== TEST 12: $api_led_compose_status in the access log
--- http_config eval
$::Backend . q{
    log_format compose '$uri compose=$api_led_compose_status';
}
--- config
    location /t {
        access_log logs/access.log compose;
        api_led_compose {
            customer /sys/customers/c-1;
            orders   "/sys/orders?customer={customer/id}";
            missing  /sys/missing optional;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
GET /t
--- response_headers
API-Led-Partial: missing
--- access_log
/t compose=customer:200,orders:200,missing:404
--- no_error_log
[error]



=== TEST 13: a part that is a static file
--- user_files
>>> doc.json
{"from": "file"}
--- config
    location /t {
        api_led_compose {
            file /doc.json;
        }
    }
--- request
GET /t
--- response_body
{"file":{"from": "file"}}
--- no_error_log
[error]



=== TEST 14: transformations: a part's response is reshaped before the merge, a POST part's body on its way, the composition's own answer last
--- config
    location /t {
        api_led_compose {
            customer /sys/customers/c-1;
            crm      POST /sys/crm 'body={"id":{customer/customer_id}}';
        }
        api_led_response_json remove /crm/cid;
        api_led_response_json set /source gateway;
    }
    location /sys/customers/ {
        internal;
        api_led_response_json rename /id customer_id;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/customers/;
    }
    location /sys/crm {
        internal;
        api_led_request_json set /channel mobile;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/crm;
    }
--- request
GET /t
--- response_body chomp
{"customer":{"name":"Ada","tier":"gold","customer_id":"c-42"},"crm":{"method":"POST","ct":"application/json","received":{"id":"c-42","channel":"mobile"}},"source":"gateway"}
--- no_error_log
[error]



=== TEST 15: HEAD: the parts run, the answer has no body
--- config
    location /t {
        api_led_compose {
            customer /sys/customers/c-1;
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request
HEAD /t
--- response_body
--- response_headers
X-Compose: customer:200
Content-Length: 54
Content-Type: application/json
--- no_error_log
[error]



=== TEST 16: large parts: buffered to a temporary file, and unbuffered
--- user_files eval
[["big.json", '{"items":[' . CORE::join(",", map { qq({"sku":"s$_","cost":$_}) } 1 .. 8000) . ']}']]
--- http_config eval
$::Backend . q{
    server {
        listen unix:$TEST_NGINX_HTML_DIR/files.sock;
        root $TEST_NGINX_HTML_DIR;
        default_type application/json;
    }
}
--- config
    location /t {
        api_led_compose {
            buffered   /buffered/big.json;
            unbuffered /unbuffered/big.json;
        }
        add_header X-Compose $api_led_compose_status;
    }
    location /buffered/ {
        internal;
        proxy_buffers 4 4k;
        proxy_max_temp_file_size 1m;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/files.sock:/;
    }
    location /unbuffered/ {
        internal;
        proxy_buffering off;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/files.sock:/;
    }
--- request
GET /t
--- response_body eval
my $doc = '{"items":[' . CORE::join(",", map { qq({"sku":"s$_","cost":$_}) } 1 .. 8000) . ']}';
qq({"buffered":$doc,"unbuffered":$doc}\n)
--- response_headers
X-Compose: buffered:200,unbuffered:200
--- no_error_log
[error]



=== TEST 17: a client that accepts gzip: the parts do not ask their systems for it (the composition reads JSON), the answer may be gzipped
--- http_config eval
$::Backend . q{
    server {
        listen unix:$TEST_NGINX_HTML_DIR/gzip.sock;
        default_type application/json;
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        gzip_http_version 1.0;

        location /customer {
            return 200 '{"id":"c-42","name":"Ada","ae":"$http_accept_encoding"}';
        }
    }
}
--- config
    location /t {
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
        api_led_compose {
            customer  /gz/customer;
        }
        api_led_compose POST {
            customer  /gz/customer;
            echo      POST /gz/customer 'body={"x":1}';
        }
    }
    location /gz/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/gzip.sock:/;
    }
--- request eval
["GET /t", "POST /t\n{}", "GET /t"]
--- more_headers eval
["Accept-Encoding: gzip", "Accept-Encoding: gzip\nContent-Type: application/json", ""]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Content-Encoding: gzip", "Content-Encoding: gzip", "!Content-Encoding"]
--- response_body_like eval
[qr/^\x1f\x8b/,
 qr/^\x1f\x8b/,
 qr/^\{"customer":\{"id":"c-42","name":"Ada","ae":""\}\}$/]



=== TEST 18: an "if" block of the location answers with the composition (the worker crashed: the block's configuration had none)
--- config
    location /t {
        api_led_compose {
            a /sys/echo/a;
        }
        if ($arg_x) {
            set $y 1;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request eval
["GET /t?x=1", "GET /t"]
--- response_body_like eval
[qr/^\{"a":\{"method":"GET","uri":"\/echo\/a"/,
 qr/^\{"a":\{"method":"GET","uri":"\/echo\/a"/]
--- error_code eval
[200, 200]
--- no_error_log
[alert]



=== TEST 19: a limit_except block that lets a method through: the composition answers it (nginx's static files did, 404)
--- config
    location /t {
        api_led_compose GET {
            a /sys/echo/a;
        }
        api_led_compose POST {
            b /sys/echo/b;
        }
        limit_except GET {
            allow 127.0.0.1;
            deny all;
        }
    }
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
--- request eval
["POST /t\n{}", "GET /t", "PUT /t\n{}"]
--- more_headers
Content-Type: application/json
--- response_body_like eval
[qr/^\{"b":\{"method":"GET","uri":"\/echo\/b"/,
 qr/^\{"a":\{"method":"GET","uri":"\/echo\/a"/,
 qr/.*/]
--- error_code eval
[200, 200, 405]
