# Metrics: after traffic with known outcomes, the exposition of
# api_led_metrics holds exactly those counts, as Debian's
# python3-prometheus-client parses it (the text format, and the strict
# OpenMetrics parser when Accept asks for it).  Two workers count into one
# shared zone.  Past max_series, a family counts in one overflow series,
# logged once.
#
# Its own nginx (master process, two workers): Test::Nginx runs nginx
# without a master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use ApiLed::Gateway;
use JSON::PP ();

my $consumers = <<'JSON';
{"plans": {"gold": {"limits": ["1000r/s"]}, "free": {"limits": ["1000r/s"]}},
 "consumers": [
   {"id": "acme", "plan": "gold", "keys": ["k-acme"]},
   {"id": "trial \"quoted\"", "plan": "free", "keys": ["k-trial"]},
   {"id": "noplan", "keys": ["k-noplan"]}
 ]}
JSON

my $http = <<'CONF';
    api_led_consumers $DIR/consumers.json;
    api_led_metrics_zone t060:1m;
    api_led_metrics_buckets 0.05 0.5 1;

    server {
        listen 127.0.0.1:$PORT;

        location /v1/orders {
            api_led_api orders layer=experience version=v1;
            api_led_auth key;
            proxy_pass http://127.0.0.1:$PORT/backend/ok;
        }

        location /v1/orders/missing {
            api_led_api orders layer=experience version=v1;
            api_led_auth key;
            proxy_pass http://127.0.0.1:$PORT/backend/missing;
        }

        location /v1/partners {
            api_led_api partners layer=experience;
            api_led_auth key;
            api_led_metrics_consumer on;
            proxy_pass http://127.0.0.1:$PORT/backend/ok;
        }

        location /slow {
            api_led_api slow layer=system;
            proxy_pass http://127.0.0.1:$PORT/backend/slow;
        }

        location /plain {
            proxy_pass http://127.0.0.1:$PORT/backend/ok;
        }

        location /backend/ok {
            return 200 "ok\n";
        }

        location /backend/missing {
            return 404 "no\n";
        }

        location /backend/slow {
            echo_sleep 0.6;
            echo "slow";
        }

        location = /metrics {
            api_led_metrics;
        }
    }
CONF

my $echo = -e '/usr/lib/nginx/modules/ngx_http_echo_module.so'
    ? '/usr/lib/nginx/modules/ngx_http_echo_module.so' : undef;
plan skip_all => 'libnginx-mod-http-echo is not installed' unless $echo;
local $ENV{TEST_NGINX_LOAD_MODULES} =
    join ' ', grep { defined } $echo, $ENV{TEST_NGINX_LOAD_MODULES};

my $gw = ApiLed::Gateway::start(http => $http, workers => 2,
                                files => { 'consumers.json' => $consumers });

sub get {
    my ($path, %h) = @_;
    return $gw->request('GET', $path, %h)->{status};
}

# the traffic: outcomes known in advance

is(get('/v1/orders', 'X-API-Key' => 'k-acme'), 200, 'acme GET 200') for 1 .. 3;
is(get('/v1/orders'), 401, 'no key: 401');
is($gw->request('POST', '/v1/orders', 'X-API-Key' => 'k-trial',
                body => '{}')->{status}, 200, 'trial POST 200') for 1 .. 2;
is(get('/v1/orders/missing', 'X-API-Key' => 'k-acme'), 404,
   'acme GET 404');
is(get('/v1/orders', 'X-API-Key' => 'k-noplan'), 200, 'no plan: 200');
is(get('/v1/partners', 'X-API-Key' => 'k-acme'), 200, 'partners acme')
    for 1 .. 2;
is(get('/v1/partners', 'X-API-Key' => 'k-trial'), 200, 'partners trial');
is(get('/slow'), 200, 'a slow upstream');
is(get('/plain'), 200, 'no API: not counted') for 1 .. 4;

# the text format

my $res = $gw->request('GET', '/metrics');
is($res->{status}, 200, 'metrics: 200');
is($res->{headers}{'content-type'},
   'text/plain; version=0.0.4; charset=utf-8', 'the text format');
