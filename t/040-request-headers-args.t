# Request headers and query arguments: set, add, remove, rename, variables,
# order of operations, CR/LF in values, inheritance, nginx -t errors.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the upstream: shows what it received (method, URI, some headers)
our $Echo = <<'CONF';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/echo.sock;
        location / {
            return 200 "$request_method $request_uri\na=$http_x_a b=$http_x_b c=$http_x_c new=$http_x_new\nauth=$http_authorization ua=$http_user_agent ct=$http_content_type\n";
        }
    }
CONF

add_block_preprocessor(sub {
    my $block = shift;

    my $http = $block->http_config // "";
    $block->set_value("http_config", $http . $::Echo);
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: set replaces every header of the name, add appends one
--- config
    location /t {
        api_led_request_header set X-A new-a;
        api_led_request_header set X-B from-$arg_who;
        api_led_request_header add X-C extra;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t?who=me
--- more_headers
X-A: old-1
X-A: old-2
X-C: first
--- response_body
GET /up?who=me
a=new-a b=from-me c=first new=
auth= ua= ct=
--- no_error_log
[error]



=== TEST 2: remove and rename, known headers (Authorization, User-Agent) too
--- config
    location /t {
        api_led_request_header remove Authorization;
        api_led_request_header rename User-Agent X-New;
        api_led_request_header remove X-Missing;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- more_headers
Authorization: Bearer secret
User-Agent: agent/1.0
X-A: a
--- response_body
GET /up
a=a b= c= new=agent/1.0
auth= ua= ct=
--- no_error_log
[error]



=== TEST 3: the upstream gets exactly the headers left (raw request)
--- config
    location /t {
        api_led_request_header remove X-A;
        api_led_request_header rename X-B X-Renamed;
        api_led_request_header set X-Set "v 1";
        api_led_request_header add X-Add two;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/mock.sock;
    }
--- request
GET /t
--- more_headers
X-A: 1
X-B: 2
X-Add: one
X-A: 3
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/mock.sock"
--- tcp_query eval
"GET /t HTTP/1.0\r
Host: localhost\r
Connection: close\r
X-Renamed: 2\r
X-Add: one\r
X-Set: v 1\r
X-Add: two\r
\r
"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
--- response_body
ok



=== TEST 4: operations run in the order written
--- config
    location /t {
        api_led_request_header set X-A one;
        api_led_request_header rename X-A X-B;
        api_led_request_header set X-A two;
        api_led_request_header set X-C "$http_x_b+$http_x_a";
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- response_body
GET /up
a=two b=one c=one+two new=
auth= ua= ct=



=== TEST 5: an empty value removes the header, as proxy_set_header does
--- config
    location /t {
        api_led_request_header set X-A $arg_nothing;
        api_led_request_header add X-B $arg_nothing;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/mock.sock;
    }
--- request
GET /t
--- more_headers
X-A: 1
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/mock.sock"
--- tcp_query eval
"GET /t HTTP/1.0\r
Host: localhost\r
Connection: close\r
\r
"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
--- response_body
ok



=== TEST 6: a value with CR/LF (decoded by map from $request_uri) is not set
--- http_config
    map $request_uri $evil {
        ~^/t  "x\r\nX-Injected: 1";
    }
--- config
    location /t {
        api_led_request_header set X-A $evil;
        api_led_request_header set X-B kept;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/mock.sock;
    }
--- request
GET /t
--- more_headers
X-A: original
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/mock.sock"
--- tcp_query eval
"GET /t HTTP/1.0\r
Host: localhost\r
Connection: close\r
X-A: original\r
X-B: kept\r
\r
"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
--- response_body
ok
--- error_log
value of request header "X-A" holds a control character, header not changed



=== TEST 7: a header copied into another, then removed
--- config
    location /t {
        api_led_request_header set X-B "saw $http_x_a";
        api_led_request_header remove X-A;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- more_headers
X-A: token
--- response_body
GET /up
a= b=saw token c= new=
auth= ua= ct=



=== TEST 8: query arguments: set (encoded), remove (every one), rename
--- config
    location /t {
        api_led_request_arg set page "2 & more";
        api_led_request_arg remove debug;
        api_led_request_arg rename q search;
        api_led_request_arg set added $http_x_a;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- request
GET /t?q=books&debug=1&page=1&Debug=2&page=9&x=%20y
--- more_headers
X-A: h/v
--- response_body
GET /t?search=books&page=2%20%26%20more&x=%20y&added=h%2Fv
a=h/v b= c= new=
auth= ua= ct=



=== TEST 9: arguments with a proxy_pass URI, arg variables see the new values
--- config
    location /t {
        api_led_request_arg remove secret;
        api_led_request_arg set v 3;
        api_led_request_header set X-A "v=$arg_v secret=$arg_secret";
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/other;
    }
--- request
GET /t?secret=s&v=1
--- response_body
GET /other?v=3
a=v=3 secret= b= c= new=
auth= ua= ct=



=== TEST 10: no arguments at all: set adds one, remove is harmless
--- config
    location /t {
        api_led_request_arg remove a;
        api_led_request_arg set b 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- request
GET /t
--- response_body
GET /t?b=1
a= b= c= new=
auth= ua= ct=



=== TEST 11: server-level operations are inherited unless a location has its own
--- config
    api_led_request_header set X-A from-server;
    location /t {
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
    location /own {
        api_led_request_header set X-B own;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request eval
["GET /t", "GET /own"]
--- response_body eval
["GET /up\na=from-server b= c= new=\nauth= ua= ct=\n",
 "GET /up\na= b=own c= new=\nauth= ua= ct=\n"]



=== TEST 12: nginx -t: Content-Length is the module's to keep right
--- config
    location /t {
        api_led_request_header set Content-Length 5;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/header "Content-Length" cannot be changed with "set" in \S+nginx\.conf:\d+/



=== TEST 13: nginx -t: unknown operation, bad name, argument count
--- config
    location /t {
        api_led_request_header move X-A X-B;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/unknown header operation "move", must be "set", "add", "remove" or "rename" in \S+nginx\.conf:\d+/



=== TEST 14: nginx -t: an invalid header name
--- config
    location /t {
        api_led_request_header set "X A" 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid header name "X A" in \S+nginx\.conf:\d+/



=== TEST 15: nginx -t: remove takes no value, set needs one
--- config
    location /t {
        api_led_request_arg remove a b;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/invalid number of arguments of argument operation "remove" in \S+nginx\.conf:\d+/



=== TEST 16: nginx -t: "add" is not an argument operation
--- config
    location /t {
        api_led_request_arg add a 1;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- must_die
--- error_log eval
qr/unknown argument operation "add", must be "set", "remove" or "rename" in \S+nginx\.conf:\d+/



=== TEST 17: a subrequest's header changes stay its own (SSI parts)
--- user_files eval
[["page.html", qq([<!--# include virtual="/part1" -->][<!--# include virtual="/part2" -->]\n)]]
--- config
    location /page.html {
        ssi on;
        root html;
    }
    location /part1 {
        api_led_request_header set X-A one;
        api_led_request_header remove User-Agent;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up1;
    }
    location /part2 {
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up2;
    }
--- request
GET /page.html
--- more_headers
X-A: client
User-Agent: agent/2
--- response_body
[GET /up1
a=one b= c= new=
auth= ua= ct=
][GET /up2
a=client b= c= new=
auth= ua=agent/2 ct=
]
--- no_error_log
[error]



=== TEST 18: removals split and empty the header list's parts in place, adds after them
nginx keeps request headers in a list of 20-element parts: here Host,
Connection and 18 headers fill the first part, 7 "X-R" the second; X-Gone
splits the first, the second empties, then 25 adds need new parts.
--- config eval
"    location /t {
        api_led_request_header remove X-Gone;
        api_led_request_header remove X-R;
" . CORE::join("", map { "        api_led_request_header add X-Add a$_;\n" } 1 .. 25) . "
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/mock.sock;
    }"
--- request
GET /t
--- more_headers eval
CORE::join("", map { $_ == 5 ? "X-Gone: g\n" : "X-K$_: k\n" } 1 .. 18)
. CORE::join("", map { "X-R: r$_\n" } 1 .. 7)
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/mock.sock"
--- tcp_query eval
"GET /t HTTP/1.0\r
Host: localhost\r
Connection: close\r
" . CORE::join("", map { "X-K$_: k\r\n" } grep { $_ != 5 } 1 .. 18)
. CORE::join("", map { "X-Add: a$_\r\n" } 1 .. 25) . "\r\n"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
--- response_body
ok
--- no_error_log
[error]



=== TEST 19: escaped argument names are the names: every spelling is set, removed, renamed
--- config
    location /t {
        api_led_request_arg remove secret;
        api_led_request_arg set page 2;
        api_led_request_arg rename q search;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock;
    }
--- request
GET /t?secre%74=s&%53ECRET=t&p%61ge=1&page=9&%71=books&x=%20y
--- response_body
GET /t?page=2&search=books&x=%20y
a= b= c= new=
auth= ua= ct=
--- no_error_log
[error]



=== TEST 20: the gateway's own variables of known headers follow the edits
nginx reads $http_user_agent and $http_referer through pointers in
r->headers_in, $http_cookie and $http_x_forwarded_for through arrays:
after a removal they are empty, after a "set" over two headers they show
the one left.
--- config
    location /t {
        api_led_request_header remove User-Agent;
        api_led_request_header remove Cookie;
        api_led_request_header set X-Forwarded-For 10.0.0.9;
        api_led_request_header set Referer http://kept/;
        api_led_request_header remove X-A;
        add_header X-Seen "ua=[$http_user_agent] ref=[$http_referer] cookie=[$http_cookie] xff=[$http_x_forwarded_for] a=[$http_x_a]" always;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- more_headers
User-Agent: agent/1
Referer: http://one/
Cookie: a=1
X-Forwarded-For: 10.0.0.1
User-Agent: agent/2
Referer: http://two/
Cookie: b=2
X-Forwarded-For: 10.0.0.2
X-A: a
--- response_headers
X-Seen: ua=[] ref=[http://kept/] cookie=[] xff=[10.0.0.9] a=[]
--- response_body
GET /up
a= b= c= new=
auth= ua= ct=
--- no_error_log
[error]



=== TEST 21: a variable read by one operation is read again after a later edit of its header ($http_cookie, $cookie_b)
--- config
    location /t {
        api_led_request_header set Cookie "b=2";
        api_led_request_header add X-A "$http_cookie";
        api_led_request_header rename Cookie Kookie;
        api_led_request_header add X-B "[$http_cookie][$cookie_b]";
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/echo.sock:/up;
    }
--- request
GET /t
--- more_headers
Cookie: a=1
--- response_body
GET /up
a=b=2 b=[][] c= new=
auth= ua= ct=
--- no_error_log
[error]
