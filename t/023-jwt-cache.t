# JWT: the verified-token cache (api_led_jwt_cache): hits, an entry never
# outlives its token's exp, the bound, the location's rules on a hit, on by
# default, a token that ends as a cached one, requirements met before
# (checked again unless the same list without variables, inherited or not).
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

our $NOW = time;

# nginx under valgrind needs seconds to start
our $SLACK = $ENV{TEST_NGINX_USE_VALGRIND} ? 20 : 0;

# expires 3 s after the test file starts: TEST 1 runs first
our $SHORT = ::jwt(alg => 'ES256', key => 'ec256', kid => 'ec256-1',
                   claims => { sub => 'short', exp => $NOW + 3 + $SLACK });

our @T = map {
    ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
          claims => { sub => "user-$_", iss => 'idp', exp => $NOW + 3600 })
} 0 .. 2;

our $NOEXP = ::jwt(alg => 'HS256', kid => 'hs-1', claims => { sub => 'forever' });

sub bearer { return "Authorization: Bearer $_[0]" }

# a request whose request line is finished after $delay seconds
sub later {
    my ($delay) = @_;
    return [ "GET /", { value => "t", delay_before => $delay } ];
}

our $HTTP = <<'CONF';
    api_led_jwt_cache 2;
CONF

sub loc {
    my ($directives) = @_;
    return <<"CONF";
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys \$TEST_NGINX_JWT_DIR/jwks.json;
        $directives
        add_header X-Cache \$api_led_jwt_cache_status always;
        add_header X-Sub \$api_led_jwt_claim_sub;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\\n";
    }
CONF
}

# another JWT location: its path, its keys file and its own directives
sub other {
    my ($path, $keys, $directives) = @_;
    return <<"CONF";
    location $path {
        api_led_auth jwt;
        api_led_jwt_keys \$TEST_NGINX_JWT_DIR/$keys;
        $directives
        add_header X-Cache \$api_led_jwt_cache_status always;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
CONF
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a cached token past its exp is rejected
The token expires 3 s after the file starts; the second request comes 4 s
after the first (20 s more each under valgrind).
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
["GET /t", ::later(4 + $::SLACK)]
--- more_headers eval
[::bearer($::SHORT), ::bearer($::SHORT)]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS"]
--- response_body_like eval
["ok", "\"detail\":\"the token has expired\""]
--- timeout: 30



=== TEST 2: the second use of a token is a cache hit
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[map { ::bearer($::T[0]) } 1 .. 3]
--- response_headers eval
["X-Cache: MISS\nX-Sub: user-0", "X-Cache: HIT\nX-Sub: user-0", "X-Cache: HIT\nX-Sub: user-0"]
--- error_log eval
qr/api_led: JWT (verified|cache hit)/



=== TEST 3: the cache is bounded: the least recently used token goes first
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
[("GET /t") x 6]
--- more_headers eval
[map { ::bearer($::T[$_]) } 0, 1, 0, 2, 0, 1]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS", "X-Cache: HIT",
 "X-Cache: MISS"]



=== TEST 4: tokens without exp are cached too
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::NOEXP), ::bearer($::NOEXP)]
--- response_headers eval
["X-Cache: MISS\nX-Sub: forever", "X-Cache: HIT\nX-Sub: forever"]



=== TEST 5: a hit still obeys the location: its algorithms, keys and requirements
--- http_config eval
$::HTTP
--- config eval
::loc('') . ::other('/es-only', 'jwks.json', 'api_led_jwt_algorithms ES256;')
. ::other('/other-iss', 'jwks.json', 'api_led_jwt_require iss other-idp;')
. ::other('/other-keys', 'rsa2.pub', '')
--- request eval
["GET /t", "GET /es-only", "GET /other-iss", "GET /other-keys"]
--- more_headers eval
[map { ::bearer($::T[0]) } 1 .. 4]
--- error_code eval
[200, 401, 401, 401]
--- response_body_like eval
["ok", "\"detail\":\"the token alg is not allowed here\"",
 "\"detail\":\"the token issuer is not accepted\"",
 "\"detail\":\"the token kid is unknown\""]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS", "X-Cache: HIT", "X-Cache: MISS"]



