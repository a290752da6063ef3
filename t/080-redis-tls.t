# TLS and ACLs to Redis (docs/redis.md): a Redis started here with TLS, its
# certificate signed by a CA the test makes with openssl.  The right CA
# works, a wrong CA or a wrong name is refused and logged, a client
# certificate is sent when Redis asks for one, AUTH with an ACL user and a
# password file works, a wrong password fails clearly.  nginx -t catches
# the mistakes of the directives.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use ApiLed::RedisTopo;

our $Certs = make_certs();

sub start_tls_redis {
    my ($clients) = @_;
    my $tls_port = free_port();
    my $r = start_redis(args => [
        '--tls-port', $tls_port,
        '--tls-cert-file', "$Certs/server.pem",
        '--tls-key-file', "$Certs/server.key",
        '--tls-ca-cert-file', "$Certs/ca.pem",
        '--tls-auth-clients', $clients,
    ]);
    $r->{tls_port} = $tls_port;
    # an ACL user that may run the limits' script on their keys only
    redis_cli($r->{port}, 'acl', 'setuser', 'gateway', 'on', '>t080-s3cret',
              '~api_led:*', '+evalsha', '+eval', '+script|load', '+time', '+mget',
              '+psetex')
        eq 'OK' or die "ACL SETUSER failed";
    return $r;
}

our $Redis = start_tls_redis('optional');
our $Strict = start_tls_redis('yes');

for (['password', "t080-s3cret\n"], ['wrong', "not-the-password\n"]) {
    open my $f, '>', "$Certs/$_->[0]" or die $!;
    print $f $_->[1];
    close $f;
}

$ENV{TEST_NGINX_CERTS} = $Certs;
$ENV{TEST_NGINX_TLS_PORT} = $Redis->{tls_port};
$ENV{TEST_NGINX_STRICT_PORT} = $Strict->{tls_port};

add_block_preprocessor(sub {
    my $block = shift;
    # nginx under valgrind is some 20 times slower: a longer reply timeout
    if ($ENV{TEST_NGINX_USE_VALGRIND} && defined $block->http_config
        && $block->http_config !~ /timeout=/)
    {
        my $h = $block->http_config;
        $h =~ s/(api_led_redis\s[^;]*?);/$1 timeout=10s connect_timeout=10s;/;
        $block->set_value('http_config', $h);
    }
    if (defined $block->config && !defined $block->must_die) {
        $block->set_value('config', $block->config . <<'CONF');
    location /echo {
        return 200 "ok\n";
    }
CONF
    }
});

repeat_each(1);
no_shuffle();
run_tests();

# what Redis holds: the key of TEST 1, counted 3 times, as the ACL user
# (60 s ahead, less the time since TEST 1 ran, at most the file's time;
# under valgrind the file runs longer than that: the key has expired)
SKIP: {
    skip 'valgrind: the file runs longer than the key lives', 2
        if $ENV{TEST_NGINX_USE_VALGRIND};
    my $tat = redis_cli($Redis->{port}, 'get', 'api_led:{t080-1}:3r/m');
    my ($s, $us) = split /\n/, redis_cli($Redis->{port}, 'time');
    my $ahead = $tat - ($s * 1e6 + $us);
    cmp_ok($ahead, '>', 3 * 20e6 - (time - $^T + 1) * 1e6,
           'Redis holds three requests of 3r/m');
    cmp_ok($ahead, '<=', 3 * 20e6, 'and not more');
}
like(redis_cli($Redis->{port}, 'acl', 'log'), qr/AUTH|auth/,
     'the wrong password is in the ACL log');

__DATA__

=== TEST 1: TLS, the right CA, an ACL user with a password file: counted in Redis
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-1 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-Store: redis\nRateLimit-Remaining: 2",
 "X-Store: redis\nRateLimit-Remaining: 1",
 "X-Store: redis\nRateLimit-Remaining: 0",
 "X-Store: redis\nRetry-After: 20"]
