# JWT remote keys over HTTP/2: a client that resets its stream while the
# first fetch of the keys runs.  nginx then terminates the stream's
# request and the fetch with it (a stream has no connection of its own to
# keep): the provider must not be taken for down, the next request
# fetches again.  (Over HTTP/1 the fetch outlives its client:
# t/024-jwt-remote.t TEST 10 and 11.)
#
# The test port speaks HTTP/2 only (t/lib/ApiLed/Http2.pm); the provider
# is a second server on a unix socket, slowed down by limit_rate.
use lib 't/lib';
use FindBin;
use Test::Nginx::Socket 'no_plan';
use ApiLed::Http2;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();
$ENV{TEST_NGINX_JWT_DIR} = "$FindBin::Bin/fixtures/jwt";

# the RSA key only: a small document for the slow provider
our $SMALL = do {
    my $j = JSON::PP->new->decode(::jwt_slurp("$::JWT_DIR/jwks.json"));
    ::jwt_json({ keys => [ grep { $_->{kid} eq 'rsa-1' } @{ $j->{keys} } ] });
};

our $A = ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
               claims => { sub => 'a', exp => time + 3600 });

our $S = $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : 1;

sub port {
    no warnings 'once';
    return $Test::Nginx::Util::ServerPortForClient
        || $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

our $HTTP = <<'CONF';
    log_format fetch 'fetch';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/idp.sock;
        location /idp/ {
            alias $TEST_NGINX_HTML_DIR/;
            limit_rate 200;
            access_log $TEST_NGINX_HTML_DIR/fetches.log fetch;
        }
        location /echo {
            return 200 "ok $server_protocol\n";
        }
    }
CONF

http2_listen_fix();
repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a stream reset during the first fetch: the next request fetches again and is served
--- http2
--- http_config eval
$::HTTP
--- user_files eval
[["jwks.json", $::SMALL]]
--- config
    location /t {
        api_led_auth jwt;
        api_led_jwt_keys_uri /jwks;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/idp.sock:/echo;
    }
    location = /jwks {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/idp.sock:/idp/jwks.json;
    }
    location = /fetches {
        alias $TEST_NGINX_HTML_DIR/fetches.log;
    }
--- init
# curl gives up after 0.3 s: it resets the stream, then closes
system('curl', '-s', '-o', '/dev/null', '--http2-prior-knowledge',
       '--max-time', 0.3 * $main::S,
       '-H', "Authorization: Bearer $main::A",
       'http://127.0.0.1:' . main::port() . '/t');
Time::HiRes::sleep(0.3 * $main::S);
--- request eval
["GET /t", "GET /fetches"]
--- more_headers eval
["Authorization: Bearer $::A", ""]
--- error_code eval
[200, 200]
--- response_body eval
["ok HTTP/1.0\n", "fetch\nfetch\n"]
--- no_error_log
fetching JWKS "/jwks" failed
--- timeout: 10
