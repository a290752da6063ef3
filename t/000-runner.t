# Self-test of the Test::Nginx::Socket runner (t/compat or the real one).
# Uses plain nginx features only and standard Test::Nginx::Socket sections;
# TEST 13 proves that --- init runs in package Test::Nginx::Util.

use Test::Nginx::Socket;

repeat_each(2);

# checks per block (per repeat), see the comments at each block
plan tests => repeat_each() * (7 + 3 + 8 + 2 + 4 + 5 + 2 + 2 + 1 + 4 + 2 + 4 + 2);

no_shuffle();
run_tests();

__DATA__

=== TEST 1: status, body, headers and absent headers
# 1 status + 4 headers + 1 body + 1 no_error_log = 7
--- config
    location = /t {
        add_header X-Foo "bar baz";
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
x-foo: bar baz
Content-Type: text/plain
!X-Bar
X-Baz:
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: error_code, response_body_like, response_headers_like
# 1 status + 1 header + 1 body = 3
--- config
    location = /t {
        return 404;
    }
--- request
GET /t
--- error_code: 404
--- response_headers_like
Server: nginx(/\d+\.\d+\.\d+)?
--- response_body_like: 404 Not Found



=== TEST 3: several requests in one block
# 2 x (status + body) + 2 x 2 no_error_log patterns = 8
--- config
    location = /a {
        return 200 "a\n";
    }
    location = /b {
        return 201 "b\n";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a\n", "b\n"]
--- no_error_log eval
[qr/\[(?:error|crit)\]/, "[alert]"]



=== TEST 4: POST body and more_headers (proxied to the same server)
# 1 status + 1 body = 2
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "$request_method $http_x_foo $http_content_length [$http_x_body]\n";
    }
--- more_headers
X-Foo: bar
--- request
POST /echo
hello world
--- response_body
POST bar 11 [hello world]



=== TEST 5: chunked response (sub_filter drops Content-Length) of a user file
# 1 status + 2 headers + 1 body = 4
--- config
    location = /hello.txt {
        sub_filter_types text/plain;
        sub_filter world nginx;
    }
--- user_files
>>> hello.txt
hello world
--- request
GET /hello.txt
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
hello nginx



=== TEST 6: error_log with qr, no_error_log, grep_error_log
# 1 status + 1 grep + 1 error_log + 2 no_error_log = 5
--- config
    location = /t {
        return 200;
    }
--- request
GET /missing.txt
--- error_code: 404
--- error_log eval
qr/open\(\) "[^"]+\/html\/missing\.txt" failed/
--- no_error_log eval
[qr/\[alert\]/, "[crit]"]
--- grep_error_log eval
qr/No such file or directory/
--- grep_error_log_out
No such file or directory



=== TEST 7: user_files in a subdirectory
# 1 status + 1 body = 2
--- config
    location = /t {
        return 200;
    }
--- user_files
>>> foo/bar.txt
hello from a user file
>>> foo/baz.txt
another one
--- request
GET /foo/bar.txt
--- response_body
hello from a user file



=== TEST 8: must_die (bind failures are logged to the configured error_log)
# 1 die + 1 error_log = 2
--- config
    listen 192.0.2.1:$TEST_NGINX_SERVER_PORT bind;
--- must_die
--- error_log eval
qr/\[emerg\] .*bind\(\) to 192\.0\.2\.1:\d+ failed/



=== TEST 9: timeout with abort is not a failure
# 1 error_log = 1
--- config
    location = /t {
        return 200;
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 100ms
--- abort
--- ignore_response
--- error_log
client prematurely closed connection



=== TEST 10: pipelined requests
# 2 x (status + body) = 4
--- config
    location = /a {
        return 200 "a";
    }
    location = /b {
        return 200 "bb";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["a", "bb"]



=== TEST 11: init, chomp and $ServerPort in the expected body
# 1 status + 1 body = 2
--- init
$main::InitRan = ($main::InitRan || 0) + 1;
--- config
    location = /t {
        return 200 "port=$server_port";
    }
--- request
GET /t
--- response_body chomp
port=$ServerPort



=== TEST 12: HEAD request, and a POST body sent in two packets
# 2 x (status + body) = 4
--- config
    location = /t {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/back;
    }
    location = /back {
        return 200 "[$http_x_body]\n";
    }
--- request eval
["HEAD /t", ["POST /t\nhel", {value => "lo", delay_before => 0.01}]]
--- error_code eval
[200, 200]
--- response_body eval
["", "[hello]\n"]



=== TEST 13: --- init runs in package Test::Nginx::Util, as in the real one
# The real Test::Nginx evaluates init code in Test::Nginx::Util: there an
# unqualified get_canon_version() (not exported into main) is found and
# "time" is Perl's (whole seconds), whatever main imported. Init runs once
# a block, after nginx started; nginx serves what it wrote.
# 1 status + 1 body = 2
--- config
    location = /unused {
        return 204;
    }
--- init
my $v = eval { get_canon_version(1, 22, 1) } // 'not found';
my $t = time =~ /^\d+$/ ? 'whole' : 'fraction';
my $f = Test::Nginx::Util::html_dir() . '/init.txt';
open my $out, '>', $f or die "$f: $!";
print $out __PACKAGE__, " $v $t\n";
close $out;
--- request
GET /init.txt
--- response_body
Test::Nginx::Util 1.022001 whole
