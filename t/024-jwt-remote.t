# JWT remote keys (api_led_jwt_keys_uri): a JWKS fetched by a subrequest to
# a location that proxies to the identity provider.  The "provider" here is
# a location of the same server serving a file of the html dir; the test
# rotates, breaks and restores it with WebDAV PUT/DELETE, and counts the
# fetches in the provider's access log (GET /fetches).
use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $JWKS = ::jwt_slurp("$::JWT_DIR/jwks.json");
our $ROTATED = ::jwt_slurp("$::JWT_DIR/jwks-rotated.json");

# only the RSA key: a small document for the slow provider
our $SMALL = do {
    my $j = JSON::PP->new->decode($JWKS);
    ::jwt_json({ keys => [ grep { $_->{kid} eq 'rsa-1' } @{ $j->{keys} } ] });
};

our $A = ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
               claims => { sub => 'a', exp => time + 3600 });
our $B = ::jwt(alg => 'RS256', key => 'rsa2', kid => 'rsa-2',
               claims => { sub => 'b', exp => time + 3600 });
our $NOPE = ::jwt(alg => 'RS256', key => 'rsa', kid => 'nope',
                  claims => { sub => 'n', exp => time + 3600 });
our $HS = ::jwt(alg => 'HS256', kid => 'hs-1',
                claims => { sub => 'h', exp => time + 3600 });

# time scale: nginx under valgrind is several times slower
our $S = $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : 1;

sub bearer { return "Authorization: Bearer $_[0]" }

sub detail { return "\"detail\":\"$_[0]\"" }

