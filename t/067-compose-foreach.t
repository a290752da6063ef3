# foreach=PART/POINTER: a part called once per element of an array, with
# {item} and {item/POINTER}, concurrency= at a time, at most max_items=;
# its answer is the array of answers in element order; an element's
# failure follows the part's required/optional rule.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use ApiLed::Peak;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# the slowest element takes 0.3 s, the three together 0.6 s; under
# valgrind everything is slower
our $ParallelRe = $ENV{TEST_NGINX_USE_VALGRIND} ? '(0\.[3-9]|1\.[0-4])\d*'
                                                 : '0\.[3-5]\d*';

our $Backend = <<'_EOC_';
    map $request_body $body_n {
        default                      none;
        "~,\"n\":(?<n>[0-9]+)}$"     $n;
    }

    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location = /orders {
            return 200 '{"customer":"c-42","orders":[{"id":"o-3","sleep":0.3},{"id":"o-1","sleep":0.1},{"id":"o-2","sleep":0.2}],"empty":[],"one":{"id":"o-1"}}';
        }

        location = /forty {
            return 200 '{"ids":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40]}';
        }

        location = /many {
            return 200 '{"ids":[1,2,3,4,5,6,7,8,9,10,11,12]}';
        }

        location /order/ {
            echo_sleep $arg_s;
            echo '{"order":"$arg_id","at":"$msec"}';
        }

        location /fast/ {
            return 200 '{"n":"$arg_n"}';
        }

        location = /fail {
            if ($arg_id = "o-1") {
                return 404 '{"error":"gone"}';
            }
            return 200 '{"ok":"$arg_id"}';
        }

        location /nothing {
            return 204;
        }

        location /echo {
            echo_read_request_body;
            echo '{"received":$request_body}';
        }

        location = /tail {
            client_max_body_size 2m;
            client_body_buffer_size 2m;
            echo_read_request_body;
            echo '{"got":$content_length,"n":$body_n}';
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("main_config",
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;");
    $block->set_value("http_config", $::Backend);

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

=== TEST 1: one call per element, in parallel, answers in element order (not arrival order)
--- compose
    location /t {
        api_led_compose {
            list    /sys/orders;
            details "/sys/order/x?id={item/id}&s={item/sleep}" foreach=list/orders;
        }
        add_header X-Compose $api_led_compose_status;
        add_header X-Elapsed $request_time;
    }
--- request
GET /t
--- response_body_like chomp
^\{"list":\{"customer":"c-42","orders":\[.*\],"empty":\[\],"one":\{"id":"o-1"\}\},"details":\[\{"order":"o-3","at":"[\d.]+"\},\{"order":"o-1","at":"[\d.]+"\},\{"order":"o-2","at":"[\d.]+"\}\]\}$
--- response_headers_like eval
"X-Compose: list:200,details:200\nX-Elapsed: $::ParallelRe"
--- no_error_log
[error]



=== TEST 2: concurrency=1: one element after the other
--- compose
    location /t {
        api_led_compose {
            list    /sys/orders;
            details "/sys/order/x?id={item/id}&s={item/sleep}" foreach=list/orders concurrency=1;
        }
        add_header X-Elapsed $request_time;
    }
--- request
GET /t
--- response_body_like chomp
"details":\[\{"order":"o-3".*\{"order":"o-1".*\{"order":"o-2"
--- response_headers_like
X-Elapsed: (0\.[6-9]|1\.\d)\d*



=== TEST 3: {item} is the element, in a body too; an empty array answers []
--- compose
    location /t {
        api_led_compose {
            list  /sys/orders;
            sent  POST /sys/echo 'body={"order":{item},"label":"order {item/id}"}' foreach=list/orders;
            none  "/sys/order/x?id={item/id}" foreach=list/empty;
        }
    }
--- request
GET /t
--- response_body_like chomp
"sent":\[\{"received":\{"order":\{"id":"o-3","sleep":0.3\},"label":"order o-3"\}\},\{"received":\{"order":\{"id":"o-1","sleep":0.1\},"label":"order o-1"\}\},\{"received":\{"order":\{"id":"o-2","sleep":0.2\},"label":"order o-2"\}\}\],"none":\[\]\}$



=== TEST 4: an array at the top of a part, and a 204 element is null
--- compose
    location /t {
        api_led_compose {
            ids   /sys/many;
            n     "/sys/fast/x?n={item}" foreach=ids/ids concurrency=5;
            empty "/sys/nothing?n={item}" foreach=ids/ids max_items=12;
        }
    }
--- request
GET /t
--- response_body_like chomp
"n":\[\{"n":"1"\},\{"n":"2"\},\{"n":"3"\},\{"n":"4"\},\{"n":"5"\},\{"n":"6"\},\{"n":"7"\},\{"n":"8"\},\{"n":"9"\},\{"n":"10"\},\{"n":"11"\},\{"n":"12"\}\],"empty":\[null,null,null,null,null,null,null,null,null,null,null,null\]\}$



=== TEST 5: a required part's element fails: the part fails (502), no further element starts
--- compose
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            list    /sys/orders;
            checked "/sys/fail?id={item/id}" foreach=list/orders concurrency=1;
        }
        add_header X-Compose $api_led_compose_status always;
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: checked \(404\)"
--- response_headers
X-Compose: list:200,checked:404
--- grep_error_log eval
qr{http request line: "GET /fail\?id=o-\d}
--- grep_error_log_out
http request line: "GET /fail?id=o-3
http request line: "GET /fail?id=o-1



=== TEST 6: an optional part's element fails: null in its place, API-Led-Partial names the part
--- compose
    location /t {
        api_led_compose {
            list    /sys/orders;
            checked "/sys/fail?id={item/id}" foreach=list/orders optional;
        }
    }
--- request
GET /t
--- response_body_like chomp
"checked":\[\{"ok":"o-3"\},null,\{"ok":"o-2"\}\]\}$
--- response_headers
API-Led-Partial: checked



=== TEST 7: not an array: the part does not run
--- compose
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            list    /sys/orders;
            details "/sys/order/x?id={item/id}" foreach=list/one;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: details \(not run: list/one is not an array\)"
--- error_log
api_led_compose: part "details" not run: "list/one" is not an array



=== TEST 8: more elements than max_items: the part does not run
--- compose
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            ids  /sys/many;
            n    "/sys/fast/x?n={item}" foreach=ids/ids max_items=10;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: n \(not run: more elements than max_items\)"
--- error_log
api_led_compose: part "n" not run: "ids/ids" has 12 elements, more than max_items=10



=== TEST 9: an element times out: 504 for a required part, null for an optional one
--- compose
    location /t {
        api_led_compose {
            list  /sys/orders;
            slow  "/sys/order/x?id={item/id}&s={item/sleep}" foreach=list/orders timeout=150ms;
        }
    }
    location /u {
        api_led_compose {
            list  /sys/orders;
            slow  "/sys/order/x?id={item/id}&s={item/sleep}" foreach=list/orders timeout=150ms optional;
        }
    }
--- request eval
["GET /t", "GET /u"]
--- error_code eval
[504, 200]
--- response_body_like eval
[qr/"type":"urn:api-led:error:upstream_timeout"/,
 qr/"slow":\[null,\{"order":"o-1","at":"[\d.]+"\},null\]\}$/]



=== TEST 10: an element whose placeholder has no value does not run and fails as any part does
--- compose
    location /t {
        api_led_problem_detail full;
        api_led_compose {
            list  /sys/orders;
            bad   "/sys/fast/x?n={item/nope}" foreach=list/orders;
        }
    }
--- request
GET /t
--- error_code: 502
--- response_body_like chomp
"detail":"required parts failed: bad \(not run: \{item/nope\} not found\)"



=== TEST 11: another part uses the array of answers
--- compose
    location /t {
        api_led_compose {
            list    /sys/orders;
            details "/sys/order/x?id={item/id}&s=0" foreach=list/orders;
            first   "/sys/fast/x?n={details/0/order}";
        }
    }
--- request
GET /t
--- response_body_like chomp
"first":\{"n":"o-3"\}\}$



=== TEST 12: a client that goes away while elements run: nothing is left behind
--- compose
    location /t {
        api_led_compose {
            list  /sys/orders;
            slow  "/sys/order/x?id={item/id}&s=1" foreach=list/orders;
        }
    }
--- request
GET /t
--- timeout: 0.3
--- abort
--- ignore_response
--- wait: 1.5
--- no_error_log
[alert]
[crit]



=== TEST 13: nginx -t: {item} without foreach=
--- config
    location /t {
        api_led_compose {
            a "/x?id={item/id}";
        }
    }
--- must_die
--- error_log eval
qr/part "a" uses \{item\} without "foreach=" in \S+nginx\.conf:\d+/



=== TEST 14: nginx -t: foreach= of an unknown part, and a foreach part in a deep merge
--- config
    location /t {
        api_led_compose {
            a "/x?id={item/id}" foreach=nope/list;
        }
    }
--- must_die
--- error_log eval
qr/unknown part "nope" in "foreach=" of part "a" in \S+nginx\.conf:\d+/



=== TEST 15: nginx -t: a foreach part answers an array, the deep merge takes objects
--- config
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            list /x;
            a "/x?id={item/id}" foreach=list/items;
        }
    }