--- no_error_log
redis unavailable
TLS certificate



=== TEST 2: a certificate from another CA is refused, and logged
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/wrong-ca.pem;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-2 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 503
--- response_body_like chomp
urn:api-led:error:rate_limit_unavailable
--- error_log eval
[qr/\[error\] .*redis TLS certificate verify error: \(19:self-signed certificate in certificate chain\), api_led redis: 127\.0\.0\.1:\d+/,
 qr/\[error\] .*redis unavailable: TLS certificate refused/]



=== TEST 3: the name checked: a host name of the address matches the certificate
--- http_config
    api_led_redis localhost:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-3 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
redis unavailable



=== TEST 4: api_led_redis_tls_name that the certificate does not name: refused
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
    api_led_redis_tls_name redis.example.com;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-4 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 503
--- error_log
redis TLS certificate does not match "redis.example.com"



=== TEST 5: api_led_redis_tls_name that it names: accepted
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
    api_led_redis_tls_name redis.test;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-5 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
redis unavailable



=== TEST 6: a wrong password fails clearly
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/wrong;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-6 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 503
--- error_log
redis unavailable: AUTH failed: "WRONGPASS invalid username-password pair or user is disabled."
--- no_error_log
not-the-password



=== TEST 7: Redis asks for a client certificate: sent
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_STRICT_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
    api_led_redis_tls_certificate $TEST_NGINX_CERTS/client.pem;
    api_led_redis_tls_certificate_key $TEST_NGINX_CERTS/client.key;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-7 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 200
--- no_error_log
redis unavailable



=== TEST 8: Redis asks for a client certificate, nginx has none: refused
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_STRICT_PORT tls user=gateway
                  password_file=$TEST_NGINX_CERTS/password;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
--- config
    location /t {
        api_led_rate_limit 3r/m key=t080-8 on_error=closed;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- request
GET /t
--- error_code: 503
--- error_log eval
qr/\[error\] .*redis unavailable: .*api_led redis: 127\.0\.0\.1:\d+/



=== TEST 9: nginx -t: api_led_redis_tls_* without "tls"
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT;
    api_led_redis_tls_trusted_certificate $TEST_NGINX_CERTS/ca.pem;
--- config
--- must_die
--- error_log eval
qr/api_led_redis_tls_\* directives need the "tls" parameter of api_led_redis in \S+nginx\.conf:\d+/



=== TEST 10: nginx -t: a client certificate without its key
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT tls;
    api_led_redis_tls_certificate $TEST_NGINX_CERTS/client.pem;
--- config
--- must_die
--- error_log eval
qr/api_led_redis_tls_certificate and api_led_redis_tls_certificate_key go together in \S+nginx\.conf:\d+/



=== TEST 11: nginx -t: a password file that is not there
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_TLS_PORT password_file=/nonexistent/t080;
--- config
--- must_die
--- error_log eval
qr/open\(\) "\/nonexistent\/t080" failed .* in \S+nginx\.conf:\d+/



=== TEST 12: nginx -t: several addresses need "cluster" or "sentinel="
--- http_config
    api_led_redis 127.0.0.1:6379 127.0.0.1:6380;
--- config
--- must_die
--- error_log eval
qr/several redis addresses need "cluster" \(seed nodes\) or "sentinel=" \(Sentinels\) in \S+nginx\.conf:\d+/



=== TEST 13: nginx -t: a cluster has no database but 0
--- http_config
    api_led_redis 127.0.0.1:6379 cluster db=2;
--- config
--- must_die
--- error_log eval
qr/a redis cluster has only database 0 in \S+nginx\.conf:\d+/



=== TEST 14: nginx -t: user= without a password
--- http_config
    api_led_redis 127.0.0.1:6379 user=gateway;
--- config
--- must_die
--- error_log eval
qr/redis "user=" needs "password_file=" in \S+nginx\.conf:\d+/
