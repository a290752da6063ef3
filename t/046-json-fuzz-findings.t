# What the fuzz targets (fuzz/, issue 16) found in the JSON service,
# through nginx: every JSON text one layer writes, the next layer reads.
#
# - a rename to a pointer that does not fit put an array element back
#   over its successor ([1,2] became [1]);
# - a JSON Pointer or a new member name that is not UTF-8 passed nginx -t
#   and answered 500 on every request: refused at nginx -t;
# - a variable that is not UTF-8 in a composition's body template made
#   the part's body invalid JSON: the part does not run;
# - a number placeholder in a URI was copied as its JSON text (1e+300,
#   which a query reads as "1e 300"): percent-encoded;
# - a body template's string that is not UTF-8 passed nginx -t.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# The upstream shows the body it received (through a header, as in
# t/041-request-json.t).
our $Echo = <<'CONF';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/echo.sock;
        client_body_in_single_buffer on;
        location / {
            proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/__ret/;
            proxy_pass_request_body off;
            proxy_pass_request_headers off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body $request_body;
        }
        location ^~ /__ret/ {
            return 200 "$http_x_body\n";
        }
    }

    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location /big {
            return 200 '{"n":1e300,"i":7}';
        }

        location /args {
            return 200 '{"args":"$args"}';
        }

        location /take {
            return 200 '{"ok":true}';
        }
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Echo);
});

our $Parts = <<'_EOC_';
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
_EOC_

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a rename into a place that does not fit leaves an array whole
--- config
    location /t {
        api_led_request_json rename /0 /a/b;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
POST /t
[1,2,3]
--- response_body
[1,2,3]



=== TEST 2: a JSON Pointer that is not UTF-8 fails nginx -t
--- config eval
"
    location /t {
        api_led_request_json remove /a\xff;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
"
--- must_die
--- error_log eval
qr/is not UTF-8/



=== TEST 3: a new member name that is not UTF-8 fails nginx -t
--- config eval
"
    location /t {
        api_led_request_json rename /a b\xff;
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
"
--- must_die
--- error_log eval
qr/new name "b\xff" in "rename" is not UTF-8/



=== TEST 4: a variable that is not UTF-8 in a body template: the part does not run
--- config eval
q{
    location /t {
        api_led_compose {
            p POST /sys/take 'body={"name":"$http_x_name"}';
        }
    }
} . $::Parts
--- request
GET /t
--- more_headers eval
"X-Name: caf\xe9"
--- error_code: 502
--- response_body_like chomp
required parts failed: p \(not run: a variable's value is not UTF-8 text\)



=== TEST 5: the same variable in UTF-8: the part runs
--- config eval
q{
    location /t {
        api_led_compose {
            p POST /sys/take 'body={"name":"$http_x_name"}';
        }
    }
} . $::Parts
--- request
GET /t
--- more_headers eval
"X-Name: caf\xc3\xa9"
--- response_body
{"p":{"ok":true}}



=== TEST 6: a number placeholder in a URI is percent-encoded
--- config eval
q{
    location /t {
        api_led_compose {
            a /sys/big;
            b "/sys/args?n={a/n}&i={a/i}";
        }
    }
} . $::Parts
--- request
GET /t
--- response_body
{"a":{"n":1e300,"i":7},"b":{"args":"n=1e%2B300&i=7"}}



=== TEST 7: a body template's string that is not UTF-8 fails nginx -t
--- config eval
qq{
    location /t {
        api_led_compose {
            p POST /sys/take 'body={"name":"caf\xe9"}';
        }
    }
} . $::Parts
--- must_die
--- error_log eval
qr/the body of part "p" is not JSON: invalid UTF-8 in a string/
