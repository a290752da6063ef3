# The source files call one way (tools/call-graph, from the symbols of the
# built objects): no two files in a loop, and policies -> services -> core
# between folders.  The checker first runs on a made-up tree with a loop
# and calls the wrong way, so that this file can fail.
use strict;
use warnings;

use FindBin;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Basename qw(dirname);

my $top = "$FindBin::Bin/..";
my $tool = "$top/tools/call-graph";

require $tool;

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# --- the checker on a made-up tree ----------------------------------------

{
    my $dir = tempdir(CLEANUP => 1);
    my %src = (
        'core/ngx_api_led_c.c'   => 'void p1(void); void c1(void) { p1(); }',
        'limit/ngx_api_led_p.c'  => 'void p2(void); void p1(void) { p2(); }',
        'limit/ngx_api_led_q.c'  => 'void p1(void); void p2(void) { p1(); }',
        'json/ngx_api_led_s.c'   => 'void p2(void); void c1(void);'
                                    . ' void s1(void) { p2(); c1(); }',
        'events/ngx_api_led_e.c' => 'void s1(void); void e1(void) { s1(); }',
        'other/ngx_api_led_o.c'  => 'void c1(void); void o1(void) { c1(); }',
    );

    for my $f (sort keys %src) {
        my ($d) = split m{/}, $f;
        make_path("$dir/src/$d", "$dir/objs/$d");
        write_file("$dir/src/$f", "$src{$f}\n");
        (my $o = "$dir/objs/$f") =~ s/\.c$/.o/;
        system('cc', '-c', '-o', $o, "$dir/src/$f") == 0
            or die "cc $f failed\n";
    }

    my $g = graph("$dir/src", "$dir/objs");
    my ($problems, $notes) = check($g);

    my @want = (
        qr{^files call each other in a loop: limit/ngx_api_led_p -> limit/ngx_api_led_q \(p2\); limit/ngx_api_led_q -> limit/ngx_api_led_p \(p1\)$},
        qr{^core/ngx_api_led_c -> limit/ngx_api_led_p \(p1\): core/ may not call limit/$},
        qr{^json/ngx_api_led_s -> limit/ngx_api_led_q \(p2\): json/ may not call limit/$},
        qr{^folder other/ has no layer in tools/call-graph$},
    );

    is(scalar @$problems, scalar @want, 'checker: four problems found')
        or diag join "\n", @$problems;

    for my $re (@want) {
        ok((grep { $_ =~ $re } @$problems), "checker reports $re")
            or diag join "\n", @$problems;
    }

    ok(!(grep { /events\// } @$problems),
       'checker: a policy may call a service');

    is(system($tool, '--check', '--src', "$dir/src", '--objs', "$dir/objs")
       >> 8, 1, 'the tool exits 1 on a problem');
}

# --- the module -----------------------------------------------------------

my $objs = defined $ENV{MODULE} ? dirname($ENV{MODULE}) . '/addon'
                                : "$top/build/objs/addon";

my $g = graph("$top/ngx_api_led_module", $objs);

cmp_ok(scalar @{ $g->{files} }, '>=', 20, 'the module\'s objects are built');

my ($problems, $notes) = check($g);

diag $_ for @$notes;

is_deeply($problems, [], 'the files call one way, folders in their layers')
    or diag join "\n", @$problems;

done_testing();
