# The catalog page in a real browser: the example configuration
# (conf-examples/nginx.conf and what it includes, every port moved to a
# free one) serves its catalog; headless Chromium loads the page, dumps
# the DOM and takes a screenshot.  Every API of the catalog is drawn as a
# box in its layer's band, every call between APIs as an arrow, the page
# needs nothing from outside.  The screenshot is left in
# t/servroot-catalog/catalog.png for a person to look at.
#
# Its own nginx: the example configuration is a whole nginx.conf.
use strict;
use warnings;

use lib 't/lib';
use Test::More;
use ApiLed::Gateway;
use File::Copy qw(copy);
use File::Find ();
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use JSON::PP ();

my $chromium = (grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH})[0];
ok($chromium, 'chromium is installed (demo/deps)') or BAIL_OUT('no chromium');

# the example configuration, in a directory of its own, on free ports

my $top = $ENV{TEST_NGINX_ROOT} || '.';
my $dir = tempdir('api-led-catalog.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my %port;

File::Find::find({ no_chdir => 1, wanted => sub {
    my $rel = substr $File::Find::name, length "$top/conf-examples";
    return if $rel eq '';
    if (-d $_) {
        make_path("$dir$rel");
        return;
    }
    copy($_, "$dir$rel") or die "$rel: $!";
    return unless $rel =~ /\.conf\z/;
    open my $in, '<', "$dir$rel" or die $!;
    my $text = do { local $/; <$in> };
    close $in;
    $text =~ s{\b127\.0\.0\.1:(\d+)\b}
              {'127.0.0.1:' . ($port{$1} //= ApiLed::Gateway::free_port())}ge;
    open my $out, '>', "$dir$rel" or die $!;
    print $out $text;
    close $out;
} }, "$top/conf-examples");

ok($port{8084}, 'the example configuration serves the catalog (8084)')
    or BAIL_OUT('no catalog in conf-examples/');

my $gw = ApiLed::Gateway::start_conf(dir => $dir, port => $port{8084});
my $url = "http://127.0.0.1:$port{8084}/catalog";

# what the catalog says: its APIs and the calls between them

my $res = $gw->request('GET', '/catalog');
is($res->{status}, 200, 'the catalog answers');
is($res->{headers}{'content-type'}, 'application/json', 'JSON by default');

my $catalog = eval { JSON::PP::decode_json($res->{content}) } || {};
my (%apis, %edges);

for my $api (@{ $catalog->{apis} || [] }) {
    $apis{ $api->{id} } = $api->{layer} // 'none';
    $edges{"$api->{id} -> $_"} = 1 for @{ $api->{calls} || [] };
}

# the example's APIs and the calls of Customer 360, known in advance: the
# catalog is not allowed to lose any

for my $id (qw(customer-360@v1 customer-profile customer-orders
               customers-db orders-db crm orders-experience@v1
               orders-system orders@v1 legacy-orders))
{
    ok(exists $apis{$id}, "the catalog lists $id");
}

for my $edge ('customer-360@v1 -> customer-profile',
              'customer-360@v1 -> customer-orders',
              'customer-profile -> customers-db',
              'customer-profile -> crm',
              'customer-orders -> orders-db')
{
    ok($edges{$edge}, "the catalog knows the call $edge");
}

# the page, as Chromium renders it

sub chromium {
    my (@args) = @_;
    my $profile = tempdir('api-led-chromium.XXXXXX', TMPDIR => 1,
                          CLEANUP => 1);
    my @cmd = ('timeout', '90', $chromium, '--headless', '--no-sandbox',
               '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking',
               '--disable-component-update', '--disable-sync',
               "--user-data-dir=$profile", @args, $url);
    open my $fh, '-|', join(' ', map { quotemeta } @cmd) . ' 2>/dev/null'
        or die "chromium: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    return $out;
}

my $dom = chromium('--dump-dom');

like($dom, qr/<svg\b/, 'the browser has the page (an SVG in it)');

my %drawn;
while ($dom =~ /<g class="api[^"]*" data-api="([^"]+)" data-layer="(\w+)">(.*?)<\/g>/gs) {
    my ($id, $layer, $inner) = ($1, $2, $3);
    $id =~ s/&amp;/&/g;
    $drawn{$id} = $layer if $inner =~ /<rect\b/ && $inner =~ /<text\b/;
}

for my $id (sort keys %apis) {
    is($drawn{$id}, $apis{$id}, "$id is drawn, in the $apis{$id} band");
}
is(scalar keys %drawn, scalar keys %apis, 'one box per API, no other');

my %arrows;
while ($dom =~ /<path class="call" data-from="([^"]+)" data-to="([^"]+)"[^>]* marker-end="url\(#arrow\)"/g) {
    $arrows{"$1 -> $2"}++;
}

for my $edge (sort keys %edges) {
    ok($arrows{$edge}, "the call $edge is an arrow");
}
is(scalar keys %arrows, scalar keys %edges, 'one arrow per call, no other');

for my $band (qw(experience process system)) {
    like($dom, qr/<g class="band" data-layer="$band">/,
         "the $band layer is a band");
}

# self-contained: nothing to fetch, no script

unlike($dom, qr/<script\b/i, 'no script');
unlike($dom, qr/<link\b/i, 'no linked stylesheet');
unlike($dom, qr/\b(?:src|href)="(?:https?:)?\/\//i, 'no external asset');

# the screenshot, for a person to look at

my $shots = "$top/t/servroot-catalog";
make_path($shots);
my $png = "$shots/catalog.png";
unlink $png;
chromium("--screenshot=$png", '--window-size=1400,1600',
         '--hide-scrollbars');

ok(-s $png, "the screenshot is $png");
open my $fh, '<:raw', $png or die "$png: $!";
read $fh, my $head, 24;
close $fh;
is(substr($head, 0, 8), "\x89PNG\r\n\x1a\n", 'a PNG');
is(join('x', unpack 'NN', substr($head, 16, 8)), '1400x1600',
   'of the window size');

# the same page straight from the catalog: an HTML page when asked

$res = $gw->request('GET', '/catalog', Accept => 'text/html');
is($res->{headers}{'content-type'}, 'text/html; charset=utf-8',
   'text/html when Accept asks for it');

$gw->stop;
unlike($gw->error_log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

done_testing();
