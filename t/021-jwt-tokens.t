# JWT: where the token comes from, malformed tokens and the RFC 6750 answers.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $OK = ::jwt(alg => 'ES256', key => 'ec256', kid => 'ec256-1',
                claims => { sub => 'alice', exp => time + 3600 });

# a signed token with the exact header and payload texts given
sub signed {
    my ($header, $claims) = @_;
    return ::jwt(header_raw => $header, claims_raw => $claims // '{"sub":"x"}',
                 sign_as => 'ES256', key => 'ec256');
}

sub loc {
    my ($directives) = @_;
    return <<"CONF";
    location /t {
        api_led_api orders layer=experience;
        api_led_auth jwt;
        api_led_jwt_keys \$TEST_NGINX_JWT_DIR/jwks.json;
        $directives
        proxy_set_header X-Sub \$api_led_jwt_claim_sub;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok \$http_x_sub \$http_authorization\\n";
    }
CONF
}

sub bearer { return "Authorization: Bearer $_[0]" }

sub detail { return "\"detail\":\"$_[0]\"" }

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: no token: 401 with a bare Bearer challenge (RFC 6750 3.1)
--- config eval
::loc('')
--- request
GET /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="orders"
Content-Type: application/problem+json
--- response_body_like chomp
^\{"type":"urn:api-led:error:missing_credentials",.*"status":401,



=== TEST 2: another Authorization scheme is no token
--- config eval
::loc('')
--- request
GET /t
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="orders"
--- response_body_like chomp
"type":"urn:api-led:error:missing_credentials"



=== TEST 3: the Bearer scheme is case-insensitive, spaces around the token are fine
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Authorization: bearer $::OK", "Authorization: BEARER    $::OK  "]
--- response_body_like eval
["^ok alice \$", "^ok alice \$"]



=== TEST 4: "Bearer" without a token is an invalid token
--- config eval
::loc('')
--- request
GET /t
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="orders", error="invalid_token", error_description="the token is not a compact JWS"



=== TEST 5: token from a cookie; the Authorization header is then not looked at
--- config eval
::loc('api_led_jwt_source cookie:session;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["Cookie: theme=dark; session=$::OK; x=1", ::bearer($::OK)]
--- error_code eval
[200, 401]
--- response_body_like eval
["^ok alice", "missing_credentials"]



=== TEST 6: token from a query argument
--- config eval
::loc('api_led_jwt_source query:access_token;')
--- request eval
["GET /t?x=1&access_token=$::OK", "GET /t?access_token=garbage"]
--- error_code eval
[200, 401]
--- response_body_like eval
["^ok alice", ::detail("the token is not a compact JWS")]



=== TEST 7: token from another header, with or without the Bearer scheme
--- config eval
::loc('api_led_jwt_source header:X-Access-Token;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-Access-Token: $::OK", "X-Access-Token: Bearer $::OK"]
--- response_body_like eval
["^ok alice", "^ok alice"]



=== TEST 8: several sources: every source is read; two different tokens are ambiguous, the same one twice is one
--- config eval
::loc('api_led_jwt_source header:X-Token cookie:jwt header:Authorization;')
--- request eval
[("GET /t") x 5]
--- more_headers eval
["X-Token: not-a-jwt\r\nCookie: jwt=$::OK",
 "Cookie: jwt=$::OK\r\nAuthorization: Bearer garbage",
 ::bearer($::OK),
 "Cookie: a=1; jwt=$::OK",
 "X-Token: $::OK\r\nCookie: jwt=$::OK\r\n" . ::bearer($::OK)]
--- error_code eval
[401, 401, 200, 200, 200]
--- response_body_like eval
["ambiguous_credentials", "ambiguous_credentials", "^ok alice", "^ok alice", "^ok alice"]



=== TEST 9: wrong number of parts; five parts are a JWE
--- config eval
::loc('')
--- request eval
[("GET /t") x 6]
--- more_headers eval
[::bearer("abc"), ::bearer("a.b"), ::bearer("a.b.c.d"), ::bearer("a.b.c.d.e"),
 ::bearer("a.b.c.d.e.f"), ::bearer(".e30.sig")]
--- error_code eval
[(401) x 6]
--- response_body_like eval
[::detail("the token is not a compact JWS"), ::detail("the token is not a compact JWS"),
 ::detail("the token is not a compact JWS"), ::detail("encrypted tokens \\(JWE\\) are not accepted"),
 ::detail("the token is not a compact JWS"), ::detail("the token is not a compact JWS")]



=== TEST 10: characters outside base64url, padding, non-canonical encodings
"e30=" is padded, "e31" has non-zero unused bits (same bytes as "e30").
--- config eval
::loc('')
--- request eval
[("GET /t") x 5]
--- more_headers eval
my ($h, $p, $s) = split /\./, $::OK;
[::bearer("$h.$p.$s+"), ::bearer("e30=.$p.$s"), ::bearer("e31.$p.$s"),
 ::bearer("$h.$p.${s}AAA"), ::bearer("e/0.$p.$s")]
--- error_code eval
[(401) x 5]
--- response_body_like eval
[::detail("the token is not a compact JWS"), ::detail("the token is not a compact JWS"),
 ::detail("the token header is not valid base64url"),
 ::detail("the token signature is not valid base64url"),
 ::detail("the token is not a compact JWS")]



=== TEST 11: the header must be one JSON object without duplicate members
--- config eval
::loc('')
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::signed('not json')), ::bearer(::signed('["ES256"]')),
 ::bearer(::signed('{"alg":"ES256","alg":"none"}')),
 ::bearer(::signed('{"alg":"ES256","kid":"ec256-1","kid":"hs-1"}'))]
--- error_code eval
[(401) x 4]
--- response_body_like eval
[::detail("the token header is not JSON"), ::detail("the token header is not a JSON object"),
 ::detail("the token header has a duplicate member"), ::detail("the token header has a duplicate member")]



=== TEST 12: the payload must be one JSON object without duplicate members
--- config eval
::loc('')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::signed('{"alg":"ES256"}', '{"sub":"alice","sub":"admin"}')),
 ::bearer(::signed('{"alg":"ES256"}', '["sub"]')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":"alice"}'))]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
[::detail("the token payload has a duplicate member"),
 ::detail("the token payload is not a JSON object"), "^ok alice"]



=== TEST 13: crit and b64 are refused (RFC 7515 4.1.11, RFC 7797)
--- config eval
::loc('')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::signed('{"alg":"ES256","crit":["exp"],"exp":1}')),
 ::bearer(::signed('{"alg":"ES256","crit":[]}')),
 ::bearer(::signed('{"alg":"ES256","b64":false,"crit":["b64"]}'))]
