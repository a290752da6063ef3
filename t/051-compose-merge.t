# api_led_compose_merge: namespaced and deep, every conflict rule, always
# in declaration order (the first-declared part is the slowest here, so
# arrival order is the reverse of declaration order).
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Backend = <<'_EOC_';
    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        # arrives last
        location /profile {
            echo_sleep 0.2;
            echo '{"id":"c-42","name":"Ada","address":{"city":"London","zip":"N1"},"tags":["a"]}';
        }

        location /crm {
            echo_sleep 0.1;
            echo '{"id":"c-42","name":"Ada Lovelace","address":{"city":"Paris","country":"FR"},"score":7}';
        }

        # arrives first
        location /billing {
            return 200 '{"name":"A. Lovelace","address":{"zip":"75001"},"tags":["b"],"balance":12.75}';
        }

        location /list {
            return 200 '[1,2]';
        }

        location /text {
            default_type text/plain;
            return 200 'not json';
        }

        location /down {
            return 503;
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->main_config) {
        $block->set_value("main_config",
            "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", $::Backend);
    }

    if (defined $block->compose) {
        $block->set_value("config", $block->compose . q{
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
});
    }
});

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: namespaced is the default
--- compose
    location /t {
        api_led_compose {
            profile /sys/profile;
            billing /sys/billing;
            list    /sys/list;
        }
    }
--- request
GET /t
--- response_body
{"profile":{"id":"c-42","name":"Ada","address":{"city":"London","zip":"N1"},"tags":["a"]},"billing":{"name":"A. Lovelace","address":{"zip":"75001"},"tags":["b"],"balance":12.75},"list":[1,2]}
--- no_error_log
[error]



=== TEST 2: namespaced: a failed optional part is null
--- compose
    location /t {
        api_led_compose_merge namespaced;
        api_led_compose {
            billing /sys/billing;
            down    /sys/down optional;
            text    /sys/text optional;
        }
    }
--- request
GET /t
--- response_body
{"billing":{"name":"A. Lovelace","address":{"zip":"75001"},"tags":["b"],"balance":12.75},"down":null,"text":null}
--- response_headers
API-Led-Partial: down,text
--- error_log
part "text" answered invalid JSON



=== TEST 3: deep merge without collisions merges objects recursively
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            a /sys/a;
            b /sys/b;
        }
    }
    location /sys/a {
        internal;
        default_type application/json;
        return 200 '{"customer":{"id":1,"address":{"city":"London"}},"x":1}';
    }
    location /sys/b {
        internal;
        default_type application/json;
        return 200 '{"customer":{"name":"Ada","address":{"zip":"N1"}},"y":[true,null]}';
    }
--- request
GET /t
--- response_body
{"customer":{"id":1,"address":{"city":"London","zip":"N1"},"name":"Ada"},"x":1,"y":[true,null]}
--- no_error_log
[error]



=== TEST 4: deep, conflict=error (the default): 502 merge_conflict naming the part and the key
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            profile /sys/profile;
            crm     /sys/crm;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
^\{"type":"urn:api-led:error:merge_conflict","title":"Merge conflict","status":502,"detail":"part crm collides with an earlier part at \\"/name\\"","correlation_id":"[^"]+"\}$
--- response_headers
Content-Type: application/problem+json
--- error_log
part "crm" collides with an earlier part at "/name"



=== TEST 5: deep, conflict=first: the earliest declared part wins, whatever arrives first
--- compose
    location /t {
        api_led_compose_merge deep conflict=first;
        api_led_compose {
            profile /sys/profile;
            crm     /sys/crm;
            billing /sys/billing;
        }
    }
--- request
GET /t
--- response_body
{"id":"c-42","name":"Ada","address":{"city":"London","zip":"N1","country":"FR"},"tags":["a"],"score":7,"balance":12.75}
--- no_error_log
[error]



=== TEST 6: deep, conflict=last: the latest declared part wins, whatever arrives last
--- compose
    location /t {
        api_led_compose_merge deep conflict=last;
        api_led_compose {
            profile /sys/profile;
            crm     /sys/crm;
            billing /sys/billing;
        }
    }
--- request
GET /t
--- response_body
{"id":"c-42","name":"A. Lovelace","address":{"city":"Paris","zip":"75001","country":"FR"},"tags":["b"],"score":7,"balance":12.75}
--- no_error_log
[error]



=== TEST 7: deep, conflict=last, the other declaration order
--- compose
    location /t {
        api_led_compose_merge deep conflict=last;
        api_led_compose {
            billing /sys/billing;
            crm     /sys/crm;
            profile /sys/profile;
        }
    }
--- request
GET /t
--- response_body
{"name":"Ada","address":{"zip":"N1","city":"London","country":"FR"},"tags":["a"],"balance":12.75,"id":"c-42","score":7}
--- no_error_log
[error]



