# JWT claims: exp/nbf with leeway, api_led_jwt_require (iss, aud, scope, scp,
# equality, presence, variables, JSON pointers), the claim variables and the
# mapping of a claim to a consumer of the consumers file.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $NOW = time;

# a token with these claims (exp in an hour unless given)
sub tok {
    my %c = @_;
    $c{exp} = $::NOW + 3600 unless exists $c{exp};
    delete $c{exp} unless defined $c{exp};
    return ::jwt(alg => 'HS256', kid => 'hs-1', claims => \%c);
}

sub bearer { return "Authorization: Bearer $_[0]" }

sub detail { return "\"detail\":\"$_[0]\"" }

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s"]}},
 "consumers": [
   {"id": "alice", "plan": "gold"},
   {"id": "svc-billing", "plan": "gold"},
   {"id": "42"}
 ]}
JSON

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->user_files) {
        $block->set_value("user_files",
                          ">>> consumers.json\n$::Consumers");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n");
    }
});

sub loc {
    my ($directives) = @_;
    return <<"CONF";
    location /t {
        api_led_api orders;
        api_led_auth jwt;
        api_led_jwt_keys \$TEST_NGINX_JWT_DIR/jwks.json;
        $directives
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\\n";
    }
CONF
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: exp: expired, within the leeway, not a number, fractional
--- config eval
::loc('')
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::tok(sub => 'a', exp => $::NOW - 1)),
 ::bearer(::tok(sub => 'a', exp => "$::NOW")),
 ::bearer(::tok(sub => 'a', exp => $::NOW + 3600.5)),
 ::bearer(::tok(sub => 'a', exp => undef))]
--- error_code eval
[401, 401, 200, 200]
--- response_body_like eval
[::detail("the token has expired"), ::detail("the token exp is not a number"), "ok", "ok"]



=== TEST 2: exp: api_led_jwt_leeway accepts a token expired less than the leeway ago
--- config eval
::loc('api_led_jwt_leeway 1m;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'a', exp => $::NOW - 30)),
 ::bearer(::tok(sub => 'a', exp => $::NOW - 90))]
--- error_code eval
[200, 401]



=== TEST 3: nbf, with and without leeway
--- config eval
::loc('location /t/l { api_led_auth jwt; api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
          api_led_jwt_leeway 60s; proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo; }')
--- request eval
["GET /t", "GET /t/l", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'a', nbf => $::NOW + 30)),
 ::bearer(::tok(sub => 'a', nbf => $::NOW + 30)),
 ::bearer(::tok(sub => 'a', nbf => $::NOW - 1)),
 ::bearer(::tok(sub => 'a', nbf => 'now'))]
--- error_code eval
[401, 200, 200, 401]
--- response_body_like eval
[::detail("the token is not valid yet"), "ok", "ok", ::detail("the token nbf is not a number")]



=== TEST 4: a required exp must be there
--- config eval
::loc('api_led_jwt_require exp;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'a', exp => undef)), ::bearer(::tok(sub => 'a'))]
--- error_code eval
[401, 200]
--- response_body_like eval
[::detail("the token lacks a required claim"), "ok"]
--- response_headers eval
["WWW-Authenticate: Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"the token lacks a required claim\"", "!WWW-Authenticate"]



=== TEST 5: iss is one of the listed issuers
--- config eval
::loc('api_led_jwt_require iss https://idp-a.example https://idp-b.example;')
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::tok(iss => 'https://idp-b.example')),
 ::bearer(::tok(iss => 'https://idp-c.example')),
 ::bearer(::tok(sub => 'no-iss')),
 ::bearer(::tok(iss => ['https://idp-a.example']))]
--- error_code eval
[200, 401, 401, 401]
--- response_body_like eval
["ok", ::detail("the token issuer is not accepted"), ::detail("the token issuer is not accepted"),
 ::detail("the token issuer is not accepted")]



=== TEST 6: aud as a string or an array, any match
--- config eval
::loc('api_led_jwt_require aud orders-api billing-api;')
--- request eval
[("GET /t") x 4]
--- more_headers eval
[::bearer(::tok(aud => 'billing-api')),
 ::bearer(::tok(aud => ['web', 'orders-api'])),
 ::bearer(::tok(aud => ['web', 'mobile'])),
 ::bearer(::tok(aud => 'orders'))]
--- error_code eval
[200, 200, 401, 401]
--- response_body_like eval
["ok", "ok", ::detail("the token audience is not accepted"), ::detail("the token audience is not accepted")]



