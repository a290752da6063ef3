# api_led_api, layers, correlation id and the problem+json builder.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the raw upstream (--- tcp_listen) answers with the X-Correlation-ID
# headers it received, one a line, as JSON strings (a part takes them)
our $CIDS = sub {
    my ($req) = @_;
    my @cids = map { /^x-correlation-id:\s*(.*)$/i ? $1 : () }
               split /\r\n/, $req;
    my $body = '[' . join(',', map { qq{"$_"} } @cids) . ']';
    return "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
};

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: api name and layer as variables, inherited from the server
--- config
    api_led_api orders layer=experience version=v2;
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Api "$api_led_api/$api_led_layer";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- response_headers
X-Api: orders/experience
--- no_error_log
[error]



=== TEST 2: a location's own api overrides the server's
--- config
    api_led_api orders layer=experience;
    location /sys {
        api_led_api customers-db layer=system;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Api "$api_led_api/$api_led_layer";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /sys
--- response_headers
X-Api: customers-db/system



=== TEST 3: a valid incoming correlation id is kept, returned and forwarded
--- config
    location /t {
        api_led_api orders layer=experience;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream saw $http_x_correlation_id\n";
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: abc.DEF_123-x
--- response_body
upstream saw abc.DEF_123-x
--- response_headers
X-Correlation-ID: abc.DEF_123-x



=== TEST 4: an invalid incoming correlation id is replaced by a UUID
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream saw $http_x_correlation_id\n";
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: bad id<script>
--- response_body_like chomp
^upstream saw [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$
--- response_headers_like
X-Correlation-ID: ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$



=== TEST 5: a correlation id longer than 128 characters is replaced
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers eval
"X-Correlation-ID: " . ("a" x 129)
--- response_headers_like
X-Correlation-ID: ^[0-9a-f-]{36}$



=== TEST 6: the generated id is the same in the variable, the upstream and the response
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Var $api_led_correlation_id;
    }
    location /echo {
        return 200 "$http_x_correlation_id";
    }
--- request
GET /t
--- response_body_like chomp
^[0-9a-f-]{36}$
--- error_code: 200
--- no_error_log
[error]



=== TEST 7: the correlation id is identical in a subrequest
--- config
    location /t {
        api_led_api orders;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Var $api_led_correlation_id;
    }
    location /m {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/log?main=$api_led_correlation_id;
    }
    location /echo {
        return 200 "ok\n";
    }
    location /log {
        return 204;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: same-id-42
--- response_headers
X-Correlation-ID: same-id-42
X-Var: same-id-42
--- error_log
"GET /log?main=same-id-42 HTTP/1.0"



=== TEST 8: no correlation header outside API locations
--- config
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers
!X-Correlation-ID



=== TEST 9: nginx -t names the file and line of an unknown layer
--- config
    location /t {
        api_led_api orders layer=backend;
        return 200;
    }
--- must_die
--- error_log eval
qr/unknown layer "backend", must be "experience", "process" or "system" in \S+nginx\.conf:\d+/



=== TEST 10: nginx -t rejects an unknown parameter
--- config
    location /t {
        api_led_api orders colour=blue;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid parameter "colour=blue" in \S+nginx\.conf:\d+/



=== TEST 11: nginx -t rejects a bad api name and a duplicate
--- config
    location /t {
        api_led_api "bad name";
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid api name "bad name".* in \S+nginx\.conf:\d+/



=== TEST 12: nginx -t rejects api_led_api twice in one location
--- config
    location /t {
        api_led_api a;
        api_led_api b;
        return 200;
    }
--- must_die
--- error_log eval
qr/"api_led_api" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 13: a location without module directives costs nothing: no request state, no correlation id, even when another location is an API
--- config
    location /api {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream saw [$http_x_correlation_id]\n";
    }
--- request
GET /t
--- response_body
upstream saw []
--- response_headers
!X-Correlation-ID
--- no_error_log
api_led: request state created
api_led: correlation id
[error]



=== TEST 14: an API location makes the state and the correlation id (the debug lines TEST 13 looks for)
--- config
    location /api {
        api_led_api orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream saw [$http_x_correlation_id]\n";
    }
--- request
GET /api
--- response_body_like
^upstream saw \[[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\]$
--- error_log
api_led: request state created
api_led: correlation id



=== TEST 15: a policy outside an API location makes the request state, but no correlation id nobody reads
--- config
    location /t {
        api_led_rate_limit 100r/s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "upstream saw [$http_x_correlation_id]\n";
    }
--- request
GET /t
--- response_body
upstream saw []
--- response_headers
!X-Correlation-ID
RateLimit-Limit: 100
--- error_log
api_led: request state created
--- no_error_log
api_led: correlation id
[error]



=== TEST 16: $api_led_correlation_id read in a location without module directives makes one
--- config
    location /t {
        add_header X-Cid $api_led_correlation_id;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_headers_like
X-Cid: ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$
--- error_log
api_led: correlation id



=== TEST 17: two correlation ids, the first valid: the upstream gets that one only
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: cid-first
X-Correlation-ID: forged id<script>
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::CIDS
--- response_body chomp
["cid-first"]
--- response_headers
X-Correlation-ID: cid-first



=== TEST 18: an invalid one, then a valid one: the valid one is chosen and goes alone
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: bad id
x-correlation-id: cid-second
X-Correlation-ID: cid-third
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::CIDS
--- response_body chomp
["cid-second"]
--- response_headers
X-Correlation-ID: cid-second



=== TEST 19: none valid: the generated one goes alone
--- config
    location /t {
        api_led_api orders;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: bad id
X-Correlation-ID: bad<id>
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::CIDS
--- response_body_like chomp
^\["[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\]$



=== TEST 20: a composition outside an API location: its part gets the chosen id only
--- config
    location /t {
        api_led_compose {
            cids /part;
        }
    }
    location /part {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: cid-first
X-Correlation-ID: forged id<script>
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::CIDS
--- response_body
{"cids":["cid-first"]}



=== TEST 21: a composition in an API location: its part gets the chosen id only
--- config
    location /t {
        api_led_api orders layer=experience;
        api_led_compose {
            cids /part;
        }
    }
    location /part {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
--- request
GET /t
--- more_headers
X-Correlation-ID: forged id<script>
X-Correlation-ID: cid-second
X-Correlation-ID: cid-third
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::CIDS
--- response_body
{"cids":["cid-second"]}
