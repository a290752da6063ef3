# Problem details cut to their buffers stay valid UTF-8 (issue 16): a failed
# part's detail (kept up to 256 bytes), the problem's own 512-byte detail,
# and the path of a merge conflict (256 bytes) are cut only between
# characters, so the answer is valid UTF-8 and valid JSON.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# U+20AC, three bytes in UTF-8: 256 and 512 fall inside a character
our $E = "\xe2\x82\xac";

our $Backend = <<"_EOC_";
    server {
        listen unix:\$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;

        location /problem {
            default_type application/problem+json;
            return 502 '{"detail":"@{[ $E x 100 ]}"}';
        }

        location /one {
            return 200 '{"x@{[ $E x 100 ]}":1}';
        }

        location /two {
            return 200 '{"x@{[ $E x 100 ]}":2}';
        }
    }
_EOC_

our $Parts = <<'_EOC_';
    location /sys/ {
        internal;
        proxy_pass http://unix:$TEST_NGINX_HTML_DIR/sys.sock:/;
    }
_EOC_

# the whole body is UTF-8: ASCII or complete sequences of two to four bytes
our $UTF8 = qr/(?:[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})*/;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a failed part's detail is cut to 256 bytes between characters
--- main_config
    load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
--- http_config eval
$::Backend
--- config eval
q{
    location /t {
        api_led_compose {
            p /sys/problem;
        }
    }
} . $::Parts
--- request
GET /t
--- error_code: 502
--- response_body_like eval
qr/^\{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"required parts failed: p \(502, (?:$::E){85}\)","correlation_id":"[^"]+"\}\n\z/



=== TEST 2: the problem's 512-byte detail is cut between characters
--- main_config
    load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
--- http_config eval
$::Backend
--- config eval
q{
    location /t {
        api_led_compose {
            a /sys/problem;
            b /sys/problem;
        }
    }
} . $::Parts
--- request
GET /t
--- error_code: 502
--- response_body_like eval
qr/^\{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"detail":"required parts failed: a \(502, (?:$::E){85}\), b \(502, (?:$::E){71}","correlation_id":"[^"]+"\}\n\z/



=== TEST 3: the path of a merge conflict is cut to 256 bytes between characters
--- main_config
    load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
--- http_config eval
$::Backend
--- config eval
q{
    location /t {
        api_led_compose_merge deep;
        api_led_compose {
            one /sys/one;
            two /sys/two;
        }
    }
} . $::Parts
--- request
GET /t
--- error_code: 502
--- response_body_like eval
qr/^\{"type":"urn:api-led:error:merge_conflict","title":"Merge conflict","status":502,"detail":"part two collides with an earlier part at \\"\/x(?:$::E){84}\\"","correlation_id":"[^"]+"\}\n\z/
--- error_log eval
qr/part "two" collides with an earlier part at "\/x(?:\\xE2\\x82\\xAC){84}"/



=== TEST 4: every answer above is valid UTF-8
--- main_config
    load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
--- http_config eval
$::Backend
--- config eval
q{
    location /t1 {
        api_led_compose {
            p /sys/problem;
        }
    }
    location /t2 {
        api_led_compose {
            a /sys/problem;
            b /sys/problem;
        }
    }
    location /t3 {
        api_led_compose_merge deep;
        api_led_compose {
            one /sys/one;
            two /sys/two;
        }
    }
} . $::Parts
--- request eval
["GET /t1", "GET /t2", "GET /t3"]
--- error_code eval
[502, 502, 502]
--- response_body_like eval
[qr/^$::UTF8\z/, qr/^$::UTF8\z/, qr/^$::UTF8\z/]



=== TEST 5: a lone surrogate in a part's detail or a conflict's path (valid JSON, kept by the parser) does not reach the answer: the text is cut before it
--- http_config
    server {
        listen unix:$TEST_NGINX_HTML_DIR/sys.sock;
        default_type application/json;
        location /problem {
            default_type application/problem+json;
            return 502 '{"detail":"ab\ud800cd"}';
        }
        location /one {
            return 200 '{"x\ud800y":1}';
        }
        location /two {
            return 200 '{"x\ud800y":2}';
        }
    }
--- config eval
q{
    location /t1 {
        api_led_compose {
            p /sys/problem;
        }
    }
    location /t2 {
        api_led_compose_merge deep;
        api_led_compose {
            one /sys/one;
            two /sys/two;
        }
    }
} . $::Parts
--- request eval
["GET /t1", "GET /t2"]
--- error_code eval
[502, 502]
--- response_body_like eval
[qr/^(?=$::UTF8\z).*"detail":"required parts failed: p \(502, ab\)"/,
 qr/^(?=$::UTF8\z).*"detail":"part two collides with an earlier part at \\"\/x\\""/]
