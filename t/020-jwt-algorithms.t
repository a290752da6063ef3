# JWT: known-answer tests (RFC 7515 appendix A, RFC 8037), every JOSE
# signature algorithm with JWKS and PEM keys, and algorithm confusion.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# RFC 7515 A.1-A.4 and RFC 8037 A.4, byte for byte
our %RFC = (
    'A.1' => 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.'
           . 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt'
           . 'cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.'
           . 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    'A.2' => 'eyJhbGciOiJSUzI1NiJ9.'
           . 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt'
           . 'cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.'
           . 'cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7'
           . 'AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4'
           . 'BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K'
           . '0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv'
           . 'hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB'
           . 'p0igcN_IoypGlUPQGe77Rw',
    'A.3' => 'eyJhbGciOiJFUzI1NiJ9.'
           . 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt'
           . 'cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.'
           . 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA'
           . 'pmWQxfKTUJqPP3-Kg6NU1Q',
    'A.4' => 'eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.'
           . 'AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq'
           . 'wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp'
           . 'EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn',
    '8037' => 'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.'
           . 'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B'
           . 'hVsPt9g7sVvpAr_MuM0KAg',
);

# every algorithm: [alg, private key, kid in jwks.json]
our @ALGS = (
    [HS256 => 'hs', 'hs-1'], [HS384 => 'hs', 'hs-1'], [HS512 => 'hs', 'hs-1'],
    [RS256 => 'rsa', 'rsa-1'], [RS384 => 'rsa', 'rsa-1'],
    [RS512 => 'rsa', 'rsa-1'], [PS256 => 'rsa', 'rsa-1'],
    [PS384 => 'rsa', 'rsa-1'], [PS512 => 'rsa', 'rsa-1'],
    [ES256 => 'ec256', 'ec256-1'], [ES384 => 'ec384', 'ec384-1'],
    [ES512 => 'ec521', 'ec521-1'], [EdDSA => 'ed25519', 'ed25519-1'],
    [Ed25519 => 'ed25519', 'ed25519-1'], [Ed448 => 'ed448', 'ed448-1'],
);

our (@KID, @KID_TAMPERED);

for my $a (@::ALGS) {
    my $t = ::jwt(alg => $a->[0], key => $a->[1], kid => $a->[2],
                  claims => { sub => $a->[0], exp => time + 3600 });
    push @KID, $t;
    push @KID_TAMPERED, ::jwt_tamper($t);
}

our $EXP = time + 3600;

# PEM keys carry no kid: each token finds the one key that fits its alg
our @PEM = map {
    ::jwt(alg => $_->[0], key => $_->[1],
          claims => { sub => "pem-$_->[0]", exp => $::EXP })
} ([RS256 => 'rsa'], [PS384 => 'rsa'], [ES256 => 'ec256'],
   [ES384 => 'ec384'], [ES512 => 'ec521'], [EdDSA => 'ed25519'],
   [Ed448 => 'ed448']);

# the classic: HS256 "signed" with the RSA public key file as the secret
our $CONFUSED = ::jwt(alg => 'HS256',
                      secret => ::jwt_slurp("$::JWT_DIR/rsa.pub"),
                      claims => { sub => 'mallory', exp => $::EXP });
our $CONFUSED_KID = ::jwt(alg => 'HS256', kid => 'rsa-1',
                          secret => ::jwt_slurp("$::JWT_DIR/rsa.pub"),
                          claims => { sub => 'mallory', exp => $::EXP });

# a public JWK of the RSA key that says "alg": "RS256" (and one 32-byte
# HMAC secret)
{
    my $jwks = JSON::PP->new->decode(::jwt_slurp("$::JWT_DIR/jwks.json"));
    my ($rsa) = grep { $_->{kid} eq 'rsa-1' } @{ $jwks->{keys} };
    $rsa->{alg} = 'RS256';
    our $PINNED_JWKS = ::jwt_json({ keys => [
        $rsa, { kty => 'oct', kid => 'hs-short', k => ::b64u('k' x 32) } ] });
}

sub loc {
    my ($directives) = @_;
    return <<"CONF";
    location /t {
        api_led_auth jwt;
        $directives
        proxy_set_header X-Sub \$api_led_jwt_claim_sub;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok \$http_x_sub\\n";
    }
CONF
}

sub bearer { return "Authorization: Bearer $_[0]" }

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: RFC 7515 A.1 (HS256) verifies; its exp (2011) needs a large leeway
The example token expired in March 2011: a 100-year leeway lets the known
answer test check the signature with the real clock.
--- http_config
    api_led_jwt_claim_set $is_root /http:~1~1example.com~1is_root;
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;
       api_led_jwt_leeway 100y;
       add_header X-Claims "$api_led_jwt_claim_iss $api_led_jwt_claim_exp $is_root";')