--- must_die
--- error_log eval
qr/part "a" answers an array \(foreach=\): the deep merge takes objects only, use "api_led_compose_merge namespaced" in \S+nginx\.conf:\d+/



=== TEST 16: nginx -t: concurrency= without foreach=, and bounds
--- config
    location /t {
        api_led_compose {
            a /x concurrency=2;
        }
    }
--- must_die
--- error_log eval
qr/part "a": "concurrency=" and "max_items=" go with "foreach=" in \S+nginx\.conf:\d+/



=== TEST 17: nginx -t: max_items out of bounds
--- config
    location /t {
        api_led_compose {
            list /x;
            a "/x?id={item}" foreach=list max_items=5000;
        }
    }
--- must_die
--- error_log eval
qr/invalid "max_items=5000" in part "a": 1 to 1000 in \S+nginx\.conf:\d+/



=== TEST 18: a part's named captures are its own: a later part of each element's composition renders its own id
--- compose
    location /t {
        api_led_compose {
            orders  /sys/orders;
            each    "/process/order/{item/id}" foreach=orders/orders;
        }
    }
    location ~ ^/process/order/(?<order_id>o-[0-9]+)$ {
        api_led_compose {
            first   "/sys/order/x?id=$order_id&s=0.1";
            second  "/sys/fast/x?n=$order_id" after=first;
        }
    }
