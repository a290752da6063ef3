# The consumers file and the key-auth directives: what nginx -t refuses,
# naming the file (and jansson's line and column) and the nginx.conf line.
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
CONF
    }
});

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: malformed JSON: the file, jansson's line and column, the nginx.conf line
--- user_files
>>> consumers.json
{"consumers": [
  {"id": "acme", "keys": ["k1"]}
  {"id": "bob"}
]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": line 3, column \d+: .* in \S+nginx\.conf:\d+/



=== TEST 2: a missing file
--- user_files
>>> other.json
{}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": unable to open .*No such file.* in \S+nginx\.conf:\d+/



=== TEST 3: a key used twice (plaintext and its digest), the key itself never printed
--- user_files
>>> consumers.json
{"consumers": [
  {"id": "acme", "keys": ["k1", "test"]},
  {"id": "bob", "keys": ["sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"]}
]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": a key is used twice: key #\d of consumer "\w+" and key #\d of consumer "\w+" in \S+nginx\.conf:\d+/
--- no_error_log
"test"



=== TEST 4: an unknown plan
--- user_files
>>> consumers.json
{"plans": {"gold": {"limits": ["10r/s"]}},
 "consumers": [{"id": "acme", "plan": "platinum", "keys": ["k1"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer "acme": unknown plan "platinum" in \S+nginx\.conf:\d+/



=== TEST 5: a bad limit
--- user_files
>>> consumers.json
{"plans": {"gold": {"limits": ["10r/s", "10 per second"]}},
 "consumers": []}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": plan "gold": invalid limit "10 per second", must be like "100r\/s" \(per s, m, h or d\) in \S+nginx\.conf:\d+/



=== TEST 6: a consumer without id
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k1"]}, {"plan": null, "keys": ["k2"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer #2 has no "id" in \S+nginx\.conf:\d+/



=== TEST 7: a consumer id used twice
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k1"]}, {"id": "acme", "keys": ["k2"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer id "acme" is used twice in \S+nginx\.conf:\d+/



=== TEST 8: a "sha256:" key that is not 64 hex digits
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["sha256:abc"]}]}
--- must_die
--- error_log eval
qr/consumer "acme": key #1 starts with "sha256:" but is not followed by 64 hexadecimal digits in \S+nginx\.conf:\d+/



=== TEST 9: a duplicate member is refused (jansson's JSON_REJECT_DUPLICATES)
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "id": "other", "keys": ["k1"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": line 1, column \d+: duplicate object key/



=== TEST 10: an unknown member (a typo) is refused
--- user_files
>>> consumers.json
{"plans": {"gold": {"limit": ["10r/s"]}}, "consumers": []}
--- must_die
--- error_log eval
qr/plan "gold": unknown member "limit" in \S+nginx\.conf:\d+/



=== TEST 11: keys must be non-empty strings, ids printable strings
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": [""]}]}
--- must_die
--- error_log eval
qr/consumer "acme": key #1 must be a non-empty string in \S+nginx\.conf:\d+/



=== TEST 12: a consumer id with a control character
--- user_files
>>> consumers.json
{"consumers": [{"id": "ac\nme"}]}
--- must_die
--- error_log eval
qr/consumer #1: "id" must be a string of 1 to 256 printable characters/



=== TEST 13: api_led_auth key without api_led_consumers names the api_led_auth line
--- http_config
    # no consumers file
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/"api_led_auth key" requires "api_led_consumers" in the http block in \S+nginx\.conf:\d+/



=== TEST 14: api_led_auth_anonymous with an unknown consumer
--- user_files
>>> consumers.json
{"consumers": [{"id": "guest"}]}
--- config
    location /t {
        api_led_auth key;
        api_led_auth_anonymous nobody;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/api_led_auth_anonymous: no consumer "nobody" in the consumers file "\S+consumers\.json" in \S+nginx\.conf:\d+/



=== TEST 15: an invalid api_led_auth value
--- user_files
>>> consumers.json
{}
--- config
    location /t {
        api_led_auth basic;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/invalid value "basic", must be "off", "key", "jwt" or "key jwt" in \S+nginx\.conf:\d+/



=== TEST 16: an invalid key source
--- user_files
>>> consumers.json
{}
--- config
    location /t {
        api_led_auth key;
        api_led_key_source cookie:k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
--- must_die
--- error_log eval
qr/invalid key source "cookie:k", must be "header:NAME" or "query:NAME" in \S+nginx\.conf:\d+/



=== TEST 17: api_led_consumers is an http-level directive
--- http_config
    # none here
--- config
    api_led_consumers consumers.json;
--- must_die
--- error_log eval
qr/"api_led_consumers" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 18: a valid file with descriptions, null plan, nested metadata and no consumers' keys
--- user_files
>>> consumers.json
{"plans": {"gold": {"description": "SLA gold", "limits": ["10r/s", "1000r/d"]},
           "none": {}},
 "consumers": [
   {"id": "acme", "description": "Acme Corp", "plan": "gold",
    "metadata": {"tags": ["a", "b"], "vip": true}, "keys": ["k1"]},
   {"id": "jwt-only", "plan": null}
 ]}
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Meta "$api_led_consumer_meta_tags $api_led_consumer_meta_vip";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k1
--- response_headers
X-Meta: ["a","b"] true
--- no_error_log
[error]



=== TEST 19: a relative path is relative to the configuration prefix
--- http_config
    api_led_consumers ../html/consumers.json;
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k1"]}]}
--- request
GET /t
--- more_headers
X-API-Key: k1
--- response_body
ok



=== TEST 20: api_led_consumers may come after the directives that need it
--- http_config
    api_led_auth key;
    api_led_auth_anonymous guest;
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- user_files
>>> consumers.json
{"consumers": [{"id": "guest"}, {"id": "acme", "keys": ["k1"]}]}
--- config
    location /t {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Who $api_led_consumer;
    }
    location /echo {
        api_led_auth off;
        return 200 "ok\n";
    }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-API-Key: k1", ""]
--- response_headers eval
["X-Who: acme", "X-Who: guest"]



=== TEST 21: metadata numbers that no 64-bit integer holds are kept as written (the fuzzer's consumers file)
--- user_files
>>> consumers.json
{"consumers": [
   {"id": "acme", "keys": ["k1"],
    "metadata": {"n": 1222222222226222222222, "big": -1e999, "price": 1.50,
                 "o": {"x": [1, 2]}}}
 ]}
--- config
    location /t {
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
        add_header X-Meta "$api_led_consumer_meta_n $api_led_consumer_meta_big $api_led_consumer_meta_price $api_led_consumer_meta_o";
    }
    location /echo {
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
X-API-Key: k1
--- response_headers
X-Meta: 1222222222226222222222 -1e999 1.5 {"x":[1,2]}
--- no_error_log
[error]



=== TEST 22: an id written as a number is refused, even one that no 64-bit integer holds
--- user_files
>>> consumers.json
{"consumers": [{"id": 1222222222226222222222, "keys": ["k1"]}]}
--- must_die
--- error_log eval
qr/consumer #1: "id" must be a string of 1 to 256 printable characters/



=== TEST 23: a key written as a number is refused, even one that no 64-bit integer holds
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": [1222222222226222222222]}]}
--- must_die
--- error_log eval
qr/consumer "acme": key #1 must be a non-empty string in \S+nginx\.conf:\d+/



=== TEST 24: a plan's limit of more than one request a microsecond is refused, as api_led_rate_limit's
"2000000r/s" was taken, counted as 1000000r/s (T of one microsecond)
with RateLimit-Limit: 2000000; "9000000000000000000r/d" had a burst
that no double holds exactly.
--- user_files
>>> consumers.json
{"plans": {"gold": {"limits": ["10r/s", "2000000r/s"]}},
 "consumers": []}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": plan "gold": limit "2000000r\/s" is too high, at most one request a microsecond in \S+nginx\.conf:\d+/



=== TEST 25: a key with a NUL byte is refused, the file and line named, the key not printed
It was taken, and nginx -t said nothing: its digest held all its bytes,
so only a query's "%00" could ever present it.
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k1", "t025-secret\u0000tail"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer "acme": key #2 holds a NUL or control character in \S+nginx\.conf:\d+/
--- no_error_log
t025-secret



=== TEST 26: a key with another control byte is refused, as ids and metadata are
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["t026-a\u0001b"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer "acme": key #1 holds a NUL or control character in \S+nginx\.conf:\d+/
--- no_error_log
t026-a



=== TEST 27: a key with DEL is refused
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k1"]},
               {"id": "bob", "keys": ["t027-c\u007fd"]}]}
--- must_die
--- error_log eval
qr/consumers file "\S+consumers\.json": consumer "bob": key #1 holds a NUL or control character in \S+nginx\.conf:\d+/
--- no_error_log
t027-c