--- request
GET /t
--- more_headers eval
::bearer($::RFC{'A.1'})
--- response_body
ok 
--- response_headers
X-Claims: joe 1300819380 true
--- no_error_log
[error]



=== TEST 2: RFC 7515 A.1 without leeway: expired
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;')
--- request
GET /t
--- more_headers eval
::bearer($::RFC{'A.1'})
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="the token has expired"
Content-Type: application/problem+json
--- response_body_like
^\{"type":"urn:api-led:error:invalid_token","title":"Invalid token","status":401,"detail":"the token has expired","correlation_id":"[^"]+"\}$



=== TEST 3: RFC 7515 A.2 (RS256) and A.3 (ES256) verify
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;
       api_led_jwt_leeway 100y;
       add_header X-Iss $api_led_jwt_claim_iss;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::RFC{'A.2'}), ::bearer($::RFC{'A.3'})]
--- response_body eval
["ok \n", "ok \n"]
--- response_headers eval
["X-Iss: joe", "X-Iss: joe"]
--- no_error_log
[error]



=== TEST 4: RFC 7515 A.4 (ES512): the signature verifies, the payload "Payload" is no JWT
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;')
--- request
GET /t
--- more_headers eval
::bearer($::RFC{'A.4'})
--- error_code: 401
--- response_body_like chomp
"detail":"the token payload is not a JSON object"
--- error_log
api_led: JWT signature verified (alg ES512), but the token payload is not a JSON object



=== TEST 5: RFC 8037 A.4 (Ed25519): the signature verifies, the payload is text
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;')
--- request
GET /t
--- more_headers eval
::bearer($::RFC{'8037'})
--- error_code: 401
--- response_body_like chomp
"detail":"the token payload is not a JSON object"
--- error_log
api_led: JWT signature verified (alg EdDSA), but the token payload is not a JSON object



=== TEST 6: the RFC tokens with one bit flipped in the signature fail
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rfc.json;
       api_led_jwt_leeway 100y;')
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { ::bearer(::jwt_tamper($::RFC{$_})) } qw(A.1 A.2 A.3 A.4 8037)]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_body_like eval
[("\"detail\":\"the token signature is invalid\"") x 5]



=== TEST 7: every algorithm with its key from a JWKS, selected by kid
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request eval
[("GET /t") x scalar @::ALGS]
--- more_headers eval
[map { ::bearer($_) } @::KID]
--- response_body eval
[map { "ok $_->[0]\n" } @::ALGS]
--- no_error_log
[error]



=== TEST 8: every algorithm with a tampered signature is rejected
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request eval
[("GET /t") x scalar @::ALGS]
--- more_headers eval
[map { ::bearer($_) } @::KID_TAMPERED]
--- error_code eval
[(401) x scalar @::ALGS]
--- response_body_like eval
[("\"detail\":\"the token signature is invalid\"") x scalar @::ALGS]



=== TEST 9: PEM keys (SPKI, PKCS#1, a certificate), no kid
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rsa.pkcs1.pub
          $TEST_NGINX_JWT_DIR/ec256.pub $TEST_NGINX_JWT_DIR/ec384.pub
          $TEST_NGINX_JWT_DIR/ec521.pub $TEST_NGINX_JWT_DIR/ed25519.pub
          $TEST_NGINX_JWT_DIR/ed448.pub;')
--- request eval
[("GET /t") x 7]
--- more_headers eval
[map { ::bearer($_) } @::PEM]
--- response_body eval
["ok pem-RS256\n", "ok pem-PS384\n", "ok pem-ES256\n", "ok pem-ES384\n",
 "ok pem-ES512\n", "ok pem-EdDSA\n", "ok pem-Ed448\n"]



=== TEST 10: an X.509 certificate as the key
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rsa.crt;')
--- request
GET /t
--- more_headers eval
::bearer($::PEM[0])
--- response_body
ok pem-RS256



=== TEST 11: HS256 signed with the RSA public key as HMAC secret (PEM key)
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/rsa.pub;')
--- request
GET /t
--- more_headers eval
::bearer($::CONFUSED)
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="no key fits the token alg"
--- error_log
api_led: JWT rejected: no key fits the token alg (alg HS256, kid "")
--- no_error_log
[error]



=== TEST 12: HS256 signed with the RSA public key, kid of the RSA JWK
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request
GET /t
--- more_headers eval
::bearer($::CONFUSED_KID)
--- error_code: 401
--- response_body_like chomp
"detail":"the token alg does not fit its key"



=== TEST 13: an algorithm outside the location's allow-list, with a valid key
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
       api_led_jwt_algorithms RS256 PS256;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer($::KID[3]), ::bearer($::KID[6]), ::bearer($::KID[9])]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["ok RS256", "ok PS256", "\"detail\":\"the token alg is not allowed here\""]