--- error_code eval
[(401) x 3]
--- response_body_like eval
[::detail("the token header has critical extensions"),
 ::detail("the token header has critical extensions"),
 ::detail("the token header has critical extensions")]



=== TEST 14: b64 without crit is refused too
--- config eval
::loc('')
--- request
GET /t
--- more_headers eval
::bearer(::signed('{"alg":"ES256","b64":true}'))
--- error_code: 401
--- response_body_like chomp
"detail":"unencoded payloads \(b64\) are not accepted"



=== TEST 15: alg missing or unknown, kid not a string
--- config eval
::loc('')
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::signed('{"typ":"JWT"}')), ::bearer(::signed('{"alg":"HS1024"}')),
 ::bearer(::signed('{"alg":"ES256","kid":7}')), ::bearer(::signed('{"alg":["ES256"]}'))]
--- error_code eval
[(401) x 4]
--- response_body_like eval
[::detail("the token header has no alg"), ::detail("the token alg is not supported"),
 ::detail("the token kid is not a string"), ::detail("the token header has no alg")]



=== TEST 16: api_led_jwt_max_size
--- config eval
::loc('api_led_jwt_max_size 128;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::OK), ::bearer(::signed('{"alg":"ES256"}', '{"s":"x"}'))]
--- error_code eval
[401, 200]
--- response_body_like eval
[::detail("the token is too large"), "^ok  "]
--- response_headers eval
["WWW-Authenticate: Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"the token is too large\"",
 "!WWW-Authenticate"]



=== TEST 17: the default max size (8k) takes a large token
--- config eval
::loc('')
--- request
GET /t
--- more_headers eval
::bearer(::jwt(alg => 'ES256', key => 'ec256', claims => { sub => 'big', pad => 'x' x 5000 }))
--- response_body_like chomp
^ok big



=== TEST 18: realm "api" outside an API; every rejection is problem+json with the correlation id
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
Authorization: Bearer YQ.e30.c2ln
X-Correlation-ID: cid-42
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="the token header is not JSON"
Content-Type: application/problem+json
--- response_body
{"type":"urn:api-led:error:invalid_token","title":"Invalid token","status":401,"detail":"the token header is not JSON","correlation_id":"cid-42"}



=== TEST 19: a JWT location without keys is a server error, logged
--- config
    location /t {
        api_led_auth jwt;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers eval
::bearer($::OK)
--- error_code: 500
--- error_log
api_led: JWT authentication without keys: set api_led_jwt_keys or api_led_jwt_keys_uri



=== TEST 20: "key jwt": a token is enough when no API key is sent
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k-1"]}]}
--- config
    location /t {
        api_led_auth key jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        add_header X-Who "$api_led_consumer/$api_led_auth_method";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::OK), "X-API-Key: k-1"]
--- response_headers eval
["X-Who: alice/jwt", "X-Who: acme/key"]



=== TEST 21: the token does not reach the upstream (api_led_jwt_hide on by default); with api_led_jwt_hide off, as sent
--- config eval
::loc('') . q{
    location /u {
        api_led_api orders layer=experience;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_hide off;
        proxy_set_header X-Sub $api_led_jwt_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
}
--- request eval
["GET /t", "GET /u"]
--- more_headers eval
[::bearer($::OK), ::bearer($::OK)]
--- response_body eval
["ok alice \n", "ok alice Bearer $::OK\n"]




=== TEST 22: token texts go through the module's one JSON grammar: nested deeper than 1000 levels is refused like any invalid payload
--- config eval
::loc('')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::signed('{"alg":"ES256"}', '{"sub":"alice","x":' . ('[' x 1000) . (']' x 1000) . '}')),
 ::bearer(::signed('{"alg":"ES256","x":' . ('[' x 1000) . (']' x 1000) . '}')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":"alice","x":' . ('[' x 999) . (']' x 999) . '}'))]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
[::detail("the token payload is not a JSON object"),
 ::detail("the token header is not JSON"), "^ok alice"]



=== TEST 23: valid JSON the parser used to refuse (issue 16, defect 15): a subject beyond 64 bits or a double is its digits, \u0000 escaped
--- config eval
::loc('')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::signed('{"alg":"ES256"}', '{"sub":123456789012345678901234567890}')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":"a\u0000b"}')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":1e400}'))]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["^ok 123456789012345678901234567890 ", '^ok a\\\\u0000b ', "^ok 1e400 "]



=== TEST 24: a subject with a backslash is escaped in $api_led_consumer too: "eve" and CR LF, and the text "eve\r\n", are two consumers (the claim variable keeps the text as it is)
--- config eval
::loc('proxy_set_header X-C $api_led_consumer;') . '
    location = /c {
        api_led_api orders layer=experience;
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_set_header X-C $api_led_consumer;
        proxy_set_header X-Sub $api_led_jwt_claim_sub;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo-c;
    }
    location /echo-c {
        return 200 "consumer=$http_x_c claim=$http_x_sub\n";
    }'
--- request eval
[("GET /c") x 3]
--- more_headers eval
[::bearer(::signed('{"alg":"ES256"}', '{"sub":"eve\r\n"}')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":"eve\\\\r\\\\n"}')),
 ::bearer(::signed('{"alg":"ES256"}', '{"sub":"DOMAIN\\\\ada"}'))]
--- error_code eval
[200, 200, 200]
--- response_body eval
["consumer=eve\\r\\n claim=eve\\r\\n\n",
 "consumer=eve\\\\r\\\\n claim=eve\\r\\n\n",
 "consumer=DOMAIN\\\\ada claim=DOMAIN\\ada\n"]



=== TEST 25: a token from a query argument with a malformed escape is refused, not decoded to the token it would be
nginx's unescaping dropped a "%" it could not decode: "<token>%" and
"%<token>" were the token.
--- config eval
::loc('api_led_jwt_source query:access_token;')
--- request eval
["GET /t?access_token=$::OK%25", "GET /t?access_token=$::OK%", "GET /t?access_token=$::OK%4",
 "GET /t?access_token=%$::OK"]
--- error_code eval
[401, 401, 401, 401]
--- response_body_like eval
[("\"status\":401") x 4]