--- request
GET /t
--- response_body_like chomp
"each":\[\{"first":\{"order":"o-3",[^}]+\},"second":\{"n":"o-3"\}\},\{"first":\{"order":"o-1",[^}]+\},"second":\{"n":"o-1"\}\},\{"first":\{"order":"o-2",[^}]+\},"second":\{"n":"o-2"\}\}\]



=== TEST 19: a foreach part whose body reads the client's body holds no copy of it for each element once the element's call is over (40 elements, a 1 MB body: 93 MB with two copies each, 53 MB with one, now 17 MB)
--- compose
    location /t {
        client_max_body_size 2m;
        client_body_buffer_size 2m;
        api_led_compose POST {
            ids   /sys/forty;
            each  POST /sink 'body={"r":{request},"n":{item}}' foreach=ids/ids;
        }
    }
    location = /sink {
        default_type application/json;
        return 200 '{"got":$content_length}';
    }
--- init
my $body = '{"pad":"' . ('x' x (1024 * 1024)) . '"}';
my ($st, $rbody, $hwm) = ApiLed::Peak::post_peak('/t', $body);
Test::More::is($st, 200, 'TEST 19: the composition answered');
my $len = length($body) + length('{"r":,"n":1}');
Test::More::like($rbody, qr/"each":\[\{"got":$len\},/,
                 'TEST 19: each element sent the client\'s body');
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 32 * 1024,
                       'TEST 19: peak resident memory under 32 MB');
    Test::More::diag("TEST 19: peak resident memory $hwm kB")
        if $ENV{TEST_NGINX_VERBOSE};
}
--- request
GET /t
--- error_code: 405



=== TEST 20: the same where the calls are proxied: each element's body reaches the system whole (the upstream is done with it before it is given back), and the peak stays low
--- compose
    location /t {
        client_max_body_size 2m;
        client_body_buffer_size 2m;
        api_led_compose POST {
            ids   /sys/forty;
            each  POST /sys/tail 'body={"r":{request},"n":{item}}' foreach=ids/ids;
        }
    }
--- init
my $body = '{"pad":"' . ('x' x (1024 * 1024)) . '"}';
my ($st, $rbody, $hwm) = ApiLed::Peak::post_peak('/t', $body);
Test::More::is($st, 200, 'TEST 20: the composition answered');
my $base = length($body) + length('{"r":,"n":}');
my $each = join(",", map { '{"got":' . ($base + length($_)) . ',"n":' . $_ . '}' } 1 .. 40);
Test::More::ok(index($rbody, '"each":[' . $each . ']') >= 0,
               'TEST 20: every element sent its whole body')
    or Test::More::diag(substr($rbody, 0, 600));
if (ApiLed::Peak::measurable()) {
    Test::More::cmp_ok($hwm, '<', 48 * 1024,
                       'TEST 20: peak resident memory under 48 MB');
    Test::More::diag("TEST 20: peak resident memory $hwm kB")
        if $ENV{TEST_NGINX_VERBOSE};
}
--- request
GET /t
--- error_code: 405