=== TEST 14: alg none never verifies, whatever the allow-list or the signature
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::b64u('{"alg":"none"}') . '.' . ::b64u('{"sub":"x"}') . '.'),
 ::bearer(::jwt(header_raw => '{"alg":"None","kid":"hs-1"}', sign_as => 'HS256')),
 ::bearer(::b64u('{"alg":"NONE","typ":"JWT"}') . '.' . ::b64u('{"sub":"x"}') . '.c2ln')]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[("\"detail\":\"unsigned tokens \\(alg none\\) are never accepted\"") x 3]



=== TEST 15: the JWK's own "alg" pins the key: PS256 with an RS256 key is refused
--- user_files eval
[["pinned.json", $::PINNED_JWKS]]
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_HTML_DIR/pinned.json;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1', claims => {sub => 'pinned'})),
 ::bearer(::jwt(alg => 'PS256', key => 'rsa', kid => 'rsa-1', claims => {sub => 'pinned'}))]
--- error_code eval
[200, 401]
--- response_body_like eval
["ok pinned", "\"detail\":\"the token alg does not fit its key\""]



=== TEST 16: an HMAC key shorter than the hash fits no HS384/HS512 token
--- user_files eval
[["pinned.json", $::PINNED_JWKS]]
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_HTML_DIR/pinned.json;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'HS256', kid => 'hs-short', secret => 'k' x 32, claims => {sub => 'short'})),
 ::bearer(::jwt(alg => 'HS384', kid => 'hs-short', secret => 'k' x 32, claims => {sub => 'short'}))]
--- error_code eval
[200, 401]
--- response_body_like eval
["ok short", "\"detail\":\"the token alg does not fit its key\""]



=== TEST 17: a kid selects one key: no fallback to another key that would verify
rsa2.pub would verify the signature, but the token names rsa-1.
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json $TEST_NGINX_JWT_DIR/rsa2.pub;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'RS256', key => 'rsa2', kid => 'rsa-1', claims => {sub => 'k'})),
 ::bearer(::jwt(alg => 'RS256', key => 'rsa2', kid => 'nope', claims => {sub => 'k'})),
 ::bearer(::jwt(alg => 'RS256', key => 'rsa2', claims => {sub => 'nokid'}))]
--- error_code eval
[401, 401, 200]
--- response_body_like eval
["\"detail\":\"the token signature is invalid\"",
 "\"detail\":\"the token kid is unknown\"",
 "ok nokid"]



=== TEST 18: a kid naming a key of another type or curve is refused
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'ES256', key => 'ec256', kid => 'ec384-1')),
 ::bearer(::jwt(alg => 'Ed25519', key => 'ed25519', kid => 'ed448-1')),
 ::bearer(::jwt(alg => 'RS256', key => 'rsa', kid => 'ec256-1'))]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[("\"detail\":\"the token alg does not fit its key\"") x 3]



=== TEST 19: keys for encryption in a JWKS are skipped
enc-1 is the rsa2 key with "use": "enc".
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;')
--- request
GET /t
--- more_headers eval
::bearer(::jwt(alg => 'RS256', key => 'rsa2', kid => 'enc-1'))
--- error_code: 401
--- response_body_like chomp
"detail":"the token kid is unknown"



=== TEST 20: no key of the token's curve (ES256 token, P-384 key only)
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/ec384.pub;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'ES256', key => 'ec256')),
 ::bearer(::jwt(alg => 'ES384', key => 'ec384', claims => {sub => 'p384'}))]
--- error_code eval
[401, 200]
--- response_body_like eval
["\"detail\":\"no key fits the token alg\"", "ok p384"]



=== TEST 21: ECDSA signatures must be raw R||S of the curve's size
A DER signature, a signature one byte short and one with the P-521 size are
all refused for ES256.
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/ec256.pub;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my $in = ::b64u('{"alg":"ES256"}') . '.' . ::b64u('{"sub":"der"}');
my $der = ::jwt_openssl($in, "openssl dgst -sha256 -sign $::JWT_DIR/ec256.key {IN}");
my $raw = ::jwt_der_to_raw($der, 32);
[::bearer("$in." . ::b64u($der)),
 ::bearer("$in." . ::b64u(substr($raw, 1))),
 ::bearer("$in." . ::b64u("\0" . substr($raw, 0, 32) . "\0" . substr($raw, 32)))]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[("\"detail\":\"the token signature is invalid\"") x 3]



=== TEST 22: Ed448 and Ed25519 keys are not interchangeable under EdDSA
--- config eval
::loc('api_led_jwt_keys $TEST_NGINX_JWT_DIR/ed25519.pub;')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt(alg => 'EdDSA', key => 'ed448')),
 ::bearer(::jwt(alg => 'Ed448', key => 'ed448'))]
--- error_code eval
[401, 401]
--- response_body_like eval
["\"detail\":\"the token signature is invalid\"",
 "\"detail\":\"no key fits the token alg\""]
