# nginx -t catches composition mistakes: cycles, unknown part names, more
# than 32 parts, bad part lines and bad merge settings.  Each message names
# the file and the line.
use Test::Nginx::Socket 'no_plan';

# 33 parts: one too many
our $TooMany = join "", map { "            p$_ /sys/x;\n" } 1 .. 33;
our $Max = join "", map { "            p$_ /x;\n" } 1 .. 32;

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a cycle through placeholders and after= fails nginx -t and names the parts
--- config
    location /t {
        api_led_compose {
            a "/sys/a?x={c/id}";
            b /sys/b after=a;
            c "/sys/c?x={b/id}";
            d /sys/d;
        }
    }
--- must_die
--- error_log eval
qr/parts depend on each other in a cycle: a -> c -> b -> a in \S+nginx\.conf:\d+/



=== TEST 2: a part that depends on itself
--- config
    location /t {
        api_led_compose {
            a "/sys/a?x={a/id}";
        }
    }
--- must_die
--- error_log eval
qr/parts depend on each other in a cycle: a -> a in \S+nginx\.conf:\d+/



=== TEST 3: an unknown part in a placeholder, with the part's own line
--- config
    location /t {
        api_led_compose {
            a /sys/a;
            b "/sys/b?x={nope/id}";
            c /sys/c;
        }
    }
--- must_die
--- error_log eval
qr/unknown part "nope" in placeholder "\{nope\/id\}" of part "b" in \S+nginx\.conf:(\d+)/



=== TEST 4: an unknown part in after=
--- config
    location /t {
        api_led_compose {
            a /sys/a after=b,zz;
            b /sys/b;
        }
    }
--- must_die
--- error_log eval
qr/unknown part "zz" in "after=" of part "a" in \S+nginx\.conf:\d+/



=== TEST 5: at most 32 parts
--- config eval
"location /t {\n        api_led_compose {\n$::TooMany        }\n    }\n"
--- must_die
--- error_log eval
qr/too many parts: at most 32 in \S+nginx\.conf:\d+/



=== TEST 6: 32 parts are fine
--- config eval
"location /t {\n        api_led_compose {\n$::Max        }\n    }\n    location /x { return 204; }\n"
--- request
GET /t
--- response_body_like chomp
^\{"p1":null,.*"p32":null\}$



=== TEST 7: duplicate part names
--- config
    location /t {
        api_led_compose {
            a /sys/a;
            a /sys/b;
        }
    }
--- must_die
--- error_log eval
qr/duplicate part name "a" in \S+nginx\.conf:\d+/



=== TEST 8: a part without a URI
--- config
    location /t {
        api_led_compose {
            a GET;
        }
    }
--- must_die
--- error_log eval
qr/part "a" needs a URI that starts with "\/" in \S+nginx\.conf:\d+/



=== TEST 9: unknown part parameters and bad timeouts
--- config
    location /t {
        api_led_compose {
            a /sys/a retries=3;
        }
    }
--- must_die
--- error_log eval
qr/invalid parameter "retries=3" in part "a" in \S+nginx\.conf:\d+/



=== TEST 10: a bad timeout
--- config
    location /t {
        api_led_compose {
            a /sys/a timeout=soon;
        }
    }
--- must_die
--- error_log eval
qr/invalid timeout "soon" in part "a" in \S+nginx\.conf:\d+/



=== TEST 11: a GET part has no body
--- config
    location /t {
        api_led_compose {
            a GET /sys/a 'body={"x":1}';
        }
    }
--- must_die
--- error_log eval
qr/part "a": a GET part has no body in \S+nginx\.conf:\d+/



=== TEST 12: an empty composition
--- config
    location /t {
        api_led_compose {
        }
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive has no parts in \S+nginx\.conf:\d+/



=== TEST 13: an invalid part name
--- config
    location /t {
        api_led_compose {
            9lives /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/invalid part name "9lives"/



=== TEST 14: a body with an unquoted brace is a config error (quote the whole parameter)
--- config
    location /t {
        api_led_compose {
            a POST /sys/a body={"x":1};
        }
    }
--- must_die
--- error_log eval
qr/unexpected "\{" in \S+nginx\.conf:\d+/



=== TEST 15: conflict= belongs to the deep merge
--- config
    location /t {
        api_led_compose_merge namespaced conflict=last;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/"conflict=" applies to the deep merge only in \S+nginx\.conf:\d+/



=== TEST 16: unknown merge modes and conflict rules
--- config
    location /t {
        api_led_compose_merge deep conflict=newest;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/invalid conflict rule "newest", must be "error", "first" or "last" in \S+nginx\.conf:\d+/



=== TEST 17: a success status must be 2xx
--- config
    location /t {
        api_led_compose_status 302;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/"api_led_compose_status" directive.*must be between 200 and 299|value must be between 200 and 299/



=== TEST 18: a composition and another content handler in one location
--- config
    location /t {
        proxy_pass http://127.0.0.1:1;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 19: a bad JSON Pointer escape
--- config
    location /t {
        api_led_compose {
            a /sys/a;
            b "/sys/b?x={a/x~2y}";
        }
    }
--- must_die
--- error_log eval
qr/invalid JSON Pointer "\/x~2y" in "\{a\/x~2y\}": has "~" not followed by "0" or "1" in \S+nginx\.conf:\d+/



=== TEST 20: unknown callers
--- config
    location /t {
        api_led_callers process backend;
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
qr/unknown caller "backend", must be "experience", "process", "system", "client" or "any" in \S+nginx\.conf:\d+/



=== TEST 21: a content handler set after the composition in one location (the block's file and line)
--- config
    location /t {
        api_led_compose {
            a /sys/a;
        }
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
qr/"api_led_compose" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 22: a largest part of 0 fails nginx -t (every composition failed with 502)
--- config
    location /t {
        api_led_compose_max_part_size 0;
        api_led_compose {
            a /sys/a;
        }
    }
--- must_die
--- error_log eval
qr/"api_led_compose_max_part_size" directive must be at least 1 byte \(there is no unlimited size\) in \S+nginx\.conf:\d+/
