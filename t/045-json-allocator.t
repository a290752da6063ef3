# jansson's allocator is one per process: another user of jansson (here a
# library loaded with LD_PRELOAD that sets its own allocator before nginx
# starts, as another module could) keeps it.  The module's pool-backed
# windows give back the allocator they found; its blocks carry a mark, so
# a value allocated by one allocator and freed by the other crashes nginx.
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use FindBin;

my $dir = tempdir(CLEANUP => 1);
my $so = "$dir/other_user.so";

system("cc -shared -fPIC -o $so $FindBin::Bin/fixtures/jansson/other_user.c"
       . " -ljansson") == 0
    or die "cannot build t/fixtures/jansson/other_user.c\n";

# into nginx only (both runners put TEST_NGINX_LD_PRELOAD before the
# command that starts it)
$ENV{TEST_NGINX_LD_PRELOAD} = $so;
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Up = <<'CONF';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/up.sock;
        default_type application/json;
        location /user { return 200 '{"id":7,"name":"Ada","tags":["a","b"]}'; }
        location /echo {
            client_body_in_single_buffer on;
            proxy_pass http://unix:$TEST_NGINX_HTML_DIR/up.sock:/ret;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Body $request_body;
        }
        location /ret { return 200 '$http_x_body'; }
        location /a { return 200 '{"a":{"x":1},"n":1}'; }
        location /b { return 200 '{"a":{"y":2},"m":2}'; }
    }
    upstream up {
        server unix:$TEST_NGINX_HTML_DIR/up.sock;
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;
    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Up);
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: responses reshaped twice in a row: each window finds the other user's allocator, not malloc
(keep is done on jansson values, not on a light document)
--- config
    location /t {
        api_led_response_json keep /id /name;
        api_led_response_json set /seen json:true;
        proxy_pass http://up/user;
    }
--- request eval
["GET /t", "GET /t"]
--- response_body eval
['{"id":7,"name":"Ada","seen":true}', '{"id":7,"name":"Ada","seen":true}']
--- error_log
api_led: json window opened, jansson allocator: another
api_led: json window closed, jansson allocator given back
--- no_error_log
api_led: json window opened, jansson allocator: malloc
[alert]
[emerg]



=== TEST 2: a request body and a value from a variable (made outside the window by the other allocator, freed inside)
--- config
    location /t {
        api_led_request_json set /who $arg_who;
        api_led_request_json set /n number:$arg_n;
        proxy_pass http://up/echo;
    }
--- request eval
["POST /t?who=ada&n=3\n{\"id\":1,\"list\":[1,2,3]}",
 "POST /t?who=bob&n=4\n{\"id\":2}"]
--- more_headers
Content-Type: application/json
--- response_body eval
['{"id":1,"list":[1,2,3],"who":"ada","n":3}', '{"id":2,"who":"bob","n":4}']
--- no_error_log
api_led: json window opened, jansson allocator: malloc
[alert]



=== TEST 3: a deep merge of two parts, then a reshaped response
--- config
    location /t {
        api_led_compose {
            a /p/a;
            b /p/b;
        }
        api_led_compose_merge deep;
    }
    location /p/ {
        proxy_pass http://up/;
    }
    location /r {
        api_led_response_json set /x 1;
        proxy_pass http://up/user;
    }
--- request eval
["GET /t", "GET /r"]
--- response_body eval
["{\"a\":{\"x\":1,\"y\":2},\"n\":1,\"m\":2}\n", '{"id":7,"name":"Ada","tags":["a","b"],"x":"1"}']
--- no_error_log
api_led: json window opened, jansson allocator: malloc
[alert]
