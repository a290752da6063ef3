# The events' series: after events with known outcomes, the exposition
# holds exactly these counts of api_led_events_total{stream, outcome}, as
# Debian's python3-prometheus-client parses it: published (in the stream),
# dropped (not published: the data would not be JSON); an event part of
# a composition counts in its stream.  The streams hold what was counted.
# Without a metrics zone the family is not there, the events the same.
#
# Its own nginx (master process and a worker): Test::Nginx runs nginx
# without a master.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use ApiLed::Gateway;

my $redis = $ENV{TEST_NGINX_REDIS_PORT};
plan skip_all => 'TEST_NGINX_REDIS_PORT is not set (run it with t/run)'
    unless $redis;

# the streams are the run's own
my $run = sprintf 't073:%d%d', $$, time;

sub conf {
    my ($zone) = @_;
    my $metrics = $zone ? 'location = /metrics { api_led_metrics; }' : '';
    return <<"CONF";
    $zone
    api_led_redis 127.0.0.1:$redis;

    server {
        listen 127.0.0.1:\$PORT;

        location /v1/things {
            api_led_api things layer=experience;
            api_led_event thing.seen stream=$run:a
                'data={"name":"\$http_x_name"}';
            proxy_pass http://127.0.0.1:\$PORT/backend;
        }

        location /v1/view {
            api_led_api view layer=process;
            api_led_compose {
                a      /backend;
                notify event=view.done stream=$run:b;
            }
        }

        location /backend {
            default_type application/json;
            return 200 '{"x":1}';
        }

        $metrics
    }
CONF
}

sub xlen {
    my ($key) = @_;
    my $n = `redis-cli -p $redis XLEN '$key'`;
    chomp $n;
    return $n;
}

# a header value that is not UTF-8 (HTTP::Tiny would not send it): the
# status of the answer
sub raw_get {
    my ($gw, $path, $header) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $gw->port,
                                  Timeout => 10) or die "connect: $!";
    print $c "GET $path HTTP/1.1\r\nHost: localhost\r\n$header\r\n"
             . "Connection: close\r\n\r\n";
    my $res = do { local $/; <$c> } // '';
    return $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

sub traffic {
    my ($gw) = @_;
    my @s;
    push @s, $gw->request('GET', '/v1/things', 'X-Name' => "n$_")->{status}
        for 1 .. 3;
    # not UTF-8: the event's data would not be JSON
    push @s, raw_get($gw, '/v1/things', "X-Name: caf\xe9");
    push @s, $gw->request('GET', '/v1/view')->{status} for 1 .. 2;
    return join ' ', @s;
}

my $gw = ApiLed::Gateway::start(http => conf('api_led_metrics_zone t073:1m;'),
                                workers => 1);

is(traffic($gw), '200 200 200 200 200 200', 'the answers');

my ($s, $text) = $gw->scrape('/metrics', sub {
    (ApiLed::Gateway::value($_[0], 'api_led_events_total',
                            { stream => "$run:b", outcome => 'published' })
     // 0) == 2
        && (ApiLed::Gateway::value($_[0], 'api_led_events_total',
                                   { stream => "$run:a",
                                     outcome => 'published' }) // 0) == 3
});
$s ||= [];

sub v { ApiLed::Gateway::value($s, 'api_led_events_total', @_) }

is(v({ stream => "$run:a", outcome => 'published' }), 3,
   'three events published into the API\'s stream');
is(v({ stream => "$run:a", outcome => 'dropped' }), 1,
   'one dropped: its data would not be JSON');
is(v({ stream => "$run:b", outcome => 'published' }), 2,
   'the composition\'s event part: two published');
is(v({ stream => "$run:b", outcome => 'dropped' }), undef,
   'no series for what did not happen');
is(xlen("$run:a"), 3, 'the stream holds the three');
is(xlen("$run:b"), 2, 'and the part\'s stream the two');

my ($type) = map { $_->{type} }
             grep { $_->{name} eq 'api_led_events_total' } @$s;
is($type, 'counter', 'a counter family');
like($text, qr/^# HELP api_led_events_total Events by stream and outcome: published, queued \(waited for Redis\), dropped, /m,
     'its help names the outcomes');

# the Grafana dashboard of conf-examples/ has panels for this family

{
    my $top = $ENV{TEST_NGINX_ROOT} || '.';
    open my $fh, '<', "$top/conf-examples/grafana-dashboard.json" or die $!;
    my $dash = JSON::PP::decode_json(do { local $/; <$fh> });
    my @exprs = grep { /\bapi_led_events_total\b/ }
                map { map { $_->{expr} } @{ $_->{targets} || [] } }
                @{ $dash->{panels} };
    cmp_ok(scalar @exprs, '>=', 2, 'the dashboard has panels of events');
    ok(!grep({ !/\b(stream|outcome)\b/ } @exprs),
       'by the labels the family has');
}

$gw->stop;

# no zone: no family, the events the same
$run .= 'z';
$gw = ApiLed::Gateway::start(http => conf(''), workers => 1);
is(traffic($gw), '200 200 200 200 200 200', 'without metrics: the answers');
ok($gw->await('the events', sub { xlen("$run:a") == 3
                                  && xlen("$run:b") == 2 }),
   'without metrics: the events published alike');
$gw->stop;

system('redis-cli', '-p', $redis, 'DEL', "$run:a", "$run:b",
       substr($run, 0, -1) . ':a', substr($run, 0, -1) . ':b');

done_testing();
