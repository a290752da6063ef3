# api_led_rate_limit with the local store (nginx shared memory): used when
# no api_led_redis is configured; the same GCRA as the Redis store.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis ();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: without api_led_redis the limit is counted in shared memory
--- config
    location /t {
        api_led_rate_limit 3r/m;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Store $api_led_rate_limit_store always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 3\nRateLimit-Remaining: 2\nRateLimit-Reset: 20\nX-Store: local",
 "RateLimit-Remaining: 1\nRateLimit-Reset: 40",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 60",
 "RateLimit-Remaining: 0\nRetry-After: 20\nX-Store: local\nContent-Type: application/problem+json"]
--- response_body_like eval
["ok", "ok", "ok", qr/"type":"urn:api-led:error:rate_limited"/]
--- no_error_log eval
# the 429 is logged at error (api_led_rate_limit_log_level, t/006)
[qr/\[error\](?!.* api_led: limiting requests, limit )/, "[alert]"]



=== TEST 2: an explicit zone, burst
--- http_config
    api_led_rate_limit_zone 64k;
--- config
    location /t {
        api_led_rate_limit 6r/m burst=1 key=k2;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 429]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1\nRateLimit-Reset: 10",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 20",
 "Retry-After: 10"]



=== TEST 3: two limits, all-or-nothing
--- config
    location /both {
        api_led_rate_limit 10r/m key=k3 name=minute;
        api_led_rate_limit 2r/h key=k3 name=hour;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /minute-only {
        api_led_rate_limit 10r/m key=k3 name=minute;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /both", "GET /both", "GET /both", "GET /both", "GET /minute-only"]
--- error_code eval
[200, 200, 429, 429, 200]
--- response_headers eval
["RateLimit-Limit: 2\nRateLimit-Remaining: 1",
 "RateLimit-Remaining: 0\nRateLimit-Reset: 3600",
 "Retry-After: 1800",
 "Retry-After: 1800",
 "RateLimit-Limit: 10\nRateLimit-Remaining: 7"]



=== TEST 4: keys are isolated; the same name and key share one bucket across locations
--- config
    location /a {
        api_led_rate_limit 1r/m key=$arg_k name=shared;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /b {
        api_led_rate_limit 1r/m key=$arg_k name=shared;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /a?k=x", "GET /b?k=x", "GET /b?k=y", "GET /a?k=y"]
--- error_code eval
[200, 429, 200, 429]



=== TEST 5: a full zone gives the least recently used keys away, requests go on
--- http_config
    api_led_rate_limit_zone 32k;
--- config
    location /t {
        api_led_rate_limit 1r/m key=$arg_k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
[map { "GET /t?k=" . ("k" x 200) . $_ } 1 .. 120]
--- error_code eval
[(200) x 120]
--- no_error_log
[error]
[alert]



=== TEST 6: a full zone of short keys makes room for a long one: it is counted
Freeing three short keys left no page for a node of another size class:
a key of 200 bytes was never counted ("zone is too small" at alert) and
its 1r/h limit admitted every request.
--- http_config
    api_led_rate_limit_zone 32k;
--- config
    location /t {
        api_led_rate_limit 1r/h key=$http_x_tenant name=z;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
--- init
# more short keys than the zone holds
for my $i (1 .. 600) {
    my ($st) = ApiLed::Redis::http_get(ApiLed::Redis::nginx_port(), '/t',
                                       'X-Tenant' => "s$i");
    die "TEST 6: short key $i got $st" unless $st == 200;
}
--- more_headers eval
"X-Tenant: " . ("L" x 200)
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 429, 429]
--- no_error_log
[alert]



=== TEST 7: nginx -t: a zone too small
--- http_config
    api_led_rate_limit_zone 1k;
--- config
    location /t {
        return 200;
    }
--- must_die
--- error_log eval
qr/invalid zone size "1k", at least \d+k in \S+nginx\.conf:\d+/
