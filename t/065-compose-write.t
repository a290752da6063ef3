# Writes through a composition: the client's body in parts ({request},
# {request/POINTER}, body=@request), read once and without blocking (in
# memory, in a temporary file, HTTP/1.0, chunked), after the location's
# request transformation; 400 invalid_json and 413; the methods a
# composition answers (405 with Allow, one composition per method set).
# Real services: the customer database (sqlite3) and the CRM that records
# what it received.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Services;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $System = ApiLed::Services::start_system_db();
our $Crm = ApiLed::Services::start_crm();

# a request with a chunked body, one chunk per piece
sub chunked {
    my ($head, @pieces) = @_;
    my $body = join '', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @pieces;
    return "$head\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
           . "Connection: close\r\n\r\n${body}0\r\n\r\n";
}

# a request with a Content-Length body
sub sized {
    my ($head, $type, $body) = @_;
    return "$head\r\nHost: localhost\r\nContent-Type: $type\r\n"
           . "Content-Length: " . length($body) . "\r\nConnection: close"
           . "\r\n\r\n$body";
}

our $HttpConfig = <<'_EOC_';
    upstream system_db {
        server 127.0.0.1:$TEST_NGINX_SYSTEM_PORT;
        keepalive 4;
    }

    upstream crm {
        server 127.0.0.1:$TEST_NGINX_CRM_PORT;
        keepalive 4;
    }

    # what a part received, as JSON (JSON bodies only)
    server {
        listen unix:$TEST_NGINX_HTML_DIR/echo.sock;
        default_type application/json;

        location /echo {
            echo_read_request_body;
            echo '{"method":"$request_method","uri":"$uri","ct":"$http_content_type","cl":"$http_content_length","te":"$http_transfer_encoding","received":$request_body}';
        }

        location /nobody {
            return 200 '{"method":"$request_method","cl":"$http_content_length"}';
        }

        location /coding {
            return 200 '{"method":"$request_method","ce":"$http_content_encoding","ct":"$http_content_type"}';
        }
    }
_EOC_