like($res->{headers}{vary} // '', qr/Accept/, 'Vary: Accept');

my $s = eval { ApiLed::Gateway::parse($res->{content}) };
ok($s, 'the Prometheus parser reads the text format') or diag($@);

# a request is counted just after its answer went out (maybe by the other
# worker): scraped again until the 12 requests of APIs are all in
sub total {
    my $t = 0;
    $t += $_->{value} for grep { $_->{name} eq 'api_led_requests_total' }
                          @{ $_[0] };
    return $t;
}

$s = $gw->scrape('/metrics', sub { total($_[0]) >= 12 }) || [];
is(total($s), 12, 'twelve requests of APIs were counted');

my %orders = (api => 'orders', layer => 'experience', version => 'v1');

sub requests {
    my (%l) = @_;
    return ApiLed::Gateway::value($s, 'api_led_requests_total', \%l);
}

is(requests(%orders, method => 'GET', status => '200', plan => 'gold'), 3,
   'orders GET 200 gold: 3');
is(requests(%orders, method => 'GET', status => '401', plan => ''), 1,
   'orders GET 401 without a plan: 1');
is(requests(%orders, method => 'POST', status => '200', plan => 'free'), 2,
   'orders POST 200 free: 2');
is(requests(%orders, method => 'GET', status => '404', plan => 'gold'), 1,
   'orders GET 404 gold: 1 (the location of /v1/orders/missing is the '
   . 'same API)');
is(requests(%orders, method => 'GET', status => '200', plan => ''), 1,
   'a consumer without a plan: plan=""');

my %partners = (api => 'partners', layer => 'experience', version => '',
                method => 'GET', status => '200');

is(requests(%partners, plan => 'gold', consumer => 'acme'), 2,
   'api_led_metrics_consumer on: the consumer label');
is(requests(%partners, plan => 'free', consumer => 'trial "quoted"'), 1,
   'a consumer id with quotes is escaped and parsed back');
is(requests(api => 'slow', layer => 'system', version => '',
            method => 'GET', status => '200', plan => ''), 1, 'slow: 1');

ok(!grep({ ($_->{labels}{api} // '') eq '' && $_->{name} =~ /^api_led_req/ }
         @$s), 'a location without api_led_api is not counted');

# histograms: request durations of every request, upstream time of those
# that went upstream, bucket boundaries as configured

my $dur = 'api_led_request_duration_seconds';
my $ups = 'api_led_upstream_duration_seconds';
my %o3 = %orders;

is(ApiLed::Gateway::value($s, "${dur}_count", \%o3), 8,
   'orders: 8 durations');
is(ApiLed::Gateway::value($s, "${dur}_bucket", { %o3, le => '+Inf' }), 8,
   'orders: +Inf bucket = count');
is(ApiLed::Gateway::value($s, "${ups}_count", \%o3), 7,
   'orders: 7 went upstream (not the 401)');
is(join(' ', map { $_->{labels}{le} }
             ApiLed::Gateway::select($s, "${dur}_bucket", \%o3)),
   '0.05 0.5 1.0 +Inf', 'the buckets of api_led_metrics_buckets');

my %slow = (api => 'slow', layer => 'system', version => '');
is(ApiLed::Gateway::value($s, "${ups}_bucket", { %slow, le => '0.5' }), 0,
   'slow: not in the 0.5 s bucket');
is(ApiLed::Gateway::value($s, "${ups}_bucket", { %slow, le => '1.0' }), 1,
   'slow: in the 1 s bucket');
cmp_ok(ApiLed::Gateway::value($s, "${ups}_sum", \%slow), '>=', 0.59,
       'slow: the sum holds its 0.6 s');

is(ApiLed::Gateway::value($s, 'api_led_metrics_series', {}), 17,
   'series in the zone: 5 + 2 + 1 of requests, 2 histograms of each of '
   . 'the 3 APIs, 3 of authentication (orders: accepted, missing; '
   . 'partners: accepted)');

# the Grafana dashboard of conf-examples/ asks for metrics that exist (the
# policies' series are t/070's, with the policies that count them; the
# events' t/073's)

{
    my $top = $ENV{TEST_NGINX_ROOT} || '.';
    open my $fh, '<', "$top/conf-examples/grafana-dashboard.json" or die $!;
    my $dash = JSON::PP::decode_json(do { local $/; <$fh> });
    my @exprs = map { map { $_->{expr} } @{ $_->{targets} || [] } }
                @{ $dash->{panels} };
    my %used = map { $_ => 1 }
               grep { !/^api_led_(auth|rate_limit|redis|jwt|compose|events)_/ }
               map { /\b(api_led_\w+)/g } @exprs;
    my %have = map { $_->{name} => 1 } @$s;
    $have{"$_->{family}_bucket"} = 1 for @$s;
    ok(@exprs > 10, 'the dashboard has its queries');
    for my $m (sort keys %used) {
        ok($have{$m}, "the dashboard's $m is exposed");
    }
}

# OpenMetrics when asked for it, as Prometheus asks

$res = $gw->request('GET', '/metrics',
    Accept => 'application/openmetrics-text;version=1.0.0,'
              . 'application/openmetrics-text;version=0.0.1;q=0.75,'
              . 'text/plain;version=0.0.4;q=0.5,*/*;q=0.1');
is($res->{headers}{'content-type'},
   'application/openmetrics-text; version=1.0.0; charset=utf-8',
   'OpenMetrics when Accept prefers it');
like($res->{content}, qr/\n# EOF\n\z/, 'OpenMetrics ends with # EOF');

my $om = eval { ApiLed::Gateway::parse($res->{content}, openmetrics => 1) };
ok($om, 'the strict OpenMetrics parser reads it') or diag($@);
$om ||= [];
is(ApiLed::Gateway::value($om, 'api_led_requests_total',
                          { %orders, method => 'GET', status => '200',
                            plan => 'gold' }), 3,
   'OpenMetrics: the same count');
is((grep { $_->{name} eq 'api_led_requests_total' } @$om)[0]{family},
   'api_led_requests', 'OpenMetrics: the counter family has no _total');

$res = $gw->request('GET', '/metrics', Accept => 'text/html, */*;q=0.5');
is($res->{headers}{'content-type'},
   'text/plain; version=0.0.4; charset=utf-8', 'anything else: text');

$res = $gw->request('POST', '/metrics', body => 'x');
is($res->{status}, 405, 'POST /metrics: 405');
is($res->{headers}{allow}, 'GET, HEAD', 'Allow: GET, HEAD');
is($res->{headers}{'content-type'}, 'application/problem+json',
   'a problem');

$gw->stop;

unlike($gw->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

# the cap: max_series=3, GET takes the three series of the API (requests,
# two histograms), every other method counts under {overflow="true"}

$gw = ApiLed::Gateway::start(http => <<'CONF', workers => 2);
    api_led_metrics_zone t060cap:128k max_series=3;

    server {
        listen 127.0.0.1:$PORT;

        location /t {
            api_led_api capped layer=process;
            proxy_pass http://127.0.0.1:$PORT/backend;
        }

        location /backend {
            return 200 "ok\n";
        }

        location = /metrics {
            api_led_metrics;
        }
    }
CONF

is($gw->request('GET', '/t')->{status}, 200, 'GET fits');
is($gw->request($_, '/t', body => 'x')->{status}, 200, "$_ overflows")
    for qw(POST PUT PATCH DELETE);

$s = $gw->scrape('/metrics', sub {
    (ApiLed::Gateway::value($_[0], "${dur}_count",
                            { api => 'capped', layer => 'process',
                              version => '' }) // 0) >= 5
}) || [];

is(ApiLed::Gateway::value($s, 'api_led_requests_total',
                          { api => 'capped', layer => 'process',
                            version => '', method => 'GET', status => '200',
                            plan => '' }), 1, 'the series before the cap');
is(ApiLed::Gateway::value($s, 'api_led_requests_total',
                          { overflow => 'true' }), 4,
   'four requests in the overflow series');
is(ApiLed::Gateway::value($s, 'api_led_metrics_series_max', {}), 3,
   'api_led_metrics_series_max');
is(ApiLed::Gateway::value($s, "${dur}_count",
                          { api => 'capped', layer => 'process',
                            version => '' }), 5,
   'the histogram of the API counts all five');

$gw->stop;

my @logged = $gw->error_log =~ /counted under \{overflow="true"\}/g;
is(scalar @logged, 1, 'the overflow is logged once');

done_testing();
