# The catalog's events: what each API publishes (api_led_event, as the
# events concern describes it; a composition part's event=) and consumes
# (api_led_event_stream: Server-Sent Events, as the events concern
# describes it; api_led_event_deliver: the API that answers the
# listener's URI), and the catalog's "streams": each stream's publishers
# and consumers.  The HTML page has a table of them.  Nothing without events.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use ApiLed::ConfTime;
use JSON::PP ();

# the members about events, from the catalog's JSON: canonical, so that
# the order of an object's members does not matter
sub main::catalog_events {
    my $d = JSON::PP->new->decode($_[0]);
    my %out = (apis => [map { [$_->{id}, $_->{events} // 'none'] }
                        @{$d->{apis}}]);
    $out{streams} = $d->{streams} if exists $d->{streams};
    return JSON::PP->new->canonical->encode(\%out) . "\n";
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("http_config", <<'CONF') unless defined $block->http_config;
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    api_led_event_deliver orders group=billing to=/system/billing/in;
    api_led_event_deliver orders group=audit to=/audit/in;
CONF
});

# The catalog's "streams" are made in a time that grows with the events,
# not with their square: each event searched every stream made before.
# 20 events (20 streams) an API location, nested 50 a level: nginx's own
# work stays small next to the catalog's.
sub streams_http {
    my ($n) = @_;
    my $http = " api_led_redis 127.0.0.1:1;\n server {\n"
               . "  location = /catalog { api_led_catalog; }\n";
    for my $g (0 .. $n / 50 - 1) {
        $http .= "  location /g$g/ {\n";
        for my $i (0 .. 49) {
            $http .= "   location /g$g/a$i { api_led_api a${g}_$i; "
                     . join('', map { "api_led_event t$_ "
                                      . "stream=s${g}_${i}_$_; " } 1 .. 20)
                     . "proxy_pass http://127.0.0.1:1; }\n";
        }
        $http .= "  }\n";
    }
    return $http . " }\n";
}

SKIP: {
    skip "too slow under valgrind", 1 if $ENV{TEST_NGINX_USE_VALGRIND};
    my $small = ApiLed::ConfTime::nginx_t_seconds(streams_http(200));
    my $large = ApiLed::ConfTime::nginx_t_seconds(streams_http(800));
    cmp_ok($large / $small, '<', 8,
           sprintf("TEST streams-scaling: nginx -t of 800 API locations "
                   . "with 20 events each takes less than 8 times that of "
                   . "200 (%.2f s, %.2f s)", $large, $small));
}

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: publishers, parts that publish, an SSE subscriber, listeners' APIs
--- config
    location /v1/orders {
        api_led_api orders layer=experience version=v1;
        api_led_event order.created stream=orders methods=POST;
        api_led_event order.failed stream=orders-errors on=5xx;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /v1/checkout {
        api_led_api checkout layer=process;
        api_led_compose {
            order  /system/billing/in;
            notify event=checkout.done stream=orders;
        }
    }
    location /v1/feed {
        api_led_api feed layer=experience;
        api_led_event_stream orders types=order.created,checkout.done;
    }
    location /v1/all {
        api_led_api all-events layer=experience;
        api_led_event_stream orders-errors;
    }
    location /system/billing/ {
        api_led_api billing layer=system;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /audit/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_filters eval
\&main::catalog_events
--- response_body
{"apis":[["orders@v1",{"publishes":[{"on":["2xx"],"stream":"orders","type":"order.created"},{"on":["5xx"],"stream":"orders-errors","type":"order.failed"}]}],["checkout",{"publishes":[{"part":"notify","stream":"orders","type":"checkout.done"}]}],["feed",{"streams":{"stream":"orders","types":["order.created","checkout.done"]}}],["all-events",{"streams":{"stream":"orders-errors"}}],["billing",{"consumes":[{"group":"billing","stream":"orders","via":"delivery"}]}]],"streams":[{"consumers":[{"api":"feed","types":["order.created","checkout.done"],"via":"sse"},{"api":"billing","group":"billing","via":"delivery"},{"group":"audit","uri":"/audit/in","via":"delivery"}],"publishers":[{"api":"orders@v1","on":["2xx"],"type":"order.created"},{"api":"checkout","part":"notify","type":"checkout.done"}],"stream":"orders"},{"consumers":[{"api":"all-events","via":"sse"}],"publishers":[{"api":"orders@v1","on":["5xx"],"type":"order.failed"}],"stream":"orders-errors"}]}
--- no_error_log
[error]



=== TEST 2: the page has a table of the streams: who publishes, who consumes
--- config
    location /v1/orders {
        api_led_api orders layer=experience;
        api_led_event order.created stream=orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /system/billing/ {
        api_led_api billing layer=system;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- more_headers
Accept: text/html
--- response_body_like eval
qr{<h2>Events</h2>\n<table><tr><th>stream</th><th>published by</th><th>consumed by</th></tr>\n<tr><td><code>orders</code></td><td><a href="#api-orders">orders</a> <code>order.created</code></td><td><a href="#api-billing">billing</a> \(delivery, group <code>billing</code>\)<br><code>/audit/in</code> \(delivery, group <code>audit</code>\)</td></tr>\n</table>}



=== TEST 3: no events: no "events" member, no "streams"
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /v1/orders {
        api_led_api orders layer=experience;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- request
GET /catalog
--- response_body_filters eval
\&main::catalog_events
--- response_body
{"apis":[["orders","none"]]}



=== TEST 4: two locations of an API that publish alike: both entries say so, the stream lists it once
--- config
    location /v1/orders {
        api_led_api orders layer=experience;
        api_led_event order.created stream=orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /v1/orders-legacy {
        api_led_api orders layer=experience;
        api_led_event order.created stream=orders;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location /backend {
        return 200 "{}";
    }
    location = /catalog {
        api_led_catalog;
    }
--- http_config
    api_led_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- request
GET /catalog
--- response_body_filters eval
\&main::catalog_events
--- response_body
{"apis":[["orders",{"publishes":[{"on":["2xx"],"stream":"orders","type":"order.created"}]}],["orders",{"publishes":[{"on":["2xx"],"stream":"orders","type":"order.created"}]}]],"streams":[{"consumers":[],"publishers":[{"api":"orders","on":["2xx"],"type":"order.created"}],"stream":"orders"}]}
