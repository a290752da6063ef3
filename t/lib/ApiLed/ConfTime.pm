# How long `nginx -t` takes for a generated configuration: the best of
# three runs, in seconds.  Tests compare two sizes of one configuration,
# so that a configuration check that grows with the square of the
# locations fails, whatever the machine's speed.
package ApiLed::ConfTime;

use strict;
use warnings;

use File::Temp ();
use Time::HiRes ();

# nginx_t_seconds(HTTP, FILES): HTTP is the http block's text, FILES a
# hash of file names (in the configuration's folder, "$dir" in HTTP) and
# their contents
sub nginx_t_seconds {
    my ($http, $files) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    for my $name (keys %{ $files // {} }) {
        open my $f, '>', "$dir/$name" or die "$name: $!";
        print $f $files->{$name};
        close $f;
    }
    $http =~ s/\$dir\b/$dir/g;
    open my $conf, '>', "$dir/nginx.conf" or die $!;
    print $conf "load_module $_;\n"
        for split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '';
    print $conf "pid $dir/nginx.pid;\nerror_log $dir/error.log;\n",
                "events {}\nhttp {\n$http}\n";
    close $conf;
    my $best;
    for (1 .. 3) {
        my $t = Time::HiRes::time();
        system($ENV{TEST_NGINX_BINARY} // 'nginx', '-q', '-t', '-p', $dir,
               '-c', "$dir/nginx.conf") == 0 or die "nginx -t failed";
        $t = Time::HiRes::time() - $t;
        $best = $t if !defined $best || $t < $best;
    }
    return $best;
}

1;