# the System APIs every block has
our $Systems = <<'_EOC_';
    proxy_http_version  1.1;
    proxy_set_header    Connection "";

    location /echo {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }

    location /nobody {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }

    location /system/customers/ {
        api_led_api      customers-db layer=system;
        api_led_callers  process;
        proxy_pass       http://system_db/customers/;
    }

    location /system/crm/ {
        api_led_api      crm layer=system;
        api_led_callers  process;
        proxy_pass       http://crm/;
    }

    # what the CRM received, for the checks
    location = /crm-received {
        proxy_pass  http://crm/received;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("main_config",
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    $block->set_value("http_config", $::HttpConfig);

    if (defined $block->compose) {
        $block->set_value("config", $block->compose . $::Systems);
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: {request}, {request/POINTER} as values and inside strings
--- compose
    location /t {
        api_led_compose PATCH {
            a POST /echo 'body={"all":{request},"email":{request/email},"name":"{request/first} {request/last}","n":"#{request/n}","tags":{request/tags}}';
        }
    }
--- request
PATCH /t
{"first":"Ada","last":"Lovelace \"Countess\"","email":"ada@example.com","n":7,"tags":["a","b"]}
--- more_headers
Content-Type: application/json
--- response_body
{"a":{"method":"POST","uri":"/echo","ct":"application/json","cl":"190","te":"","received":{"all":{"first":"Ada","last":"Lovelace \"Countess\"","email":"ada@example.com","n":7,"tags":["a","b"]},"email":"ada@example.com","name":"Ada Lovelace \"Countess\"","n":"#7","tags":["a","b"]}}}
--- no_error_log
[error]



=== TEST 2: body=@request forwards the client's body as it is, not JSON, with its Content-Type
--- compose
    location /t {
        api_led_api      contacts layer=process;
        api_led_compose POST {
            crm  "/system/crm/contacts/c-42" body=@request;
        }
    }
--- request eval
["POST /t
name=Ada+Lovelace&note=%7B%22not%22%3A%20json",
"GET /crm-received?correlation_id=t065-raw"]
--- more_headers eval
["Content-Type: application/x-www-form-urlencoded\nX-Correlation-ID: t065-raw", ""]
--- error_code eval
[502, 200]
--- response_body_like eval
[qr/"detail":"required parts failed: crm \(415, send the body as application\/json\)"/,
 qr/^\[\{"time":"[^"]+","method":"POST","path":"\/contacts\/c-42","correlation_id":"t065-raw","content_type":"application\/x-www-form-urlencoded","body":"name=Ada\+Lovelace&note=%7B%22not%22%3A%20json","json":null\}\]$/]



=== TEST 3: several parts use the body: it is read once, each part gets it
--- compose
    location /t {
        api_led_api      contacts layer=process;
        api_led_compose POST {
            crm   "/system/crm/contacts/{request/id}" body=@request;
            echo  POST /echo 'body={"email":{request/email}}';
            plain /nobody;
        }
    }
--- request
POST /t
{"id":"c-7","email":"ada@example.com"}
--- more_headers
Content-Type: application/json
X-Correlation-ID: t065-once
--- response_body
{"crm":{"crm":{"contact_id":"crm-c-7","synced":true,"trace":"t065-once"}},"echo":{"method":"POST","uri":"/echo","ct":"application/json","cl":"27","te":"","received":{"email":"ada@example.com"}},"plain":{"method":"GET","cl":""}}
--- grep_error_log eval
qr/http client request body preread 38\b/
--- grep_error_log_out
http client request body preread 38



=== TEST 4: a body that is not JSON where a pointer needs it: 400 invalid_json, no part runs
--- compose
    location /t {
        api_led_compose PATCH {
            a POST /echo 'body={"email":{request/email}}';
        }
        add_header X-Compose $api_led_compose_status always;
    }
--- request
PATCH /t
{"email": "ada@example.com",
--- error_code: 400
--- response_headers
Content-Type: application/problem+json
X-Compose: a:-
--- response_body_like chomp
^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"[^"]+","correlation_id":"[^"]+"\}$
--- no_error_log
api_led_compose: part



=== TEST 5: no body where a pointer needs one: 400 invalid_json
--- compose
    location /t {
        api_led_compose PATCH {
            a POST /echo 'body={"email":{request/email}}';
        }
    }
--- request
PATCH /t
--- error_code: 400
--- response_body_like chomp
"detail":"the request has no JSON body"



=== TEST 6: a value missing from the body: the part does not run and fails as any placeholder does
--- compose
    location /t {
        api_led_problem_detail full;
        api_led_compose PATCH {
            a POST /echo 'body={"email":{request/email}}';
        }
    }
--- request
PATCH /t
{"name":"Ada"}
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: a \(not run: \{request/email\} not found\)"
--- error_log
api_led_compose: part "a" not run: {request/email} not found



=== TEST 7: a body over client_max_body_size: 413 problem+json, no part runs
--- compose
    location /t {
        client_max_body_size 64;
        api_led_compose PATCH {
            a POST /echo 'body={"email":{request/email}}';
        }
    }
--- raw_request eval
::sized("PATCH /t HTTP/1.1", "application/json",
        '{"email":"' . ('a' x 100) . '@example.com"}')
--- error_code: 413
--- no_error_log
api_led_compose: part



=== TEST 8: a chunked body over client_max_body_size: 413
--- compose
    location /t {
        client_max_body_size 64;
        api_led_compose PATCH {
            a POST /echo 'body={"email":{request/email}}';
        }
    }
--- raw_request eval
::chunked("PATCH /t HTTP/1.1", '{"email":"', 'a' x 50, 'a' x 50, '@example.com"}')
--- error_code: 413
--- no_error_log
api_led_compose: part



=== TEST 9: an HTTP/1.0 request with a body
--- compose
    location /t {
        api_led_compose PATCH {
            a POST /echo 'body={"got":{request}}';
        }
    }
--- raw_request eval
::sized("PATCH /t HTTP/1.0", "application/json", '{"n":1}')
--- response_body
{"a":{"method":"POST","uri":"/echo","ct":"application/json","cl":"15","te":"","received":{"got":{"n":1}}}}



=== TEST 10: a chunked body in several chunks, forwarded with a Content-Length
--- compose
    location /t {
        api_led_compose PATCH {
            raw  POST /echo body=@request;
            doc  POST /echo 'body={"first":{request/names/0}}';
        }
    }
--- raw_request eval
::chunked("PATCH /t HTTP/1.1", '{"names":', '["Ada",', '"Grace"]}')
--- response_body
{"raw":{"method":"POST","uri":"/echo","ct":"","cl":"25","te":"","received":{"names":["Ada","Grace"]}},"doc":{"method":"POST","uri":"/echo","ct":"application/json","cl":"15","te":"","received":{"first":"Ada"}}}
--- no_error_log
[error]



=== TEST 11: a body nginx keeps in a temporary file
--- compose
    location /t {
        client_body_buffer_size 16;
        client_body_in_file_only clean;
        api_led_compose PUT {
            raw  POST /echo body=@request;
            doc  POST /echo 'body={"id":{request/id}}';
        }
    }
--- request
PUT /t
{"id":"c-42","padding":"more than sixteen bytes of body"}
--- more_headers
Content-Type: application/json
--- response_body
{"raw":{"method":"POST","uri":"/echo","ct":"application/json","cl":"57","te":"","received":{"id":"c-42","padding":"more than sixteen bytes of body"}},"doc":{"method":"POST","uri":"/echo","ct":"application/json","cl":"13","te":"","received":{"id":"c-42"}}}
--- no_error_log
[error]



=== TEST 12: the request transformation runs first: a form becomes JSON, then the parts read it
--- compose
    location /t {
        api_led_request_body_convert form_to_json;
        api_led_request_json rename /mail /email;
        api_led_compose PATCH {
            raw  POST /echo body=@request;
            doc  POST /echo 'body={"email":{request/email}}';
        }
    }
--- request
PATCH /t
mail=ada%40example.com
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- response_body
{"raw":{"method":"POST","uri":"/echo","ct":"application/json","cl":"27","te":"","received":{"email":"ada@example.com"}},"doc":{"method":"POST","uri":"/echo","ct":"application/json","cl":"27","te":"","received":{"email":"ada@example.com"}}}



=== TEST 13: the transformation's limit applies first: 413 body_too_large
--- compose
    location /t {
        api_led_request_json_max_size 16;
        api_led_request_json set /x 1;
        api_led_compose PATCH {
            doc POST /echo 'body={"email":{request/email}}';
        }
    }
--- request
PATCH /t
{"email":"ada@example.com"}
--- error_code: 413
--- response_body_like chomp
"type":"urn:api-led:error:body_too_large"



=== TEST 14: a write through the layers: Experience -> Process -> System (sqlite3), the record read back
--- compose
    location ~ ^/v1/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customers layer=experience;
        api_led_callers  client;
        api_led_compose GET {
            customer "/process/customers/$id";
        }
        api_led_compose PATCH {
            customer PATCH "/process/customers/$id" 'body={"email":{request/email}}';
        }
    }

    location ~ ^/process/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customer layer=process;
        api_led_callers  experience;
        api_led_compose_merge deep;
        api_led_compose GET {
            record "/system/customers/$id";
        }
        api_led_compose PATCH {
            record PATCH "/system/customers/$id" 'body={"email_addr":{request/email}}';
        }
        api_led_response_json rename /cust_id id;
        api_led_response_json rename /email_addr email;
        api_led_response_json keep /id /email /full_name;
    }
--- request eval
["PATCH /v1/customers/c-44
{\"email\":\"alan\@bletchley.example\"}", "GET /v1/customers/c-44"]
--- more_headers
Content-Type: application/json
--- response_body eval
[qq({"customer":{"full_name":"Alan Turing","id":"c-44","email":"alan\@bletchley.example"}}\n),
 qq({"customer":{"full_name":"Alan Turing","id":"c-44","email":"alan\@bletchley.example"}}\n)]
--- no_error_log
[error]



=== TEST 15: methods: GET reads, PATCH writes, others get 405 with Allow
--- compose
    location /t {
        api_led_compose {
            read /nobody;
        }
        api_led_compose PATCH {
            write POST /echo 'body={"w":{request/w}}';
        }
    }
--- request eval
["GET /t", "HEAD /t", "PATCH /t
{\"w\":1}", "DELETE /t", "POST /t
{\"w\":1}"]
--- error_code eval
[200, 200, 200, 405, 405]
--- response_headers eval
["!Allow", "!Allow", "!Allow", "Allow: GET, HEAD, PATCH\nContent-Type: application/problem+json",
 "Allow: GET, HEAD, PATCH"]
--- response_body eval
[qq({"read":{"method":"GET","cl":""}}\n), "",
 qq({"write":{"method":"POST","uri":"/echo","ct":"application/json","cl":"7","te":"","received":{"w":1}}}\n),
 qr/^\{"type":"urn:api-led:error:method_not_allowed","title":"Method not allowed","status":405,"detail":"the method is not allowed here; allowed: GET, HEAD, PATCH","correlation_id":"[^"]+"\}\n$/,
 qr/"status":405/]



=== TEST 16: a composition without methods answers GET and HEAD only: a POST does not write
--- compose
    location /t {
        api_led_api      contacts layer=process;
        api_led_compose {
            crm  POST "/system/crm/contacts/c-99" 'body={"n":1}';
        }
    }
--- request eval
["POST /t
{\"n\":2}", "DELETE /t", "GET /crm-received?correlation_id=t065-no-write"]
--- more_headers
X-Correlation-ID: t065-no-write
--- error_code eval
[405, 405, 200]
--- response_headers eval
["Allow: GET, HEAD", "Allow: GET, HEAD", ""]
--- response_body eval
[qr/"status":405/, qr/"status":405/, "[]\n"]



=== TEST 17: a part's method reaches the composition of that method in the next layer
--- compose
    location /t {
        api_led_api      exp layer=experience;
        api_led_compose PUT {
            p PUT /process/p 'body={"x":{request/x}}';
        }
        api_led_compose DELETE {
            p DELETE /process/p;
        }
    }
    location /process/p {
        api_led_api      proc layer=process;
        api_led_compose PUT {
            got POST /echo 'body={"put":{request/x}}';
        }
        api_led_compose GET {
            got /nobody;
        }
    }
--- request
PUT /t
{"x":[1,2]}
--- response_body
{"p":{"got":{"method":"POST","uri":"/echo","ct":"application/json","cl":"13","te":"","received":{"put":[1,2]}}}}



=== TEST 18: a method the next layer does not answer: its 405 fails the part
--- compose
    location /t {
        api_led_api      exp layer=experience;
        api_led_compose DELETE {
            p DELETE /process/p;
        }
    }
    location /process/p {
        api_led_api      proc layer=process;
        api_led_compose GET {
            got /nobody;
        }
    }
--- request
DELETE /t
--- more_headers
X-Correlation-ID: t065-405
--- error_code: 502
--- response_body
{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"correlation_id":"t065-405"}
--- error_log
api_led_compose: 502 upstream_failed, correlation id "t065-405": required parts failed: p (405, the method is not allowed here; allowed: GET, HEAD)



=== TEST 19: nginx -t: a method twice, in one block or in two
--- config
    location /t {
        api_led_compose GET {
            a /x;
        }
        api_led_compose POST HEAD {
            b /x;
        }
    }
--- must_die
--- error_log eval
qr/method HEAD is answered by another "api_led_compose" of the location in \S+nginx\.conf:\d+/



=== TEST 20: nginx -t: an unknown method
--- config
    location /t {
        api_led_compose FETCH {
            a /x;
        }
    }
--- must_die
--- error_log eval
qr/invalid method "FETCH" of "api_led_compose", must be GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS in \S+nginx\.conf:\d+/



=== TEST 21: nginx -t: "request" and "item" are no part names
--- config
    location /t {
        api_led_compose {
            request /x;
        }
    }
--- must_die
--- error_log eval
qr/part name "request" is reserved for the placeholders \{request\} in \S+nginx\.conf:\d+/



=== TEST 22: status=pass: the System API's 404 and 422 become the client's, through two layers
--- compose
    location ~ ^/v1/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customers layer=experience;
        api_led_compose PATCH {
            customer PATCH "/process/customers/$id" 'body={"email":{request/email}}' status=pass;
        }
    }

    location ~ ^/process/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customer layer=process;
        api_led_callers  experience;
        api_led_compose PATCH {
            record PATCH "/system/customers/$id" 'body={"email_addr":{request/email}}' status=pass;
        }
    }
--- request eval
["PATCH /v1/customers/c-999
{\"email\":\"nobody\@example.com\"}",
"PATCH /v1/customers/c-42
{\"email\":\"not an address\"}"]
--- more_headers eval
["Content-Type: application/json\nX-Correlation-ID: t065-404",
 "Content-Type: application/json\nX-Correlation-ID: t065-422"]
--- error_code eval
[404, 422]
--- response_headers eval
["Content-Type: application/problem+json", "Content-Type: application/problem+json"]
--- response_body eval
[qq({"type":"urn:api-led:error:not_found","title":"Not found","status":404,"correlation_id":"t065-404"}\n),
 qq({"type":"urn:api-led:error:unprocessable_content","title":"Unprocessable content","status":422,"correlation_id":"t065-422"}\n)]



=== TEST 23: the detail of a passed status is in the error log, at info, with the correlation id
--- compose
    location ~ ^/v1/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customers layer=experience;
        api_led_compose PATCH {
            customer PATCH "/process/customers/$id" 'body={"email":{request/email}}' status=pass;
        }
    }

    location ~ ^/process/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customer layer=process;
        api_led_callers  experience;
        api_led_compose PATCH {
            record PATCH "/system/customers/$id" 'body={"email_addr":{request/email}}' status=pass;
        }
    }
--- request
PATCH /v1/customers/c-42
{"email":"not an address"}
--- more_headers
Content-Type: application/json
X-Correlation-ID: t065-422-log
--- error_code: 422
--- error_log
[info]
api_led_compose: 422 unprocessable_content, correlation id "t065-422-log": required parts failed: customer (422, required parts failed: record (422, the customer record is not valid))
--- no_error_log
[error]



=== TEST 24: without status=pass a part's 404 is the composition's 502
--- config
    location ~ ^/process/customers/(?<id>c-[0-9]+)$ {
        api_led_api      customer layer=experience;
        api_led_compose {
            record "/system/customers/$id";
        }
    }
    location /system/customers/ {
        api_led_api      customers-db layer=system;
        proxy_pass       http://system_db/customers/;
    }
--- request
GET /process/customers/c-999
--- error_code: 502
--- response_body_like chomp
^\{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"correlation_id":"[^"]+"\}$



=== TEST 25: status=pass passes 4xx only, and never 401: the gateway's own credentials are no client error
--- config
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            a /sys/401 status=pass;
        }
    }
    location /u {
        api_led_problem_detail full;
        api_led_compose {
            a /sys/503 status=pass;
        }
    }
    location /sys/401 {
        internal;
        return 401;
    }
    location /sys/503 {
        internal;
        return 503;
    }
--- request eval
["GET /t", "GET /u"]
--- error_code eval
[502, 502]
--- response_body_like eval
[qr/"detail":"required parts failed: a \(401\)"/, qr/"detail":"required parts failed: a \(503\)"/]



=== TEST 26: the first required part with status=pass decides; a part without it does not
--- config
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            a /sys/409;
            b /sys/404 status=pass;
            c /sys/410 status=pass;
        }
    }
    location /sys/404 {
        internal;
        return 404;
    }
    location /sys/409 {
        internal;
        return 409;
    }
    location /sys/410 {
        internal;
        return 410;
    }
