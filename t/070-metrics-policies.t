# The policies' series: after traffic with known outcomes, the exposition
# holds exactly these counts, as Debian's python3-prometheus-client parses
# it: authentication outcomes by method and reason, rate-limit decisions by
# limit, store and outcome, the Redis node's connections, calls and their
# latency, requests per call, the JWT cache and JWKS fetches, the parts of
# a composition by outcome and their time.  Then a gateway whose Redis is
# down: the circuit of each worker opens once, limits count locally, open
# or unavailable.  Without a metrics zone none of it is there, and the
# answers are the same.
#
# Its own nginx (master process and workers): Test::Nginx runs nginx
# without a master.  One worker for the first gateway: a worker's JWT
# cache is its own, and the counts must be exact.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use FindBin;
use IO::Socket::INET;
use ApiLed::Gateway;

require "$FindBin::Bin/fixtures/jwt/jwt.pl";

my $redis = $ENV{TEST_NGINX_REDIS_PORT};
plan skip_all => 'TEST_NGINX_REDIS_PORT is not set (run it with t/run)'
    unless $redis;

my $jwt_dir = "$FindBin::Bin/fixtures/jwt";

# a limit's bucket in Redis is the run's own
my $run = sprintf 'r%d%d', $$, time;

# a part that never answers: a socket that listens and never accepts
my $hang = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1:0')
    or die "listen: $!";
my $hang_port = $hang->sockport;

my $consumers = <<'JSON';
{"plans": {"gold": {"limits": ["1000r/s"]}},
 "consumers": [
   {"id": "acme", "plan": "gold", "keys": ["k-acme"]}
 ]}
JSON

sub conf {
    my ($zone) = @_;
    my $metrics = $zone ? 'location = /metrics { api_led_metrics; }' : '';
    return <<"CONF";
    api_led_consumers \$DIR/consumers.json;
    $zone
    api_led_redis 127.0.0.1:$redis;
    api_led_jwt_cache 100;

    server {
        listen 127.0.0.1:\$PORT;

        location /v1/orders {
            api_led_api orders layer=experience;
            api_led_auth key;
            api_led_rate_limit 3r/m key=\$arg_run name=orders;
            proxy_pass http://127.0.0.1:\$PORT/backend/a;
        }

        location /v1/tokens {
            api_led_api tokens layer=experience;
            api_led_auth jwt;
            api_led_jwt_keys $jwt_dir/jwks.json;
            proxy_pass http://127.0.0.1:\$PORT/backend/a;
        }

        location /v1/remote {
            api_led_api remote layer=experience;
            api_led_auth jwt;
            api_led_jwt_keys_uri /jwks;
            proxy_pass http://127.0.0.1:\$PORT/backend/a;
        }

        location /v1/nokeys {
            api_led_api nokeys layer=experience;
            api_led_auth jwt;
            api_led_jwt_keys_uri /jwks-missing;
            proxy_pass http://127.0.0.1:\$PORT/backend/a;
        }

        location = /jwks {
            internal;
            proxy_pass http://127.0.0.1:\$PORT/idp/jwks.json;
        }

        location = /jwks-missing {
            internal;
            proxy_pass http://127.0.0.1:\$PORT/idp/none.json;
        }

        location = /idp/jwks.json {
            alias \$DIR/jwks.json;
        }

        location /v1/view {
            api_led_api view layer=experience;
            api_led_compose {
                a /backend/a;
                b /backend/missing optional;
                c /hang timeout=300ms optional;
                d "/backend/a?x={b/x}" optional;
            }
        }

        location /hang {
            proxy_pass http://127.0.0.1:$hang_port;
        }

        location /backend/a {
            default_type application/json;
            return 200 '{"x":1}';
        }

        location /backend/missing {
            return 404;
        }

        $metrics
    }
CONF
}

my %files = ('consumers.json' => $consumers,
             'jwks.json' => ::jwt_slurp("$jwt_dir/jwks.json"));

my $gw = ApiLed::Gateway::start(http => conf('api_led_metrics_zone t070:1m;'),
                                workers => 1, files => \%files);

sub status {
    my ($gw, $path, %h) = @_;
    return $gw->request('GET', $path, %h)->{status};
}

my $good = ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
                 claims => { sub => 'alice', exp => time + 3600 });
my $expired = ::jwt(alg => 'RS256', key => 'rsa', kid => 'rsa-1',
                    claims => { sub => 'bob', exp => time - 3600 });
my $tampered = ::jwt_tamper($good);

# the traffic, the outcomes known in advance