# a request whose request line is finished after $delay seconds
sub later {
    my ($delay, $uri) = @_;
    return [ "GET /", { value => ($uri // 't'), delay_before => $delay } ];
}

# the port the test's nginx listens on (for the clients of "--- init")
sub port {
    no warnings 'once';
    return $Test::Nginx::Util::ServerPortForClient
        || $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

sub fetches { return join '', map { "fetch auth=[-] cookie=[-]\n" } 1 .. shift }

our $HTTP = <<'CONF';
    log_format fetch 'fetch auth=[$http_authorization] cookie=[$http_cookie]';
    log_format seen '$status';
CONF

sub conf {
    my ($directives, $provider) = @_;
    $provider //= '';
    return <<"CONF";
    location /t {
        api_led_auth jwt;
        $directives
        access_log \$TEST_NGINX_HTML_DIR/t.log seen;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /jwks {
        internal;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/idp/jwks.json;
    }
    location /idp/ {
        alias \$TEST_NGINX_HTML_DIR/;
        access_log \$TEST_NGINX_HTML_DIR/fetches.log fetch;
        $provider
    }
    location /idp-admin/ {
        alias \$TEST_NGINX_HTML_DIR/;
        dav_methods PUT DELETE;
    }
    location = /fetches {
        alias \$TEST_NGINX_HTML_DIR/fetches.log;
    }
    location = /seen {
        alias \$TEST_NGINX_HTML_DIR/t.log;
    }
    location /echo {
        return 200 "ok \$http_x_sub\\n";
    }
CONF
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: fetched once, then used from memory; the provider sees no client header
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::JWKS]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks;')
--- request eval
["GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A) . "\r\nCookie: session=s3cr3t", ::bearer($::A), ""]
--- response_body eval
["ok \n", "ok \n", ::fetches(1)]



=== TEST 2: rotation: an unknown kid refetches the keys once
rsa-1 is gone after the rotation; its tokens fail, rsa-2's pass.
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::JWKS]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks;')
--- request eval
["GET /t", "PUT /idp-admin/jwks.json\n$::ROTATED", "GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A), "", ::bearer($::B), ::bearer($::A), ""]
--- error_code eval
[200, 204, 200, 401, 200]
--- response_body_like eval
["^ok", "", "^ok", ::detail("the token kid is unknown"), "^(fetch[^\n]*\n){2}\$"]



=== TEST 3: an unknown kid refetches at most once per kid_refetch interval
Request 1 fetches the keys (none yet) and does not refetch for its kid;
request 2 refetches; request 3 must not; request 4, 2.5 s later, may again.
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::JWKS]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks kid_refetch=' . (2 * $::S) . 's;')
--- request eval
["GET /t", "GET /t", "GET /t", "GET /fetches", ::later(2.5 * $::S), "GET /fetches"]
--- more_headers eval
[(::bearer($::NOPE)) x 3, "", ::bearer($::NOPE), ""]
--- error_code eval
[401, 401, 401, 200, 401, 200]
--- response_body_like eval
[(::detail("the token kid is unknown")) x 3, "^(fetch[^\n]*\n){2}\$",
 ::detail("the token kid is unknown"), "^(fetch[^\n]*\n){3}\$"]
--- timeout: 20



=== TEST 4: the provider is down: the keys are kept, retried now and then
valid=2s (so the retry interval min(valid, 10s) is 2 s as well): request 3
finds the keys expired, its fetch fails (404), it is served with the old
keys; request 4 does not fetch again; once the provider is back, request 7
fetches.  (nginx's clock counts whole seconds: every wait has a margin.)
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::JWKS]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks valid=' . (2 * $::S) . 's;')
--- request eval
["GET /t", "DELETE /idp-admin/jwks.json", ::later(2.5 * $::S), "GET /t", "GET /fetches",
 "PUT /idp-admin/jwks.json\n$::JWKS", ::later(2.5 * $::S), "GET /fetches"]
--- more_headers eval
[::bearer($::A), "", ::bearer($::A), ::bearer($::A), "", "", ::bearer($::A), ""]
--- error_code eval
[200, 204, 200, 200, 200, 201, 200, 200]
--- response_body_like eval
["^ok", "", "^ok", "^ok", "^(fetch[^\n]*\n){2}\$", "", "^ok", "^(fetch[^\n]*\n){3}\$"]
--- timeout: 20



=== TEST 5: refreshed in the background before expiry, the request does not wait
valid=8s: after 6.5 s (past 3/4 of valid, before valid in nginx's whole
seconds) a request is served with the current keys while the rotated set is
fetched; then rsa-2 works and rsa-1 does not (times 5 under valgrind).
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::JWKS]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks valid=' . (8 * $::S) . 's kid_refetch=60s;')
--- request eval
["GET /t", "PUT /idp-admin/jwks.json\n$::ROTATED", ::later(6.5 * $::S), "GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A), "", ::bearer($::A), ::bearer($::B), ::bearer($::A), ""]
--- error_code eval
[200, 204, 200, 200, 401, 200]
--- response_body_like eval
["^ok", "", "^ok", "^ok", ::detail("the token kid is unknown"), "^(fetch[^\n]*\n){3}\$"]
--- timeout: 45



=== TEST 6: no keys and the provider down: 503, without a fetch per request
--- http_config eval
$::HTTP
--- config eval
::conf('api_led_jwt_keys_uri /jwks;')
--- request eval
["GET /t", "GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A), ::bearer($::A), ""]
--- error_code eval
[503, 503, 200]
--- response_body_like eval
["^\\{\"type\":\"urn:api-led:error:jwt_keys_unavailable\",\"title\":\"Token signing keys unavailable\",\"status\":503,",
 "\"status\":503", "^(fetch[^\n]*\n){1}\$"]



=== TEST 7: a broken JWKS is a failed fetch, logged
--- http_config eval
$::HTTP
--- user_files
>>> jwks.json
{"keys": [
--- config eval
::conf('api_led_jwt_keys_uri /jwks;')
--- request
GET /t
--- more_headers eval
::bearer($::A)
--- error_code: 503
--- error_log
api_led: JWKS "/jwks" rejected: invalid JSON



=== TEST 8: requests arriving during a slow fetch wait for it: one fetch for all
Three mirrors of the request and the request itself reach /t at once; the
provider takes about 2 s to send the keys.
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::SMALL]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks;', 'limit_rate 200;') . q{
    location /fanout {
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
    }
    location /m {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/t;
    }
}
--- request eval
["GET /fanout", "GET /seen", "GET /fetches"]
--- more_headers eval
[::bearer($::A), "", ""]
--- response_body eval
["ok \n", "200\n200\n200\n200\n", ::fetches(1)]
--- timeout: 8



=== TEST 9: configured keys and remote keys together
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::ROTATED]]
--- config eval
::conf('api_led_jwt_keys $TEST_NGINX_JWT_DIR/jwks.json;
        api_led_jwt_keys_uri /jwks;')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
[::bearer($::HS), ::bearer($::B), ::bearer($::A)]
--- error_code eval
[200, 200, 200]



=== TEST 10: a client that goes away during the first fetch does not make the provider "down"
On a fresh worker, a client sends a request and closes 0.3 s later, while
the slow provider is still sending the keys: its fetch ends with the
request.  The fetch goes on without its client (one fetch in all): the
next request waits for it and is served, where it used to get 503 for 10 s
(the fetch ended with 499 and the provider was taken for down).
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::SMALL]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks;', 'limit_rate 200;')
--- init
require IO::Socket::INET;
require Time::HiRes;
my $s = IO::Socket::INET->new(
    PeerAddr => '127.0.0.1:' . main::port(), Timeout => 5)
    or die "connect: $!";
print $s "GET /t HTTP/1.1\r\nHost: localhost\r\n"
         . main::bearer($main::A) . "\r\n\r\n";
Time::HiRes::sleep(0.3 * $main::S);
close $s;
Time::HiRes::sleep(0.3 * $main::S);
--- request eval
["GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A), ""]
--- error_code eval
[200, 200]
--- response_body_like eval
["^ok", "^(fetch[^\n]*\n){1}\$"]
--- no_error_log
fetching JWKS "/jwks" failed
--- timeout: 10



=== TEST 11: a request waiting for a fetch whose client went away is served
B arrives during A's fetch and waits for it; A closes: the fetch goes on,
B gets its answer, and the keys are there for the next request.
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::SMALL]]
--- config eval
::conf('api_led_jwt_keys_uri /jwks;', 'limit_rate 200;')
--- init
require IO::Socket::INET;
require Time::HiRes;
my @s = map {
    IO::Socket::INET->new(
        PeerAddr => '127.0.0.1:' . main::port(), Timeout => 10)
        or die "connect: $!"
} 1 .. 2;
for my $s (@s) {
    print $s "GET /t HTTP/1.0\r\nHost: localhost\r\n"
             . main::bearer($main::A) . "\r\n\r\n";
    Time::HiRes::sleep(0.1 * $main::S);
}
Time::HiRes::sleep(0.2 * $main::S);
close $s[0];
my $res = do { local $/; readline $s[1] } // '';
Test::More::like($res, qr{^HTTP/1\.\d 200 .*\r\n\r\nok }s,
                 'TEST 11: the waiting request B is served');
--- request eval
["GET /t", "GET /fetches"]
--- more_headers eval
[::bearer($::A), ""]
--- error_code eval
[200, 200]
--- response_body_like eval
["^ok", "^(fetch[^\n]*\n){1}\$"]
--- no_error_log
fetching JWKS "/jwks" failed
--- timeout: 10
