# Token smuggling (issue 16, defect 2): every copy of a bearer token is read
# (two headers, two cookies of the name, a header and an argument...); two
# different tokens are 401 ambiguous_credentials, as two API keys are; a
# token that did not prove the request (an API key did, or it was refused)
# never reaches the upstream, whatever api_led_jwt_hide says; a consumed
# one goes nowhere either (api_led_jwt_hide on), not one copy.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

no warnings 'once';

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $OK = ::jwt(alg => 'ES256', key => 'ec256', kid => 'ec256-1',
                claims => { sub => 'alice', exp => time + 3600 });

# what an attacker adds: an unsigned token (alg none)
our $FORGED = ::b64u('{"alg":"none","typ":"JWT"}') . '.'
              . ::b64u('{"sub":"mallory","admin":true}') . '.';

our $Consumers = <<'JSON';
{"consumers": [{"id": "acme", "keys": ["k-acme"]}]}
JSON

# the raw upstream (--- tcp_listen) answers with what it received: the
# request line and every header that may carry a token
our $ECHO = sub {
    my ($req) = @_;
    my @lines = split /\r\n/, $req;
    my $body = join("\n", $lines[0],
                    grep { /^(authorization|x[-_]token|cookie):/i } @lines)
               . "\n";
    return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
};

# the same for the identity the gateway asserts and the API key
our $ECHO_ID = sub {
    my ($req) = @_;
    my @lines = split /\r\n/, $req;
    my $body = join("\n", $lines[0],
                    grep { /^x[-_](consumer[-_]|api[-_]key)/i } @lines)
               . "\n";
    return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
};
sub loc {
    my ($directives) = @_;
    return <<"CONF";
    location /t {
        api_led_api orders layer=experience;
        api_led_jwt_keys \$TEST_NGINX_JWT_DIR/jwks.json;
        $directives
        proxy_pass http://unix:\$TEST_NGINX_HTML_DIR/raw.sock:/up;
    }
CONF
}

sub bearer { return "Authorization: Bearer $_[0]" }

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files", ">>> consumers.json\n$::Consumers");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n");
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a forged second token header: 401 ambiguous_credentials, a bare Bearer challenge
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source header:X-Token;')
--- request
GET /t
--- more_headers eval
"X-Token: $::OK\r\nX-Token: $::FORGED\r\nX-Correlation-ID: cid-smuggle"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="orders"
--- response_body
{"type":"urn:api-led:error:ambiguous_credentials","title":"Ambiguous credentials","status":401,"detail":"the request carries more than one bearer token","correlation_id":"cid-smuggle"}
--- error_log
api_led: the request carries different bearer tokens



=== TEST 2: two cookies of the name, in one Cookie header or in two: ambiguous
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source cookie:jwt;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["Cookie: jwt=$::OK; jwt=$::FORGED",
 "Cookie: a=1; jwt=$::OK\r\nCookie: JWT=$::FORGED",
 "Cookie: a=1, jwt=$::FORGED; jwt=$::OK"]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[("ambiguous_credentials") x 3]



=== TEST 3: a header and an argument, two arguments, an argument of an escaped name: ambiguous
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source header:Authorization query:access_token;')
--- request eval
["GET /t?access_token=$::FORGED", "GET /t?access_token=$::OK&access_token=$::FORGED",
 "GET /t?access_token=$::OK&access%5Ftoken=$::FORGED"]
--- more_headers eval
[::bearer($::OK), "", ""]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[("ambiguous_credentials") x 3]



=== TEST 4: the same token twice is one token; consumed, no copy goes upstream (api_led_jwt_hide on)
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source header:Authorization cookie:jwt;')
--- request
GET /t
--- more_headers eval
::bearer($::OK) . "\r\nCookie: jwt=$::OK; s=1\r\nCookie: JWT=$::OK"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0
Cookie: s=1



=== TEST 5: "key jwt": a valid key proves the request, a forged bearer token does not go upstream, even with api_led_jwt_hide off
--- config eval
::loc('api_led_auth key jwt; api_led_jwt_hide off;')
--- request
GET /t
--- more_headers eval
"X-API-Key: k-acme\r\n" . ::bearer($::FORGED)
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0