=== TEST 6: a rejected token is never cached
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer(::jwt_tamper($::T[1])), ::bearer(::jwt_tamper($::T[1]))]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Cache: MISS", "X-Cache: MISS"]
--- response_body_like eval
[("\"detail\":\"the token signature is invalid\"") x 2]



=== TEST 7: the cache is on by default where tokens are checked
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::T[0]), ::bearer($::T[0])]
--- response_headers eval
["X-Cache: MISS\nX-Sub: user-0", "X-Cache: HIT\nX-Sub: user-0"]



=== TEST 8: with the cache off there is no status
--- http_config
    api_led_jwt_cache off;
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
[::bearer($::T[0]), ::bearer($::T[0])]
--- response_headers eval
["!X-Cache\nX-Sub: user-0", "!X-Cache\nX-Sub: user-0"]
--- no_error_log
api_led: JWT cache hit



=== TEST 9: a token that ends as a cached one (its signature) and differs before is not a hit
The cache finds a token by its last bytes and compares it in full: the
second token is the first's header and signature around another's claims,
of the same length.
--- http_config eval
$::HTTP
--- config eval
::loc('')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
my @a = split /\./, $::T[2];
my @b = split /\./, $::T[0];
[::bearer($::T[2]), ::bearer("$a[0].$b[1].$a[2]"), ::bearer($::T[2])]
--- error_code eval
[200, 401, 200]
--- response_headers eval
["X-Cache: MISS\nX-Sub: user-2", "X-Cache: MISS\n!X-Sub",
 "X-Cache: HIT\nX-Sub: user-2"]
--- response_body_like eval
["ok", "\"detail\":\"the token signature is invalid\"", "ok"]



=== TEST 10: a hit meets each location's requirements, those with variables every time
A cached token remembers that it met a list of requirements without
variables; another list, or one with variables, is checked again.
--- http_config eval
$::HTTP
--- config eval
::other('/idp', 'jwks.json', 'api_led_jwt_require iss idp;')
. ::other('/other-iss', 'jwks.json', 'api_led_jwt_require iss other-idp;')
. ::other('/iss-arg', 'jwks.json', 'api_led_jwt_require iss $arg_iss;')
. q{
    location /echo {
        return 200 "ok\n";
    }
}
--- request eval
["GET /idp", "GET /idp", "GET /other-iss", "GET /iss-arg?iss=idp",
 "GET /iss-arg?iss=idp", "GET /iss-arg?iss=nope", "GET /idp"]
--- more_headers eval
[map { ::bearer($::T[1]) } 1 .. 7]
--- error_code eval
[200, 200, 401, 200, 200, 401, 200]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT",
 "X-Cache: HIT", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body_like eval
["ok", "ok", "\"detail\":\"the token issuer is not accepted\"", "ok", "ok",
 "\"detail\":\"the token issuer is not accepted\"", "ok"]



=== TEST 11: a location that inherits the requirements a cached token met still refuses a token that does not meet them
--- http_config eval
$::HTTP
--- config eval
q{
    location /idp {
        api_led_auth jwt;
        api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_require iss idp;
        add_header X-Cache $api_led_jwt_cache_status always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;

        location /idp/inner {
            add_header X-Cache $api_led_jwt_cache_status always;
            add_header X-Inner yes;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        }
    }
    location /echo {
        return 200 "ok\n";
    }
}
--- request eval
["GET /idp", "GET /idp", "GET /idp/inner", "GET /idp/inner",
 "GET /idp/inner", "GET /idp/inner"]
--- more_headers eval
[(map { ::bearer($::T[2]) } 1 .. 3), (map { ::bearer($::NOEXP) } 1 .. 3)]
--- error_code eval
[200, 200, 200, 401, 401, 401]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT\nX-Inner: yes",
 "X-Cache: MISS", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body_like eval
["ok", "ok", "ok", ("\"detail\":\"the token issuer is not accepted\"") x 3]
