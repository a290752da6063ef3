# api_led_catalog: every API of the configuration with what each concern
# knows of it, as JSON, or as one HTML page when Accept asks; the OpenAPI
# document of an API (spec=) served from it.  Never a key or a secret.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use ApiLed::ConfTime;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $Consumers = <<'JSON';
{"plans": {"gold": {"limits": ["100r/s", "5000r/d"]}},
 "consumers": [{"id": "acme", "plan": "gold", "keys": ["k-secret-acme-1"]}]}
JSON

# an HS256 key: its "k" must never show
our $Jwks = <<'JSON';
{"keys": [{"kty": "oct", "kid": "h1", "alg": "HS256",
           "k": "c2VjcmV0LWtleS1ub2JvZHktbXVzdC1zZWUtMTIzNDU2Nzg"}]}
JSON

our $Spec = <<'JSON';
{"openapi": "3.0.3", "info": {"title": "Orders", "version": "2"}, "paths": {}}
JSON
chomp $Spec;

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("user_files", <<FILES) unless defined $block->user_files;
>>> consumers.json
$::Consumers
>>> jwks.json
$::Jwks
>>> orders.json
$::Spec
FILES
    $block->set_value("http_config", <<'CONF') unless defined $block->http_config;
    api_led_consumers $TEST_NGINX_HTML_DIR/consumers.json;
CONF
});

# The catalog is built at nginx -t in a time that grows with the API
# locations, not with their square: 8000 of them took 13 times the time
# of 2000 (5 s), each new entry searched among all the others.  Nested
# locations (50 a level) keep nginx's own sort of the locations out of it.
sub catalog_http {
    my ($n) = @_;
    my $http = " server {\n  location = /catalog { api_led_catalog; }\n";
    for my $g (0 .. $n / 50 - 1) {
        $http .= "  location /g$g/ {\n";
        for my $i (0 .. 49) {
            $http .= "   location /g$g/a$i { api_led_api a${g}_$i "
                     . "version=v1 spec=\$dir/spec.json; return 200; }\n";
        }
        $http .= "  }\n";
    }
    return $http . " }\n";
}

