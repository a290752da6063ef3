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

sub bearer { return "Authorization: Bearer $_[0]" }

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