=== TEST 8: deep: a part that is not an object fails (required: 502)
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            billing /sys/billing;
            list    /sys/list;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: list \(200, not a JSON object\)"



=== TEST 9: deep: a failed optional part adds nothing and is named in API-Led-Partial
--- compose
    location /t {
        api_led_compose_merge deep conflict=first;
        api_led_compose {
            billing /sys/billing;
            list    /sys/list optional;
            down    /sys/down optional;
        }
    }
--- request
GET /t
--- response_body
{"name":"A. Lovelace","address":{"zip":"75001"},"tags":["b"],"balance":12.75}
--- response_headers
API-Led-Partial: list,down



=== TEST 10: deep: an object and a scalar under one key collide
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            a /sys/a;
            b /sys/b;
        }
    }
    location /sys/a {
        internal;
        default_type application/json;
        return 200 '{"customer":{"address":{"city":"London"}}}';
    }
    location /sys/b {
        internal;
        default_type application/json;
        return 200 '{"customer":{"address":"unknown"}}';
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"part b collides with an earlier part at \\"/customer/address\\""



=== TEST 11: what counts as JSON: any value at the top, strict RFC 8259, UTF-8
--- user_files eval
[
  ["j/string.json", '"a string"'],
  ["j/number.json", " -12.5e3 \n"],
  ["j/unicode.json", qq({"s":"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9"})],
  ["j/nested.json", '[[{"a":[{}]}],[]]'],
  ["j/comma.json", '{"a":1,}'],
  ["j/quote.json", "{'a':1}"],
  ["j/nan.json", '[NaN]'],
  ["j/two.json", '{} {}'],
  ["j/cut.json", '{"a":[1,2'],
  ["j/surrogate.json", '"\\ud800"'],
  ["j/latin1.json", qq("caf\xe9")],
  ["j/zero.json", '"a\\u0000b"'],
  ["j/lead0.json", '012'],
]
--- compose
    location /t {
        api_led_compose {
            string    /j/string.json;
            number    /j/number.json;
            unicode   /j/unicode.json;
            nested    /j/nested.json;
            comma     /j/comma.json optional;
            quote     /j/quote.json optional;
            nan       /j/nan.json optional;
            two       /j/two.json optional;
            cut       /j/cut.json optional;
            surrogate /j/surrogate.json optional;
            latin1    /j/latin1.json optional;
            zero      /j/zero.json optional;
            lead0     /j/lead0.json optional;
        }
    }
--- request
GET /t
--- response_body eval
qq({"string":"a string","number":-12.5e3,"unicode":{"s":"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9"},"nested":[[{"a":[{}]}],[]],"comma":null,"quote":null,"nan":null,"two":null,"cut":null,"surrogate":"\\ud800","latin1":null,"zero":"a\\u0000b","lead0":null}\n)
--- response_headers
API-Led-Partial: comma,quote,nan,two,cut,latin1,lead0



=== TEST 12: deep: numbers keep their value (19.99 stays 19.99), big integers too
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            a /sys/a;
            b /sys/b;
        }
    }
    location /sys/a {
        internal;
        default_type application/json;
        return 200 '{"price":19.99,"ratio":0.1,"e":1e300}';
    }
    location /sys/b {
        internal;
        default_type application/json;
        return 200 '{"id":9007199254740993,"neg":-0.5}';
    }
--- request
GET /t
--- response_body
{"price":19.99,"ratio":0.1,"e":1e+300,"id":9007199254740993,"neg":-0.5}



=== TEST 13: documents nested deeper than 1000 levels are refused, in both modes
--- user_files eval
[["deep.json", ("[" x 1001) . ("]" x 1001)], ["ok.json", ("[" x 1000) . ("]" x 1000)]]
--- compose
    location /t {
        api_led_compose {
            ok   /ok.json;
            deep /deep.json optional;
        }
    }
    location /d {
        api_led_compose_merge deep;
        api_led_compose {
            deep /deep.json;
        }
    }
--- request eval
["GET /t", "GET /d"]
--- error_code eval
[200, 502]
--- response_headers eval
["API-Led-Partial: deep", "Content-Type: application/problem+json"]



=== TEST 14: deep: names with \u0000 and lone surrogates, numbers beyond a double, merged as they were written
Two names that differ after a \u0000 are two members; a lone surrogate in
a name is a name like any other; numbers keep their digits.
--- compose
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            a /sys/a;
            b /sys/b;
        }
    }
    location /sys/a {
        internal;
        default_type application/json;
        return 200 '{"k\u0000x":1,"\ud800":{"p":1},"n":123456789012345678901234567890}';
    }
    location /sys/b {
        internal;
        default_type application/json;
        return 200 '{"k\u0000y":2,"\ud800":{"q":2},"m":1e400}';
    }
--- request
GET /t
--- response_body
{"k\u0000x":1,"\ud800":{"p":1,"q":2},"n":123456789012345678901234567890,"k\u0000y":2,"m":1e400}