=== TEST 7: scope: every listed scope must be present, else 403 insufficient_scope
--- config eval
::loc('api_led_jwt_require scope orders:read orders:write;')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::tok(scope => 'profile orders:write orders:read')),
 ::bearer(::tok(scope => 'orders:read orders:readx')),
 ::bearer(::tok(sub => 'no-scope'))]
--- error_code eval
[200, 403, 403]
--- response_headers eval
["!WWW-Authenticate",
 "WWW-Authenticate: Bearer realm=\"orders\", error=\"insufficient_scope\", error_description=\"the token lacks a required scope\", scope=\"orders:write\"",
 "WWW-Authenticate: Bearer realm=\"orders\", error=\"insufficient_scope\", error_description=\"the token lacks a required scope\", scope=\"orders:read\""]
--- response_body_like eval
["ok", "^\\{\"type\":\"urn:api-led:error:insufficient_scope\",\"title\":\"Insufficient scope\",\"status\":403,",
 "\"status\":403"]



=== TEST 8: scp as an array (or a string)
--- config eval
::loc('api_led_jwt_require scp read;')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::tok(scp => ['write', 'read'])), ::bearer(::tok(scp => 'read')),
 ::bearer(::tok(scp => ['write'], scope => 'read'))]
--- error_code eval
[200, 200, 403]



=== TEST 9: the required scope from a variable; an empty value requires nothing
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    map $request_method $need_scope {
        GET      "orders:read";
        OPTIONS  "";
        default  "orders:read orders:write";
    }
--- config eval
::loc('api_led_jwt_require scope $need_scope;')
--- request eval
["GET /t", "POST /t\nx", "OPTIONS /t"]
--- more_headers eval
[(::bearer(::tok(scope => 'orders:read'))) x 3]
--- error_code eval
[200, 403, 200]