--- request
GET /t
--- error_code: 404
--- response_body_like chomp
^\{"type":"urn:api-led:error:not_found","title":"Not found","status":404,"detail":"required parts failed: a \(409\), b \(404\), c \(410\)","correlation_id":"[^"]+"\}$



=== TEST 27: api_led_problem_detail: full in an Experience API shows the parts; public in a Process API hides them
--- config
    location /exp {
        api_led_api  e layer=experience;
        api_led_problem_detail full;
        api_led_compose {
            a /sys/404;
        }
    }
    location /proc {
        api_led_api  p layer=process;
        api_led_problem_detail public;
        api_led_compose {
            a /sys/404;
        }
    }
    location /sys/404 {
        internal;
        return 404;
    }
--- request eval
["GET /exp", "GET /proc"]
--- more_headers
X-Correlation-ID: t065-detail
--- error_code eval
[502, 502]
--- response_body eval
[qq({"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"required parts failed: a (404)","correlation_id":"t065-detail"}\n),
 qq({"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"correlation_id":"t065-detail"}\n)]



=== TEST 28: a layer violation in a public location names no layer rule; the log does
--- config
    location /system/db {
        api_led_api      db layer=system;
        api_led_callers  process;
        api_led_problem_detail public;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/nobody;
    }
--- request
GET /system/db
--- more_headers
X-Correlation-ID: t065-layer
--- error_code: 403
--- response_body
{"type":"urn:api-led:error:layer_violation","title":"Layer violation","status":403,"correlation_id":"t065-layer"}
--- error_log
api_led: layer violation: api "db" called by a client, allowed callers: process



=== TEST 29: the client's Content-Encoding goes with its body (body=@request) only: a body the module made is not coded
--- compose
    location /t {
        api_led_compose POST {
            raw   POST /coding body=@request;
            made  POST /coding 'body={"n":1}';
            none  /coding;
        }
    }
    location /coding {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- raw_request eval
"POST /t HTTP/1.1\r
Host: localhost\r
Content-Type: application/json\r
Content-Encoding: gzip\r
Content-Length: 4\r
Connection: close\r
\r
\x1f\x8b\x08\x00"
--- response_body
{"raw":{"method":"POST","ce":"gzip","ct":"application/json"},"made":{"method":"POST","ce":"","ct":"application/json"},"none":{"method":"GET","ce":"","ct":""}}