=== TEST 6: "key jwt": tokens in every source leave, the rest of the request stays
--- config eval
::loc('api_led_auth key jwt; api_led_jwt_hide off;
        api_led_jwt_source header:X-Token cookie:jwt query:access_token;')
--- request eval
"GET /t?a=1&access%5Ftoken=$::FORGED&b=2&ACCESS_TOKEN=x"
--- more_headers eval
"X-API-Key: k-acme\r\nX-Token: $::FORGED\r\nx-token: y\r\n"
. "Cookie: a=1; jwt=$::FORGED;b=2\r\nCookie: jwt=z\r\nCookie: c=3"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up?a=1&b=2 HTTP/1.0
Cookie: a=1; b=2
Cookie: c=3



=== TEST 7: a refused token does not go upstream when satisfy any lets the request in, even with api_led_jwt_hide off
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source header:Authorization cookie:jwt;
        api_led_jwt_hide off; satisfy any; allow 127.0.0.1; deny all;')
--- request
GET /t
--- more_headers eval
::bearer($::FORGED) . "\r\nCookie: jwt=$::FORGED; s=1"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0
Cookie: s=1
--- error_log
api_led: JWT rejected: unsigned tokens (alg none) are never accepted



=== TEST 8: ambiguous tokens do not go upstream when satisfy any lets the request in, even with api_led_jwt_hide off
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source header:X-Token;
        api_led_jwt_hide off; satisfy any; allow 127.0.0.1; deny all;')
--- request
GET /t
--- more_headers eval
"X-Token: $::OK\r\nX-Token: $::FORGED"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0



=== TEST 9: with underscores_in_headers on, X_Token is an X-Token too (as $http_x_token and CGI read it)
--- config eval
"underscores_in_headers on;\n"
. ::loc('api_led_auth key jwt; api_led_jwt_hide off; api_led_jwt_source header:X-Token;')
--- request
GET /t
--- more_headers eval
"X-API-Key: k-acme\r\nX-Token: $::FORGED\r\nX_Token: $::FORGED\r\nx_token: z"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0



=== TEST 10: with underscores_in_headers on, X_Token and X-Token of different tokens are ambiguous
--- config eval
"underscores_in_headers on;\n"
. ::loc('api_led_auth jwt; api_led_jwt_source header:X-Token;')
--- request
GET /t
--- more_headers eval
"X-Token: $::OK\r\nX_Token: $::FORGED"
--- error_code: 401
--- response_body_like chomp
ambiguous_credentials



=== TEST 11: with api_led_jwt_hide off, a verified token goes on as sent, every copy
--- config eval
::loc('api_led_auth key jwt; api_led_jwt_hide off;
        api_led_jwt_source header:Authorization cookie:jwt;')
--- request
GET /t
--- more_headers eval
::bearer($::OK) . "\r\nCookie: jwt=$::OK"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body eval
"GET /up HTTP/1.0\nAuthorization: Bearer $::OK\nCookie: jwt=$::OK\n"



=== TEST 12: a Basic credential is not a token: it stays beside a valid key
--- config eval
::loc('api_led_auth key jwt;')
--- request
GET /t
--- more_headers
X-API-Key: k-acme
Authorization: Basic YTpi
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up HTTP/1.0
Authorization: Basic YTpi



=== TEST 13: a query source and no arguments at all: no token
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source query:access_token header:X-Token;')
--- request
GET /t
--- error_code: 401
--- response_body_like chomp
"type":"urn:api-led:error:missing_credentials"



=== TEST 14: with underscores_in_headers on, a client's X_Consumer_* headers are X-Consumer-* too: none reaches the upstream, only the gateway's
--- config eval
"underscores_in_headers on;\n"
. ::loc('api_led_auth key; api_led_consumer_headers on;')
--- request
GET /t
--- more_headers eval
"X-API-Key: k-acme\r\nX_Consumer_ID: admin\r\nX_Consumer_Plan: gold\r\nx_consumer-meta_role: root"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO_ID
--- response_body
GET /up HTTP/1.0
X-Consumer-ID: acme



=== TEST 15: with underscores_in_headers on, X_API_Key and X-API-Key of different keys are ambiguous
--- config eval
"underscores_in_headers on;\n"
. ::loc('api_led_auth key;')
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k-acme"]}, {"id": "free", "keys": ["k-free"]}]}
--- request
GET /t
--- more_headers eval
"X-API-Key: k-acme\r\nX_API_Key: k-free"
--- error_code: 401
--- response_body_like chomp
ambiguous_credentials



=== TEST 16: with underscores_in_headers on, X_API_Key is the key, and hidden from the upstream
--- config eval
"underscores_in_headers on;\n"
. ::loc('api_led_auth key; api_led_consumer_headers on;')
--- request
GET /t
--- more_headers eval
"X_API_Key: k-acme"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO_ID
--- response_body
GET /up HTTP/1.0
X-Consumer-ID: acme



=== TEST 17: an argument whose name PHP reads as access_token (".", "+", " " or "[" for "_") is one too: a different token beside the verified one is ambiguous
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source query:access_token;')
--- request eval
["GET /t?access_token=$::OK&access.token=$::FORGED", "GET /t?access_token=$::OK&access+token=$::FORGED",
 "GET /t?access_token=$::OK&access%2Etoken=$::FORGED", "GET /t?access_token=$::OK&access%20token=$::FORGED",
 "GET /t?access_token=$::OK&access[token=$::FORGED"]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_body_like eval
[("ambiguous_credentials") x 5]



=== TEST 18: the same token under such a name is one token, and hidden: no copy goes upstream
--- config eval
::loc('api_led_auth jwt; api_led_jwt_source query:access_token;')
--- request eval
"GET /t?a=1&access_token=$::OK&access.token=$::OK&b=2"
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- response_body
GET /up?a=1&b=2 HTTP/1.0



=== TEST 19: the same for API keys: ?api.key= is PHP's api_key, another key beside it is ambiguous, the same key is hidden with it
--- config eval
::loc('api_led_auth key; api_led_key_source query:api_key;')
--- request eval
["GET /t?api_key=k-acme&api.key=k-other", "GET /t?api_key=k-acme&api+key=k-acme&z=1"]
--- tcp_listen eval: "$ENV{TEST_NGINX_HTML_DIR}/raw.sock"
--- tcp_reply eval: $::ECHO
--- error_code eval
[401, 200]
--- response_body_like eval
["ambiguous_credentials", "^GET /up\\?z=1 HTTP/1.0\n\\z"]