=== TEST 10: equality with any other claim: strings, numbers, booleans, array elements
--- config eval
::loc('api_led_jwt_require tenant acme globex;
       api_led_jwt_require level 3;
       api_led_jwt_require email_verified true;
       api_led_jwt_require groups admins;')
--- request eval
[("GET /t") x 6]
--- more_headers eval
my %ok = (tenant => 'globex', level => 3, email_verified => JSON::PP::true,
          groups => ['users', 'admins']);
[::bearer(::tok(%ok)),
 ::bearer(::tok(%ok, tenant => 'initech')),
 ::bearer(::tok(%ok, level => '3')),
 ::bearer(::tok(%ok, email_verified => JSON::PP::false)),
 ::bearer(::tok(%ok, groups => ['users'])),
 ::bearer(::tok(level => 3, email_verified => JSON::PP::true, groups => 'admins'))]
--- error_code eval
[200, 403, 200, 403, 403, 403]
--- response_body_like eval
["ok", ::detail("a token claim is not accepted"), "ok",
 ::detail("a token claim is not accepted"), ::detail("a token claim is not accepted"),
 ::detail("a token claim is not accepted")]



=== TEST 10b: the log names the claim that did not match, never its value
--- config eval
::loc('api_led_jwt_require tenant acme;')
--- request
GET /t
--- more_headers eval
::bearer(::tok(tenant => 'initech-secret'))
--- error_code: 403
--- error_log
api_led: JWT rejected: claim "tenant" does not match
--- no_error_log
initech-secret



=== TEST 11: a value from a request variable; empty never matches
--- config eval
::loc('api_led_jwt_require tenant $http_x_tenant;')
--- request eval
[("GET /t") x 3]
--- more_headers eval
["X-Tenant: acme\r\n" . ::bearer(::tok(tenant => 'acme')),
 "X-Tenant: globex\r\n" . ::bearer(::tok(tenant => 'acme')),
 ::bearer(::tok(tenant => ''))]
--- error_code eval
[200, 403, 403]



=== TEST 12: a nested claim by JSON pointer; presence of a custom claim
--- config eval
::loc('api_led_jwt_require /realm_access/roles orders-admin;
       api_led_jwt_require tenant;')
--- request eval
[("GET /t") x 3]
--- more_headers eval
[::bearer(::tok(tenant => 't', realm_access => { roles => ['x', 'orders-admin'] })),
 ::bearer(::tok(tenant => 't', realm_access => { roles => ['x'] })),
 ::bearer(::tok(realm_access => { roles => ['orders-admin'] }))]
--- error_code eval
[200, 403, 403]
--- response_body_like eval
["ok", ::detail("a token claim is not accepted"), ::detail("the token lacks a required claim")]



=== TEST 13: time is checked before the requirements
--- config eval
::loc('api_led_jwt_require iss good;')
--- request
GET /t
--- more_headers eval
::bearer(::tok(iss => 'bad', exp => $::NOW - 10))
--- error_code: 401
--- response_body_like chomp
"detail":"the token has expired"



=== TEST 14: requirements inherit from the server; a location's own replace them
--- config
    api_led_auth jwt;
    api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
    api_led_jwt_require iss server-idp;
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /own {
        api_led_jwt_require iss own-idp;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        api_led_auth off;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /own", "GET /own"]
--- more_headers eval
[::bearer(::tok(iss => 'server-idp')), ::bearer(::tok(iss => 'server-idp')),
 ::bearer(::tok(iss => 'own-idp'))]
--- error_code eval
[200, 401, 200]



=== TEST 15: $api_led_jwt_claim_NAME: strings as they are, the rest as JSON
--- config eval
::loc('add_header X-Sub $api_led_jwt_claim_sub;
       add_header X-Aud $api_led_jwt_claim_aud;
       add_header X-Level $api_led_jwt_claim_level;
       add_header X-Admin $api_led_jwt_claim_admin;
       add_header X-Org $api_led_jwt_claim_org;
       add_header X-Missing "[$api_led_jwt_claim_missing]";
       add_header X-Note $api_led_jwt_claim_note;')
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'alice', aud => ['a', 'b'], level => 3, admin => JSON::PP::false,
               org => { id => 7, name => 'Acme "Inc"' }, note => "line1\r\nX-Evil: 1"))
--- response_headers
X-Sub: alice
X-Aud: ["a","b"]
X-Level: 3
X-Admin: false
X-Org: {"id":7,"name":"Acme \"Inc\""}
X-Missing: []
X-Note: line1\r\nX-Evil: 1
!X-Evil



=== TEST 16: api_led_jwt_claim_set: nested claims, escaped pointers, the whole set
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_jwt_claim_set $jwt_role    /realm_access/roles/1;
    api_led_jwt_claim_set $jwt_slash   /a~1b;
    api_led_jwt_claim_set $jwt_tilde   /c~0d;
    api_led_jwt_claim_set $jwt_given   /givenName;
    api_led_jwt_claim_set $jwt_bad_idx /realm_access/roles/01;
    api_led_jwt_claim_set $jwt_all     "";
--- config eval
::loc('add_header X-Role $jwt_role;
       add_header X-Slash $jwt_slash;
       add_header X-Tilde $jwt_tilde;
       add_header X-Given "$jwt_given|$api_led_jwt_claim_givenName";
       add_header X-Bad "[$jwt_bad_idx]";
       add_header X-All $jwt_all;')
--- request
GET /t
--- more_headers eval
::bearer(::tok(exp => undef, realm_access => { roles => ['user', 'admin'] }, 'a/b' => 'slash',
               'c~d' => 'tilde', givenName => 'Ada'))
--- response_headers
X-Role: admin
X-Slash: slash
X-Tilde: tilde
X-Given: Ada|
X-Bad: []
X-All: {"a/b":"slash","c~d":"tilde","givenName":"Ada","realm_access":{"roles":["user","admin"]}}



=== TEST 17: claim variables are empty without a verified token
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
    api_led_jwt_claim_set $jwt_role /realm_access/roles/0;
--- config
    location /t {
        return 200 "[$api_led_jwt_claim_sub][$jwt_role]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::tok(sub => 'alice'))
--- response_body
[][]



=== TEST 18: the subject maps to a consumer: consumer, plan and method
--- config eval
::loc('add_header X-Who "$api_led_consumer|$api_led_plan|$api_led_auth_method";')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'alice')), ::bearer(::tok(sub => 'mallory')), ::bearer(::tok(sub => 42))]
--- response_headers eval
["X-Who: alice|gold|jwt", "X-Who: mallory||jwt", "X-Who: 42||jwt"]
--- no_error_log
[error]



=== TEST 19: api_led_jwt_consumer_claim: another claim, or a JSON pointer
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_consumer_claim client_id;
        add_header X-Who "$api_led_consumer|$api_led_plan";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /p {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_consumer_claim /app/id;
        add_header X-Who "$api_led_consumer|$api_led_plan";
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /p", "GET /t"]
--- more_headers eval
[::bearer(::tok(sub => 'alice', client_id => 'svc-billing')),
 ::bearer(::tok(sub => 'alice', app => { id => 'svc-billing' })),
 ::bearer(::tok(sub => 'alice'))]
--- response_headers eval
["X-Who: svc-billing|gold", "X-Who: svc-billing|gold", "X-Who: |"]
