# JWT defects found by attack (issue 16): what reaches the error log from a
# key set (no stack bytes after a long message), weak RSA keys, values of
# the unverified token header in log lines, control characters of claims in
# request headers.
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

no warnings 'once';

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $KEYS = JSON::PP->new->decode(::jwt_slurp("$::JWT_DIR/jwks.json"));
our ($RSA1) = grep { $_->{kid} eq 'rsa-1' } @{ $::KEYS->{keys} };

sub jwks { return ::jwt_json({ keys => [@_] }) }

our $A = ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
               claims => { sub => 'a', exp => time + 3600 });

our $NOKID = ::jwt(alg => 'RS256', key => 'rsa',
                   claims => { sub => 'a', exp => time + 3600 });

sub bearer { return "Authorization: Bearer $_[0]" }

# DER and PEM by hand: an RSA public key of any exponent (openssl makes
# none with e = 1), with the modulus of the fixture key rsa-1
sub der_len {
    my $l = shift;
    return $l < 128 ? chr($l) : $l < 256 ? "\x81" . chr($l)
                                         : "\x82" . pack('n', $l);
}

sub der { my ($tag, $body) = @_; return chr($tag) . der_len(length $body) . $body }

sub der_int {
    my $b = shift;
    $b =~ s/^\x00+(?=.)//s;
    $b = "\x00$b" if ord($b) & 0x80;
    return der(0x02, $b);
}

sub rsa_pem {
    my ($e) = @_;
    my $n = ::b64u_decode($::RSA1->{n});
    my $pkcs1 = der(0x30, der_int($n) . der_int($e));
    my $alg = der(0x30, der(0x06, "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01")
                        . "\x05\x00");
    my $spki = der(0x30, $alg . der(0x03, "\x00" . $pkcs1));
    return "-----BEGIN PUBLIC KEY-----\n"
           . join("\n", unpack('(A64)*', MIME::Base64::encode_base64($spki, '')))
           . "\n-----END PUBLIC KEY-----\n";
}

sub rsa_jwk {
    my ($kid, $e) = @_;
    return { kty => 'RSA', kid => $kid, n => $::RSA1->{n}, e => ::b64u($e) };
}

# With e = 1 the signature of RS256 is the padded digest itself
# (RFC 8017 9.2): anyone can sign.
sub forge_rs256 {
    my ($kid, $claims) = @_;
    my $input = ::b64u(::jwt_json({ alg => 'RS256', typ => 'JWT', kid => $kid }))
                . '.' . ::b64u(::jwt_json($claims));
    my $t = pack('H*', '3031300d060960864801650304020105000420')
            . Digest::SHA::sha256($input);
    my $em = "\x00\x01" . ("\xff" x (256 - 3 - length $t)) . "\x00" . $t;
    return "$input." . ::b64u($em);
}

our $FORGED = forge_rs256('weak', { sub => 'mallory', exp => time + 3600 });

# a key whose message is longer than the error buffer (256 bytes)
our $LONG_KTY = { kty => 'A' x 300 };

# /t verifies with the keys of a provider (a file of the html dir)
our $REMOTE = <<'CONF';
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys_uri /jwks;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/idp/jwks.json;
    }
    location /idp/ {
        alias $TEST_NGINX_HTML_DIR/;
    }
    location /echo {
        return 200 "ok\n";
    }
CONF

# /t verifies with a key file of the html dir
our $LOCAL = <<'CONF';
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_HTML_DIR/keys.json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
CONF

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a fetched key with a message longer than the buffer: the log line ends with the message
The message is cut to the buffer, and what follows it on the line is
nginx's own "while ..., client: ...", not bytes of the stack.
--- user_files eval
[["jwks.json", ::jwks($::LONG_KTY, $::RSA1)]]
--- config eval
$::REMOTE
--- request
GET /t
--- more_headers eval
::bearer($::A)
--- response_body
ok
--- error_log eval
qr/api_led: JWK 1 ignored: unsupported "kty" "A{200,}(?: while [a-z ]+)?, client: 127\.0\.0\.1, /



=== TEST 2: nginx -t: a key file with a message longer than the buffer names file and line right after it
--- user_files eval
[["keys.json", ::jwks($::LONG_KTY)]]
--- config eval
$::LOCAL
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+keys\.json" unsupported "kty" "A{200,} in \S+nginx\.conf:\d+/



=== TEST 3: nginx -t: an RSA JWK with e = 1 is refused
--- user_files eval
[["keys.json", ::jwks(::rsa_jwk('weak', "\x01"))]]
--- config eval
$::LOCAL
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+keys\.json" RSA key with public exponent 1, at least 3 is required in \S+nginx\.conf:\d+/



=== TEST 4: nginx -t: an RSA JWK with an even exponent is refused
--- user_files eval
[["keys.json", ::jwks(::rsa_jwk('even', pack('N', 65538)))]]
--- config eval
$::LOCAL
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+keys\.json" RSA key with an even public exponent in \S+nginx\.conf:\d+/



=== TEST 5: nginx -t: a PEM RSA key with e = 1 is refused
--- user_files eval
[["keys.json", ::rsa_pem("\x01")]]
--- config eval
$::LOCAL
--- must_die
--- error_log eval
qr/api_led_jwt_keys: "\S+keys\.json" PEM block 1: RSA key with public exponent 1, at least 3 is required in \S+nginx\.conf:\d+/



=== TEST 6: a PEM RSA key with e = 3 is accepted (a token signed for e = 65537 does not verify with it)
--- user_files eval
[["keys.json", ::rsa_pem("\x03")]]
--- config eval
$::LOCAL
--- request
GET /t
--- more_headers eval
::bearer($::NOKID)
--- error_code: 401
--- response_body_like chomp
"detail":"the token signature is invalid"



=== TEST 7: a fetched key set: the key with e = 1 is skipped with a log line, a token forged for it is refused
--- user_files eval
[["jwks.json", ::jwks(::rsa_jwk('weak', "\x01"), $::RSA1)]]
--- config eval
$::REMOTE
--- request
GET /t
--- more_headers eval
::bearer($::FORGED)
--- error_code: 401
--- response_body_like chomp
"detail":"the token kid is unknown"
--- error_log
api_led: JWK 1 ignored: RSA key with public exponent 1, at least 3 is required



=== TEST 8: DEL (0x7f) in claims never reaches a request header: escaped as \u007f, as other control characters are
--- http_config
    api_led_jwt_claim_set $jwt_nick /profile/nick;
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        proxy_set_header X-Name $api_led_jwt_claim_name;
        proxy_set_header X-Nick $jwt_nick;
        proxy_set_header X-Profile $api_led_jwt_claim_profile;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "name=[$http_x_name] nick=[$http_x_nick] profile=[$http_x_profile]\n";
    }
--- request
GET /t
--- more_headers eval
::bearer(::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
               claims => { sub => 'a', exp => time + 3600, name => "a\x7fb",
                           profile => { nick => "n\x7f" } }))
--- response_body
name=[a\u007fb] nick=[n\u007f] profile=[{"nick":"n\u007f"}]
