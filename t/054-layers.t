# The layer contract: api_led_callers, checked for client requests and for
# subrequests (the parts of a composition): experience -> process -> system.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Layers = <<'_EOC_';
    # Experience API: clients call it, it calls Process APIs
    location /v1/customer {
        api_led_api customer-experience layer=experience;
        api_led_callers client;
        api_led_compose {
            profile /process/profile;
        }
    }

    # an Experience API that skips the Process layer (a variable in the
    # part's path: nginx -t cannot tell, the request path refuses it)
    location /v1/shortcut {
        api_led_api shortcut-experience layer=experience;
        api_led_problem_detail full;
        api_led_compose {
            record /system/customers$is_args$args;
        }
        add_header X-Compose $api_led_compose_status always;
    }

    # a composition in a location that is no API at all
    location /plain {
        api_led_compose {
            record /system/customers$is_args$args;
        }
    }

    # Process API: called by Experience APIs, calls System APIs
    location /process/profile {
        api_led_api customer-process layer=process;
        api_led_callers experience;
        api_led_compose {
            record /system/customers;
        }
    }

    # System API: only Process APIs may call it
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_callers process;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/db;
    }

    location /db {
        default_type application/json;
        return 200 '{"id":"c-42"}';
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value("config", $::Layers);
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: experience -> process -> system is allowed
--- request
GET /v1/customer
--- response_body
{"profile":{"record":{"id":"c-42"}}}
--- no_error_log
[error]



=== TEST 2: a client calling a System API directly: 403 layer_violation, logged
--- request
GET /system/customers
--- error_code: 403
--- response_body_like chomp
^\{"type":"urn:api-led:error:layer_violation","title":"Layer violation","status":403,"detail":"the client layer may not call this API","correlation_id":"[^"]+"\}$
--- response_headers
Content-Type: application/problem+json
--- error_log
api_led: layer violation: api "customers-db" called by a client, allowed callers: process



=== TEST 3: an Experience API calling a System API: the part gets 403, the composition 502
--- request
GET /v1/shortcut
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: record \(403, the experience layer may not call this API\)"
--- response_headers
X-Compose: record:403
--- error_log
api_led: layer violation: api "customers-db" called from "/v1/shortcut" (api "shortcut-experience", layer experience), allowed callers: process



=== TEST 4: a location without a layer is no Process API
--- request
GET /plain
--- error_code: 502
--- error_log
api_led: layer violation: api "customers-db" called from "/plain" (api "-", layer none), allowed callers: process



=== TEST 5: a client calling a Process API directly
--- request
GET /process/profile
--- error_code: 403
--- error_log
api_led: layer violation: api "customer-process" called by a client, allowed callers: experience



=== TEST 6: several callers, "client" among them
--- config
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_callers process client;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/db;
    }
    location /db {
        default_type application/json;
        return 200 '{"id":"c-42"}';
    }
--- request
GET /system/customers
--- response_body chomp
{"id":"c-42"}



=== TEST 7: "any" lets every caller through, also locations without a layer
--- config
    location /plain {
        api_led_compose {
            record /system/customers;
        }
    }
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_callers any;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/db;
    }
    location /db {
        default_type application/json;
        return 200 '{"id":"c-42"}';
    }
--- request eval
["GET /plain", "GET /system/customers"]
--- response_body eval
["{\"record\":{\"id\":\"c-42\"}}\n", "{\"id\":\"c-42\"}"]
--- no_error_log
[error]



=== TEST 8: the contract is inherited from the server and checked before authentication
--- config
    api_led_callers process;
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_auth key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/db;
    }
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k-acme"]}]}
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- request
GET /system/customers
--- error_code: 403
--- error_log
layer violation



=== TEST 9: a client refused by the contract before authentication: its query key is hidden from the logs as authentication would hide it
--- config
    location /system/customers {
        api_led_api customers-db layer=system;
        api_led_callers process;
        api_led_auth key;
        api_led_key_source query:api_key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/db;
        add_header X-Vars "[$request] [$request_uri] [$args]" always;
    }
--- user_files
>>> consumers.json
{"consumers": [{"id": "acme", "keys": ["k-acme"]}]}
--- http_config
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
--- request
GET /system/customers?a=1&api_key=k-acme
--- error_code: 403
--- response_headers
X-Vars: [GET /system/customers?a=1 HTTP/1.1] [/system/customers?a=1] [a=1]
--- error_log
allowed callers: process, client: 127.0.0.1, server: localhost, request: "GET /system/customers?a=1 HTTP/1.1"
