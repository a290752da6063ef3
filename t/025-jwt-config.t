# JWT configuration mistakes: nginx -t names the directive, file and line.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $EC = JSON::PP->new->decode(::jwt_slurp("$FindBin::Bin/fixtures/jwt/jwks.json"));
our ($EC256) = grep { $_->{kid} eq 'ec256-1' } @{ $::EC->{keys} };

sub jwks { return ::jwt_json({ keys => [@_] }) }

# a JWKS file in the html dir and a location using it
sub with_keys {
    my ($json) = @_;
    return [["keys.json", $json]];
}

our $LOC = <<'CONF';
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_HTML_DIR/keys.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
CONF

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a key file that does not exist
--- config
    location /t {
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/nope.json;
        return 200;
    }
--- must_die
--- error_log eval
qr/open\(\) "\S+nope\.json" failed .* in \S+nginx\.conf:\d+/



=== TEST 2: a private key is refused (PEM)
--- config
    location /t {
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/ec256.key;
        return 200;
    }
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+ec256\.key" PEM block 1 holds a private key: give the public key only in \S+nginx\.conf:\d+/



=== TEST 3: a private JWK is refused
--- user_files eval
::with_keys(::jwks({ %$::EC256, d => 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+keys\.json" holds private key material \("d"\): give the public key only in \S+nginx\.conf:\d+/



=== TEST 4: RSA keys under 2048 bits are refused
--- config
    location /t {
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/rsa1024.pub;
        return 200;
    }
--- must_die
--- error_log eval
qr/PEM block 1: RSA key of 1024 bits, at least 2048 are required in \S+nginx\.conf:\d+/



=== TEST 5: an HMAC secret under 32 bytes is refused
--- user_files eval
::with_keys(::jwks({ kty => 'oct', k => ::b64u('short secret') }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"\S+keys\.json" "oct" key is shorter than 32 bytes in \S+nginx\.conf:\d+/



=== TEST 6: a kid used twice (here: the same file twice)
--- config
    location /t {
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json $TEST_NGINX_JWT_DIR/jwks.json;
        return 200;
    }
--- must_die
--- error_log eval
qr/"kid" "rsa-1" is not unique in \S+nginx\.conf:\d+/



=== TEST 7: a JWK "alg" that does not fit its key
--- user_files eval
::with_keys(::jwks({ %$::EC256, alg => 'RS256' }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"alg" "RS256" does not fit the key in \S+nginx\.conf:\d+/



=== TEST 8: an EC point that is not on the curve
--- user_files eval
my $x = ::b64u_decode($::EC256->{x});
substr($x, 5, 1) ^= "\x01";
::with_keys(::jwks({ %$::EC256, x => ::b64u($x) }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/invalid EC key \(not a point of P-256\) in \S+nginx\.conf:\d+/



=== TEST 9: coordinates of the wrong size, bad base64url
--- user_files eval
::with_keys(::jwks({ %$::EC256, y => 'AAEC' }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"x" and "y" of a P-256 key must be 32 bytes in \S+nginx\.conf:\d+/



=== TEST 10: an unknown kty, a file without keys, a file that is neither JSON nor PEM
--- user_files eval
::with_keys(::jwks({ kty => 'XYZ', k => 'AAAA' }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/unsupported "kty" "XYZ" in \S+nginx\.conf:\d+/



=== TEST 11: a JWKS with only encryption keys holds no usable key
--- user_files eval
::with_keys(::jwks({ %$::EC256, use => 'enc', alg => 'ECDH-ES' }))
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"\S+keys\.json" holds no key usable for signatures in \S+nginx\.conf:\d+/



=== TEST 12: not a key file
--- user_files
>>> keys.json
hello
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"\S+keys\.json" neither a JWKS \(JSON\) nor PEM public keys in \S+nginx\.conf:\d+/



=== TEST 13: invalid JSON, duplicate members
--- user_files
>>> keys.json
{"keys": [], "keys": []}
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"\S+keys\.json" invalid JSON: duplicate object key.* in \S+nginx\.conf:\d+/



=== TEST 14: "none" and unknown algorithms
--- config
    location /t {
        api_led_jwt_algorithms RS256 none;
        return 200;
    }
--- must_die
--- error_log eval
qr/the "none" algorithm is never accepted in \S+nginx\.conf:\d+/



=== TEST 15: an unknown algorithm
--- config
    location /t {
        api_led_jwt_algorithms RS256 HS1;
        return 200;
    }
--- must_die
--- error_log eval
qr/unknown JWS algorithm "HS1" in \S+nginx\.conf:\d+/



=== TEST 16: token sources
--- config
    location /t {
        api_led_jwt_source header:Authorization body:token;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid token source "body:token", must be "header:NAME", "cookie:NAME" or "query:NAME" in \S+nginx\.conf:\d+/



=== TEST 17: a token source without a name or with odd characters
--- config
    location /t {
        api_led_jwt_source "cookie:a;b";
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid token source "cookie:a;b": use letters, digits, "-", "_" and "." in \S+nginx\.conf:\d+/



=== TEST 18: time claims take no value in api_led_jwt_require
--- config
    location /t {
        api_led_jwt_require exp 123;
        return 200;
    }
--- must_die
--- error_log eval
qr/"exp" takes no value: the time claims are checked with api_led_jwt_leeway in \S+nginx\.conf:\d+/



=== TEST 19: claim names and JSON pointers
--- config
    location /t {
        api_led_jwt_require "/a/b~2" x;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid JSON pointer "\/a\/b~2": "~" must be followed by "0" or "1" in \S+nginx\.conf:\d+/



=== TEST 20: a claim name with a quote
--- config
    location /t {
        api_led_jwt_consumer_claim 'a"b';
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid claim name "a"b" in \S+nginx\.conf:\d+/



=== TEST 21: api_led_jwt_claim_set needs a variable and a pointer
--- http_config
    api_led_jwt_claim_set $role roles/0;
--- config
--- must_die
--- error_log eval
qr/invalid JSON pointer "roles\/0": must be empty or start with "\/" \(RFC 6901\) in \S+nginx\.conf:\d+/



=== TEST 22: a variable defined twice
--- http_config
    api_led_jwt_claim_set $role /roles/0;
    api_led_jwt_claim_set $role /roles/1;
--- config
--- must_die
--- error_log eval
qr/duplicate "role" variable|variable "\$role" is already defined/



=== TEST 23: api_led_jwt_cache: a number or off, http level only
--- http_config
    api_led_jwt_cache lots;
--- config
--- must_die
--- error_log eval
qr/invalid cache size "lots": the number of tokens, 1 to 10000000, or "off" in \S+nginx\.conf:\d+/



=== TEST 24: api_led_jwt_cache in a location
--- config
    location /t {
        api_led_jwt_cache 10;
        return 200;
    }
--- must_die
--- error_log eval
qr/"api_led_jwt_cache" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 25: api_led_jwt_keys_uri is a local URI
--- config
    location /t {
        api_led_jwt_keys_uri https://idp.example.com/jwks;
        return 200;
    }
--- must_die
--- error_log eval
qr/api_led_jwt_keys_uri "https:\/\/idp.example.com\/jwks" must be the URI of a location of this server/



=== TEST 26: api_led_jwt_keys_uri parameters
--- config
    location /t {
        api_led_jwt_keys_uri /jwks valid=1h kid_refetch=0s;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid "kid_refetch" value "0s", at least 1s in \S+nginx\.conf:\d+/



=== TEST 27: api_led_jwt_keys_uri unknown parameter
--- config
    location /t {
        api_led_jwt_keys_uri /jwks ttl=1h;
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid parameter "ttl=1h" in \S+nginx\.conf:\d+/



=== TEST 28: api_led_jwt_max_size bounds
--- config
    location /t {
        api_led_jwt_max_size 8;
        return 200;
    }
--- must_die
--- error_log eval
qr/value must be between 16 and 1048576 in \S+nginx\.conf:\d+/



=== TEST 29: api_led_jwt_keys twice in a location
--- config
    location /t {
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/rsa.pub;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/ec256.pub;
        return 200;
    }
--- must_die
--- error_log eval
qr/"api_led_jwt_keys" directive is duplicate in \S+nginx\.conf:\d+/



=== TEST 30: a valid configuration with everything passes nginx -t
--- http_config
    api_led_jwt_cache 1000;
    api_led_jwt_claim_set $jwt_roles /realm_access/roles;
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json $TEST_NGINX_JWT_DIR/rsa2.pub
                         $TEST_NGINX_JWT_DIR/rsa.crt;
        api_led_jwt_keys_uri /jwks valid=10m kid_refetch=1m;
        api_led_jwt_algorithms RS256 PS256 ES256 EdDSA HS256;
        api_led_jwt_source header:Authorization cookie:jwt query:access_token;
        api_led_jwt_leeway 30s;
        api_led_jwt_require iss https://idp.example.com/;
        api_led_jwt_require aud orders;
        api_led_jwt_require scope "orders:read orders:write";
        api_led_jwt_require /realm_access/roles admin;
        api_led_jwt_require exp;
        api_led_jwt_consumer_claim client_id;
        api_led_jwt_max_size 4k;
        return 200 "ok\n";
    }
    location = /jwks {
        internal;
        return 200 "{}";
    }
--- request
GET /t
--- response_body
ok



=== TEST 31: a "kid" written as a number is refused, even one that no 64-bit integer holds
--- user_files
>>> keys.json
{"keys": [{"kty": "oct", "kid": 1222222222226222222222,
           "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}
--- config eval
$::LOC
--- must_die
--- error_log eval
qr/"kid" is not a string of 1 to \d+ characters in \S+nginx\.conf:\d+/
