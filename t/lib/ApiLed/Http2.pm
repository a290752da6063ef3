# "--- http2" blocks on nginx 1.19.9 to 1.25.0 (Debian 12 ships 1.22.1).
#
# For "--- http2" Test::Nginx (openresty/test-nginx 0.32 and later, and
# t/compat, which follows its rule) makes the test server speak HTTP/2 with
# "http2 on;" for every nginx from 1.19.9 on, but nginx has that directive
# only since 1.25.1; before, the port says it: "listen PORT http2". Both
# runners read the nginx version once, in run_tests(), before the blocks'
# preprocessors run: a preprocessor that shows them 1.19.8 for these
# versions gets "listen PORT http2". (It also moves skip_nginx decisions of
# the file to 1.19.8: do not use skip_nginx with this.)
#
#   use lib 't/lib';
#   use Test::Nginx::Socket 'no_plan';
#   use ApiLed::Http2;
#   http2_listen_fix();
#
# On such a port nginx speaks HTTP/2 only (prior knowledge, as curl's
# --http2-prior-knowledge): nothing may send HTTP/1 requests to
# $TEST_NGINX_SERVER_PORT, use another server for upstreams.
package ApiLed::Http2;

use strict;
use warnings;

use base 'Exporter';

our @EXPORT = qw(http2_listen_fix);

sub http2_listen_fix {
    Test::Nginx::Util::add_block_preprocessor(sub {
        no warnings 'once';
        my $v = $Test::Nginx::Util::NginxVersion;
        if (defined $v && $v >= 1.019009 && $v < 1.025001) {
            $Test::Nginx::Util::NginxVersion = 1.019008;
        }
    });
}

1;
