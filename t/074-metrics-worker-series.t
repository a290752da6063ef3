# A worker remembers the series it counted in, by their label values:
# values that differ only in a byte in their middle (short ones, of 3 and
# 7 bytes, and long ones whose first and last 8 bytes are the same) are
# different series, each counted exactly, as Debian's
# python3-prometheus-client reads them; another location with
# the same API labels counts in the same series.
#
# Its own nginx (master process and one worker: the worker's memory is
# what is tested).
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use ApiLed::Gateway;

my @ids = ('abc', 'axc', 'abcdefg', 'abcxefg',
           'consumer-aaaaaaaaa-end', 'consumer-aaaabaaaa-end',
           'consumer-aaaaaaaaaX-end');

my $consumers = '{"plans": {"gold": {"limits": ["1000r/s"]}}, "consumers": ['
    . join(',', map { qq({"id": "$_", "plan": "gold", "keys": ["k-$_"]}) }
                @ids)
    . ']}';

my $gw = ApiLed::Gateway::start(http => <<'CONF', workers => 1,
    api_led_consumers $DIR/consumers.json;
    api_led_metrics_zone t074:1m;
    api_led_metrics_consumer on;

    server {
        listen 127.0.0.1:$PORT;

        location /v1/things {
            api_led_api things layer=experience;
            api_led_auth key;
            proxy_pass http://127.0.0.1:$PORT/backend;
        }

        location /v1/other {
            api_led_api things layer=experience;
            api_led_auth key;
            proxy_pass http://127.0.0.1:$PORT/backend;
        }

        location /backend {
            return 200 "ok\n";
        }

        location = /metrics { api_led_metrics; }
    }
CONF
    files => { 'consumers.json' => $consumers });

# consumer i makes i + 1 requests, the same again in the other location
my @s;
for my $i (0 .. $#ids) {
    for (0 .. $i) {
        push @s, $gw->request('GET', '/v1/things',
                              'X-API-Key' => "k-$ids[$i]")->{status};
    }
}
push @s, $gw->request('GET', '/v1/other', 'X-API-Key' => "k-abc")->{status};
is(join(' ', grep { $_ != 200 } @s), '', 'every request answered 200');

my $total = (scalar(@ids) * (scalar(@ids) + 1)) / 2 + 1;
my $s = $gw->scrape('/metrics', sub {
    my $n = 0;
    $n += $_->{value}
        for ApiLed::Gateway::select($_[0], 'api_led_requests_total', {});
    return $n == $total;
}) || [];

for my $i (0 .. $#ids) {
    is(ApiLed::Gateway::value($s, 'api_led_requests_total',
                              { api => 'things', layer => 'experience',
                                version => '', method => 'GET',
                                status => '200', plan => 'gold',
                                consumer => $ids[$i] }) // 0,
       ($i + 1) + ($ids[$i] eq 'abc' ? 1 : 0),
       "consumer $ids[$i]: its own series, counted exactly");
}

my @series = ApiLed::Gateway::select($s, 'api_led_requests_total', {});
is(scalar @series, scalar @ids, 'one series a consumer, no more');

$gw->stop;

done_testing();
