# Identity to rate limits: the consumer that an API key (or anonymous
# access) selects brings its plan, and "api_led_rate_limit plan" enforces
# that plan's limits per consumer (local store: no Redis needed).
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s"]}, "free": {"limits": ["2r/m"]}},
 "consumers": [
   {"id": "acme", "plan": "gold", "keys": ["k-gold"]},
   {"id": "bob", "plan": "free", "keys": ["k-free"]},
   {"id": "guest", "plan": "free"}
 ]}
JSON

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> consumers.json\n$::Consumers")
        unless defined $block->user_files;

    $block->set_value("http_config",
        "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n")
        unless defined $block->http_config;
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: each consumer is limited by its own plan
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous guest;
        api_led_rate_limit plan key=$api_led_consumer;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who "$api_led_consumer/$api_led_plan" always;
    }
    location /echo {
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k-free", "X-API-Key: k-free", "X-API-Key: k-free",
 "X-API-Key: k-gold", "X-API-Key: k-gold", "", "X-API-Key: bad"]
--- error_code eval
[200, 200, 429, 200, 200, 200, 401]
--- response_headers eval
["X-Who: bob/free", "X-Who: bob/free", "X-Who: bob/free",
 "X-Who: acme/gold", "X-Who: acme/gold", "X-Who: guest/free", "X-Who: /"]