SKIP: {
    skip "too slow under valgrind", 1 if $ENV{TEST_NGINX_USE_VALGRIND};
    my $spec = { 'spec.json' =>
                 '{"openapi": "3.0.3", "info": {}, "paths": {}}' };
    my $small = ApiLed::ConfTime::nginx_t_seconds(catalog_http(2000), $spec);
    my $large = ApiLed::ConfTime::nginx_t_seconds(catalog_http(8000), $spec);
    cmp_ok($large / $small, '<', 8,
           sprintf("TEST catalog-scaling: nginx -t of 8000 API locations "
                   . "takes less than 8 times that of 2000 (%.2f s, %.2f s)",
                   $large, $small));
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the JSON catalog of one API, every member as the concerns describe it
--- config
    location /v1/orders {
        api_led_api orders layer=experience version=v2
                    deprecated=2026-01-01 sunset=2027-01-01
                    spec=$TEST_NGINX_HTML_DIR/orders.json;
        api_led_callers client;
        api_led_auth key;
        api_led_rate_limit plan;
        api_led_rate_limit 10r/s burst=5 key=$remote_addr;
        limit_except GET POST { deny all; }
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_headers
Content-Type: application/json
Vary: Accept
--- response_body chomp
{"apis":[{"id":"orders@v2","name":"orders","layer":"experience","version":"v2","servers":["localhost"],"location":"/v1/orders","methods":["GET","HEAD","POST"],"callers":["client"],"deprecated":"2026-01-01T00:00:00Z","sunset":"2027-01-01T00:00:00Z","auth":{"methods":["key"],"key_sources":[{"in":"header","name":"X-API-Key"}]},"limits":[{"plan":true,"key":"consumer, or address","store":"local"},{"rate":"10r/s","burst":5,"key":"$remote_addr","store":"local"}],"spec":"?spec=orders@v2"}],"plans":{"gold":{"limits":["100r/s","5000r/d"]}},"layers":["experience","process","system"]}
--- no_error_log
[error]



=== TEST 2: parts and the APIs they call, in the same server; other locations are no APIs
--- config
    location /v1/customers {
        api_led_api customers layer=experience;
        api_led_compose {
            record  "/system/customers/$arg_id";
            orders  "/system/orders?customer=$arg_id" optional timeout=2s;
            extra   "/not-an-api/x";
        }
    }
    location /system/customers/ {
        api_led_api customers-db layer=system;
        api_led_callers process experience;
        return 200 "{}";
    }
    location ~ ^/system/orders$ {
        api_led_api orders-db layer=system;
        return 200 "{}";
    }
    location /not-an-api/ {
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_like eval
qr/^\{"apis":\[\{"id":"customers","name":"customers","layer":"experience","version":null,"servers":\["localhost"\],"location":"\/v1\/customers","methods":\["\*"\],"parts":\[\{"name":"record","method":"GET","uri":"\/system\/customers\/\$arg_id","optional":false,"api":"customers-db"\},\{"name":"orders","method":"GET","uri":"\/system\/orders\?customer=\$arg_id","optional":true,"timeout_ms":2000,"api":"orders-db"\},\{"name":"extra","method":"GET","uri":"\/not-an-api\/x","optional":false\}\],"merge":"namespaced","calls":\["customers-db","orders-db"\]\},\{"id":"customers-db",[^{}]*"location":"\/system\/customers\/"[^{}]*"callers":\["experience","process"\]\},\{"id":"orders-db",[^{}]*"location":"~ \^\/system\/orders\$"[^{}]*\}\],"plans":/



=== TEST 3: JWT: algorithms, where the keys are, the claims required; no key, no API key
--- config
    location /v1/partners {
        api_led_api partners layer=experience;
        api_led_auth key jwt;
        api_led_jwt_keys $TEST_NGINX_HTML_DIR/jwks.json;
        api_led_jwt_algorithms HS256;
        api_led_jwt_require iss https://idp.example/;
        api_led_jwt_require aud partners-api;
        api_led_jwt_require exp;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location /echo {
        return 200 "ok\n";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_like eval
qr/"jwt":\{"algorithms":\["HS256"\],"required":\[\{"claim":"iss","rule":"iss","values":\["https:\/\/idp\.example\/"\]\},\{"claim":"aud","rule":"aud","values":\["partners-api"\]\},\{"claim":"exp","rule":"present","values":\[\]\}\],"consumer_claim":"sub"\},"auth":\{"methods":\["key","jwt"\],"key_sources":\[\{"in":"header","name":"X-API-Key"\}\]\}/
--- response_body_unlike eval
qr/c2VjcmV0|k-secret|sha256|"k"/



=== TEST 4: the spec of an API, served from the catalog
--- config
    location /v1/orders {
        api_led_api orders layer=experience version=v2
                    spec=$TEST_NGINX_HTML_DIR/orders.json;
        return 204;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog?spec=orders%40v2
--- response_headers
Content-Type: application/json
--- response_body
{"openapi": "3.0.3", "info": {"title": "Orders", "version": "2"}, "paths": {}}



=== TEST 5: an unknown spec: 404, a problem that does not repeat the name
--- config
    location /v1/orders {
        api_led_api orders layer=experience version=v2
                    spec=$TEST_NGINX_HTML_DIR/orders.json;
        return 204;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog?spec=%3Cscript%3E
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
--- response_body_like eval
qr/"type":"urn:api-led:error:no_such_spec".*"status":404/
--- response_body_unlike eval
qr/script/



=== TEST 6: the page when a browser asks, HTML-escaped, with the layers and no script
--- config
    location ~ "^/v1/(?<x>[a-z]+)<b>$" {
        api_led_api evil layer=experience "version=<i>1</i>";
        return 204;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- more_headers
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8
--- response_headers
Content-Type: text/html; charset=utf-8
Vary: Accept
--- response_body_like eval
qr/^<!DOCTYPE html>.*<g class="band" data-layer="experience">.*<g class="api" data-api="evil@&lt;i&gt;1&lt;\/i&gt;" data-layer="experience">.*~ \^\/v1\/\(\?&lt;x&gt;\[a-z\]\+\)&lt;b&gt;\$.*<\/html>\n\z/s
--- response_body_unlike eval
qr/<script|<i>|<b>/



=== TEST 7: HEAD, and no body for it
--- config
    location = /catalog {
        api_led_catalog;
    }
--- request
HEAD /catalog
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 8: other methods: 405 with Allow, a problem
--- config
    location = /catalog {
        api_led_catalog;
    }
--- request
DELETE /catalog
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/problem+json



=== TEST 9: a configuration without APIs has an empty catalog
--- http_config
--- config
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body chomp
{"apis":[],"layers":["experience","process","system"]}



=== TEST 10: if and limit_except blocks belong to their location; nested locations are entries
--- config
    location /v1/ {
        api_led_api outer layer=process;
        if ($arg_x) {
            set $y 1;
        }
        limit_except GET { deny all; }
        location /v1/inner {
            api_led_api inner layer=system;
            return 204;
        }
        return 204;
    }
    location @named {
        api_led_api named;
        return 204;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body chomp
{"apis":[{"id":"outer","name":"outer","layer":"process","version":null,"servers":["localhost"],"location":"/v1/","methods":["GET","HEAD"]},{"id":"inner","name":"inner","layer":"system","version":null,"servers":["localhost"],"location":"/v1/inner","methods":["*"]},{"id":"named","name":"named","layer":null,"version":null,"servers":["localhost"],"location":"@named","methods":["*"]}],"plans":{"gold":{"limits":["100r/s","5000r/d"]}},"layers":["experience","process","system"]}



=== TEST 11: api_led_metrics without a zone fails nginx -t
--- http_config
--- config
    location = /metrics {
        api_led_metrics;
    }
--- must_die
--- error_log eval
qr/"api_led_metrics" needs an "api_led_metrics_zone" in the http block in \S+nginx\.conf:\d+/



=== TEST 12: a bad zone fails nginx -t
--- http_config
    api_led_metrics_zone nosize;
--- config
--- must_die
--- error_log eval
qr/invalid zone "nosize", must be NAME:SIZE in \S+nginx\.conf:\d+/



=== TEST 13: buckets must grow
--- http_config
    api_led_metrics_zone m:1m;
    api_led_metrics_buckets 0.1 0.05;
--- config
--- must_die
--- error_log eval
qr/bucket "0\.05" is not greater than the one before in \S+nginx\.conf:\d+/



=== TEST 14: configuration text that is not UTF-8 (Latin-1 bytes): each entry once and whole, U+FFFD for the byte
--- http_config
--- config eval
"location /v1/caf\xe9 {
    api_led_api cafe version=v\xff;
    api_led_compose {
        menu \"/menu/caf\xe9\";
    }
}
location /menu/ {
    api_led_api menu;
    return 200 '{}';
}
location = /catalog {
    api_led_catalog;
}"
--- request
GET /catalog
--- response_body eval
'{"apis":[{"id":"cafe@v' . "\xef\xbf\xbd" . '","name":"cafe","layer":null,"version":"v' . "\xef\xbf\xbd" . '","servers":["localhost"],"location":"/v1/caf' . "\xef\xbf\xbd" . '","methods":["*"],"parts":[{"name":"menu","method":"GET","uri":"/menu/caf' . "\xef\xbf\xbd" . '","optional":false,"api":"menu"}],"merge":"namespaced","calls":["menu"]},{"id":"menu","name":"menu","layer":null,"version":null,"servers":["localhost"],"location":"/menu/","methods":["*"]}],"layers":["experience","process","system"]}'



=== TEST 15: the page of such a configuration (nginx -t crashed drawing an API without id)
--- http_config
--- config eval
"location /v1/caf\xe9 {
    api_led_api cafe version=v\xff;
    return 200;
}
location /menu/ {
    api_led_api menu;
    return 200 '{}';
}
location = /catalog {
    api_led_catalog;
}"
--- request
GET /catalog
--- more_headers
Accept: text/html
--- response_body_like: class="card" id="api-cafe@v\xef\xbf\xbd"
--- no_error_log
[alert]



=== TEST 16: a content handler set after api_led_catalog fails nginx -t (the location proxied, silently)
--- http_config
--- config
    location = /catalog {
        api_led_catalog;
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
qr/"api_led_catalog" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 17: the same after api_led_metrics
--- http_config
    api_led_metrics_zone t063:1m;
--- config
    location = /metrics {
        api_led_metrics;
        proxy_pass http://127.0.0.1:1;
    }
--- must_die
--- error_log eval
qr/"api_led_metrics" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 18: a zone too small for its max_series fails nginx -t, naming the file and line
--- http_config
    api_led_metrics_zone t063:64k max_series=100000;
--- config
--- must_die
--- error_log eval
qr/api_led_metrics_zone "t063" is too small for max_series=100000 in \S+nginx\.conf:\d+/
--- no_error_log
[crit]



=== TEST 19: the catalog and the metrics in one location fail nginx -t (one of them would answer)
--- http_config
    api_led_metrics_zone t063:1m;
--- config
    location = /both {
        api_led_metrics;
        api_led_catalog;
    }
--- must_die
--- error_log eval
qr/"api_led_catalog" directive conflicts with another content handler of the location in \S+nginx\.conf:\d+/



=== TEST 20: a case-insensitive regular expression shows as "~*", a case-sensitive one as "~"
--- config
    location ~* ^/v1/ORDERS$ {
        api_led_api orders layer=experience;
        return 200;
    }
    location ~ ^/v1/items$ {
        api_led_api items layer=experience;
        return 200;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_like: "location":"~\* \^/v1/ORDERS\$".*"location":"~ \^/v1/items\$"
--- no_error_log
[error]



=== TEST 21: deprecated= and sunset= of 1970-01-01 show in the catalog
--- config
    location /v1/orders {
        api_led_api orders layer=experience
                    deprecated=1970-01-01 sunset=1970-01-01;
        return 200;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_like: "deprecated":"1970-01-01T00:00:00Z","sunset":"1970-01-01T00:00:00Z"
--- no_error_log
[error]



=== TEST 22: a regular expression server name shows as written, with its "~"
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        server_name ~^api\d+\.example$ www.example;
        location /v1/items {
            api_led_api items layer=system;
            return 200;
        }
        location = /catalog {
            api_led_catalog;
        }
    }
--- config
--- request
GET /catalog
--- response_body_like: "servers":\["~\^api\\\\d\+\\\\.example\$","www.example"\]
--- no_error_log
[error]



=== TEST 23: ?spec= reaches a spec whose version holds "?" (as the catalog's own link writes it)
--- config
    location /v1/orders {
        api_led_api orders "version=v1?beta" spec=$TEST_NGINX_HTML_DIR/orders.json;
        return 200;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request eval
["GET /catalog", "GET /catalog?spec=orders\@v1%3Fbeta"]
--- response_body_like eval
[qr/"spec":"\?spec=orders\@v1%3Fbeta"/, qr/^\Q$::Spec\E$/]
--- error_code eval
[200, 200]
--- no_error_log
[error]



=== TEST 24: ?spec= with a malformed escape is no spec: 404 no_such_spec, as an unknown name
nginx's unescaping drops a "%" without two hex digits after it:
"orders%40v2%", "orders%40v2%4" and "orders%40%v2" were the spec
"orders@v2", served.  A well-formed escape still reaches it (TEST 4).
--- config
    location /v1/orders {
        api_led_api orders layer=experience version=v2
                    spec=$TEST_NGINX_HTML_DIR/orders.json;
        return 204;
    }
    location = /catalog {
        api_led_catalog;
    }
--- request eval
["GET /catalog?spec=orders%40v2%", "GET /catalog?spec=orders%40v2%4",
 "GET /catalog?spec=orders%40%v2", "GET /catalog?spec=orders%40v2%zz"]
--- error_code eval
[404, 404, 404, 404]
--- response_headers eval
["Content-Type: application/problem+json",
 "Content-Type: application/problem+json",
 "Content-Type: application/problem+json",
 "Content-Type: application/problem+json"]
--- response_body_like eval
[qr/"type":"urn:api-led:error:no_such_spec".*"status":404/,
 qr/"type":"urn:api-led:error:no_such_spec".*"status":404/,
 qr/"type":"urn:api-led:error:no_such_spec".*"status":404/,
 qr/"type":"urn:api-led:error:no_such_spec".*"status":404/]
--- no_error_log
[error]