sub traffic {
    my ($gw) = @_;
    my @s;
    push @s, status($gw, "/v1/orders?run=$run", 'X-API-Key' => 'k-acme')
        for 1 .. 4;
    push @s, status($gw, "/v1/orders?run=$run");
    push @s, status($gw, "/v1/orders?run=$run", 'X-API-Key' => 'nope')
        for 1 .. 2;
    push @s, status($gw, '/v1/tokens', Authorization => "Bearer $good")
        for 1 .. 2;
    push @s, status($gw, '/v1/tokens', Authorization => "Bearer $expired");
    push @s, status($gw, '/v1/tokens', Authorization => "Bearer $tampered");
    push @s, status($gw, '/v1/remote', Authorization => "Bearer $good")
        for 1 .. 2;
    push @s, status($gw, '/v1/nokeys', Authorization => "Bearer $good");
    push @s, status($gw, '/v1/view');
    return join ' ', @s;
}

is(traffic($gw), '200 200 200 429 401 401 401 200 200 401 401 200 200 503 200',
   'the answers');

# the series are counted once a request is done: scraped until the last
# request, the composition, is in
my $s = $gw->scrape('/metrics', sub {
    (ApiLed::Gateway::value($_[0], 'api_led_compose_parts_total',
                            { api => 'view', part => 'a',
                              outcome => 'ok' }) // 0) == 1
}) || [];

sub v { ApiLed::Gateway::value($s, @_) }

# authentication

my %auth = (api => 'orders');
is(v('api_led_auth_total', { %auth, method => 'key',
                             outcome => 'authenticated', reason => '' }),
   4, 'auth: 4 API keys accepted (the 4th was limited after)');
is(v('api_led_auth_total', { %auth, method => 'none', outcome => 'refused',
                             reason => 'missing_credentials' }),
   1, 'auth: 1 request without a key');
is(v('api_led_auth_total', { %auth, method => 'key', outcome => 'refused',
                             reason => 'invalid_api_key' }),
   2, 'auth: 2 invalid keys');
is(v('api_led_auth_total', { api => 'tokens', method => 'jwt',
                             outcome => 'authenticated', reason => '' }),
   2, 'auth: 2 tokens accepted');
is(v('api_led_auth_total', { api => 'tokens', method => 'jwt',
                             outcome => 'refused', reason => 'expired' }),
   1, 'auth: an expired token, reason "expired"');
is(v('api_led_auth_total', { api => 'tokens', method => 'jwt',
                             outcome => 'refused',
                             reason => 'bad_signature' }),
   1, 'auth: a forged signature, reason "bad_signature"');
is(v('api_led_auth_total', { api => 'nokeys', method => 'jwt',
                             outcome => 'refused',
                             reason => 'jwt_keys_unavailable' }),
   1, 'auth: no keys to verify with');
is(scalar(ApiLed::Gateway::select($s, 'api_led_auth_total', {})), 8,
   'auth: no other series');

# rate limits and their Redis

my %orders = (api => 'orders', limit => 'orders', store => 'redis');
is(v('api_led_rate_limit_decisions_total',
     { %orders, outcome => 'allowed' }), 3, 'limit: 3 allowed in Redis');
is(v('api_led_rate_limit_decisions_total',
     { %orders, outcome => 'limited' }), 1, 'limit: 1 limited');
is(v('api_led_rate_limit_redis_requests_total', {}), 4,
   'limit: 4 requests went to Redis');

my $node = "127.0.0.1:$redis";
is(v('api_led_redis_calls_total', { node => $node, outcome => 'ok' }), 4,
   'redis: 4 calls, one a request (sequential: no batch to share)');
is(v('api_led_redis_call_duration_seconds_count', { node => $node }), 4,
   'redis: their latency');
is(v('api_led_redis_connections', { node => $node, state => 'up' }), 1,
   'redis: the worker\'s connection is up');
is(v('api_led_redis_connections', { node => $node, state => 'connecting' }),
   0, 'redis: none connecting');
is(v('api_led_redis_circuit_opens_total', { node => $node }), undef,
   'redis: the circuit never opened');

# JWT

is(v('api_led_jwt_cache_lookups_total', { result => 'hit' }), 2,
   'jwt cache: 2 hits (the second token at each location)');
is(v('api_led_jwt_cache_lookups_total', { result => 'miss' }), 4,
   'jwt cache: 4 misses (first token, expired, forged, remote first)');
is(v('api_led_jwt_jwks_fetches_total', { uri => '/jwks',
                                         outcome => 'loaded' }), 1,
   'jwks: fetched once and loaded');
is(v('api_led_jwt_jwks_fetches_total', { uri => '/jwks-missing',
                                         outcome => 'failed' }), 1,
   'jwks: the missing one failed once');

# the composition's parts

my %view = (api => 'view');
is(v('api_led_compose_parts_total', { %view, part => 'a', outcome => 'ok' }),
   1, 'compose: a ok');
is(v('api_led_compose_parts_total', { %view, part => 'b',
                                      outcome => 'failed' }),
   1, 'compose: b failed (404)');
is(v('api_led_compose_parts_total', { %view, part => 'c',
                                      outcome => 'timeout' }),
   1, 'compose: c timed out');
is(v('api_led_compose_parts_total', { %view, part => 'd',
                                      outcome => 'not_run' }),
   1, 'compose: d did not run (it needs b)');
is(v('api_led_compose_part_duration_seconds_count', { %view, part => $_ }),
   1, "compose: the time of $_") for qw(a b c);
is(v('api_led_compose_part_duration_seconds_count', { %view, part => 'd' }),
   undef, 'compose: no time for a part that did not run');
cmp_ok(v('api_led_compose_part_duration_seconds_sum', { %view, part => 'c' }),
       '>=', 0.29, 'compose: c took its timeout');
is(v('api_led_compose_part_duration_seconds_bucket',
     { %view, part => 'c', le => '0.25' }), 0,
   'compose: c is not in the 0.25 s bucket');

# every series is exposed, for the dashboard's check at the end
my %have = map { $_->{name} => 1 } @$s;

$gw->stop;

unlike($gw->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

# Redis down: each worker's circuit opens once; on_error=local counts in
# the local store, open lets through, closed refuses (503)

my $down = ApiLed::Gateway::free_port();

$gw = ApiLed::Gateway::start(http => <<"CONF", workers => 2);
    api_led_metrics_zone t070down:1m;
    api_led_redis 127.0.0.1:$down;

    server {
        listen 127.0.0.1:\$PORT;

        location /local {
            api_led_api local;
            api_led_rate_limit 1r/m key=$run name=l on_error=local;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /open {
            api_led_api open;
            api_led_rate_limit 1r/m key=$run name=o on_error=open;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /closed {
            api_led_api closed;
            api_led_rate_limit 1r/m key=$run name=c on_error=closed;
            api_led_rate_limit 1r/m key=$run name=l2 on_error=local;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /backend {
            return 200 "ok\\n";
        }

        location = /metrics {
            api_led_metrics;
        }
    }
CONF

# both workers tried to connect at their start
$s = $gw->scrape('/metrics', sub {
    (ApiLed::Gateway::value($_[0], 'api_led_redis_circuit_opens_total',
                            { node => "127.0.0.1:$down" }) // 0) == 2
}) || [];

is(join(' ', map { status($gw, $_) } qw(/open /open /closed)),
   '200 200 503', 'open passes, closed refuses');

# the local store is shared by the workers: one of two passes
is(join(' ', sort map { status($gw, '/local') } 1 .. 2), '200 429',
   'local: one request a minute, on this node');

$s = $gw->scrape('/metrics', sub {
    (ApiLed::Gateway::value($_[0], 'api_led_rate_limit_decisions_total',
                            { api => 'local', limit => 'l',
                              store => 'local', outcome => 'limited' })
     // 0) == 1
}) || [];

is(v('api_led_redis_circuit_opens_total', { node => "127.0.0.1:$down" }),
   2, 'down: the circuit of each worker opened once');
is(v('api_led_redis_connections', { node => "127.0.0.1:$down",
                                    state => 'down' }),
   2, 'down: both connections are down');
is(v('api_led_rate_limit_decisions_total',
     { api => 'open', limit => 'o', store => 'redis', outcome => 'open' }),
   2, 'down: on_error=open, not enforced, twice');
is(v('api_led_rate_limit_decisions_total',
     { api => 'closed', limit => 'c', store => 'redis',
       outcome => 'unavailable' }), 1, 'down: on_error=closed, unavailable');
is(v('api_led_rate_limit_decisions_total',
     { api => 'closed', limit => 'l2', store => 'redis',
       outcome => 'unavailable' }), 1,
   'down: a local limit of a refused request is unavailable too');
is(v('api_led_rate_limit_decisions_total',
     { api => 'local', limit => 'l', store => 'local',
       outcome => 'allowed' }), 1, 'down: local store, allowed once');
is(v('api_led_rate_limit_redis_requests_total', {}), undef,
   'down: no request went to Redis');

$have{$_->{name}} = 1 for @$s;

$gw->stop;

# the Grafana dashboard of conf-examples/ asks for the policies' series
# that the two gateways exposed (t/060 checks the others)

{
    my $top = $ENV{TEST_NGINX_ROOT} || '.';
    open my $fh, '<', "$top/conf-examples/grafana-dashboard.json" or die $!;
    my $dash = JSON::PP::decode_json(do { local $/; <$fh> });
    my %used = map { $_ => 1 }
               grep { /^api_led_(auth|rate_limit|redis|jwt|compose)_/ }
               map { /\b(api_led_\w+)/g }
               map { map { $_->{expr} } @{ $_->{targets} || [] } }
               @{ $dash->{panels} };
    cmp_ok(scalar(keys %used), '>=', 9, 'the dashboard has their panels');
    ok($have{$_}, "the dashboard's $_ is exposed") for sort keys %used;
}

# without a zone: the same answers, no handler counts, nothing to scrape

$gw = ApiLed::Gateway::start(http => conf(''), workers => 1,
                             files => \%files);
$run .= 'b';

is(traffic($gw),
   '200 200 200 429 401 401 401 200 200 401 401 200 200 503 200',
   'no metrics zone: the same answers');

$gw->stop;

unlike($gw->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

done_testing();
