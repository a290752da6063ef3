# A reload (SIGHUP to the master) keeps the metrics: the zone of the same
# name and size survives it, like nginx's own zones, and the new workers
# go on counting in the same series.  Changed histogram buckets cannot
# count on: that reload fails and says why, the running configuration
# keeps serving and counting.  A new size is a new zone.
#
# Its own nginx (master process, two workers): Test::Nginx runs nginx
# without a master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use ApiLed::Gateway;

sub conf {
    my (%o) = @_;
    my $zone = $o{zone} || 't061:1m';
    my $buckets = $o{buckets} ? "api_led_metrics_buckets $o{buckets};" : '';
    my $extra = $o{extra} || '';
    return <<CONF;
    api_led_metrics_zone $zone;
    $buckets

    server {
        listen 127.0.0.1:\$PORT;

        location /v1/orders {
            api_led_api orders layer=experience version=v1;
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        $extra

        location /backend {
            return 200 "ok\\n";
        }

        location = /metrics {
            api_led_metrics;
        }
    }
CONF
}

my %orders = (api => 'orders', layer => 'experience', version => 'v1',
              method => 'GET', status => '200', plan => '');

my $gw = ApiLed::Gateway::start(http => conf(), workers => 2);
my $master = $gw->{pid};

sub traffic {
    my ($path, $n) = @_;
    my $ok = 0;
    for (1 .. $n) {
        $ok++ if $gw->request('GET', $path)->{status} == 200;
    }
    return $ok;
}

my $last_scrape = '';

# the value, once it is the one expected (or after 5 s): a request is
# counted just after its answer went out
sub metric {
    my ($name, $labels, $want) = @_;
    my ($s, $text) = $gw->scrape('/metrics', sub {
        my $v = ApiLed::Gateway::value($_[0], $name, $labels);
        return defined $v && $v == $want;
    });
    $last_scrape = $text // '';
    return ApiLed::Gateway::value($s || [], $name, $labels);
}

# on a failure: what the scrape said, and the workers of the master
sub why_failed {
    diag("the scrape: " . substr($last_scrape, 0, 2000));
    diag("workers: " . join(' ', $gw->workers));
    diag("error log: " . join("\n", grep { /notice|warn|emerg|alert/ }
                                    split /\n/, $gw->error_log));
}

is(traffic('/v1/orders', 3), 3, 'three requests');
is(metric('api_led_requests_total', \%orders, 3), 3, 'counted: 3');

# the same zone, another configuration: a new API

ok($gw->reload(conf(extra => <<'LOC')), 'reloaded');
        location /v1/customers {
            api_led_api customers layer=experience;
            proxy_pass http://127.0.0.1:$PORT/backend;
        }
LOC

ok(kill(0, $master), 'the same master process');
is(metric('api_led_requests_total', \%orders, 3), 3,
   'after the reload: the count is kept');
is(traffic('/v1/orders', 2), 2, 'two more requests');
is(traffic('/v1/customers', 1), 1, 'a request to the new API');
is(metric('api_led_requests_total', \%orders, 5), 5,
   'the new workers count on: 5');
is(metric('api_led_request_duration_seconds_count',
          { api => 'orders', layer => 'experience', version => 'v1' }, 5), 5,
   'the histogram too');
is(metric('api_led_requests_total',
          { %orders, api => 'customers', version => '' }, 1), 1,
   'the new API has its series');

# changed buckets: the reload fails, the running configuration counts on

my $log = length $gw->error_log;
ok(!$gw->reload(conf(buckets => '0.1 1')), 'a reload with other buckets '
   . 'fails');
like(substr($gw->error_log, $log),
     qr/api_led_metrics_buckets differ from those the running metrics zone.* in \S+nginx\.conf:\d+/,
     'and says why, and where');
is(traffic('/v1/orders', 1), 1, 'the running configuration serves');
is(metric('api_led_requests_total', \%orders, 6), 6, 'and counts: 6');

# a zone of another size is another zone: it starts at 0

ok($gw->reload(conf(zone => 't061:2m')), 'reloaded with a bigger zone');
is(traffic('/v1/orders', 1), 1, 'a request');
is(metric('api_led_requests_total', \%orders, 1), 1,
   'the new zone counts from 1') or why_failed();

$gw->stop;

unlike($gw->error_log, qr/\[(alert|crit)\]/, 'no alert in the log');

done_testing();
