package Test::Nginx::Util;

# Compact re-implementation of the process / config management part of
# openresty's Test::Nginx::Util (test-nginx 0.29), for machines where the
# real Test::Nginx is not installed.  See t/compat/README.md for the
# differences.  No code is shared with the original.

use strict;
use warnings;

our $VERSION = '0.29_compat';

use base 'Exporter';

# The code of "--- init", "--- post_setup_server_root" and "--- skip_eval"
# runs in this package, as in the real one: these imports are the real
# one's (its Time::HiRes gives "sleep" only, so "time" is Perl's whole
# seconds here; this file says Time::HiRes::time() where it means it).
use POSIX qw( SIGQUIT SIGKILL SIGTERM SIGHUP );
use File::Spec ();
use Cwd qw( cwd );
use List::Util qw( shuffle );
use Time::HiRes qw( sleep );
use File::Path qw( make_path remove_tree );
use File::Find qw( find );
use File::Temp qw( tempfile :POSIX );
use Scalar::Util qw( looks_like_number );
use IO::Socket::INET;
use IO::Socket::UNIX;
use Test::LongString;
use POSIX ":sys_wait_h";
use Carp qw( croak );

# compat only
use Config ();
use Socket qw( MSG_NOSIGNAL );
use Test::More ();

our $Verbose           = $ENV{TEST_NGINX_VERBOSE};
our $NoLongString;
our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHup            = $ENV{TEST_NGINX_USE_HUP};    # accepted, ignored
our $UseHttp2          = $ENV{TEST_NGINX_USE_HTTP2};
our $UseHttp3          = $ENV{TEST_NGINX_USE_HTTP3};
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $WorkerUser        = $ENV{TEST_NGINX_WORKER_USER};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $EventType         = $ENV{TEST_NGINX_EVENT_TYPE};
our $NoNginxManager    = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $Randomize         = $ENV{TEST_NGINX_RANDOMIZE};
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers           = 1;
our $WorkerConnections = 64;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoRootLocation    = 0;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $BuildSlaveName    = $ENV{TEST_NGINX_BUILDSLAVE};

# compat-only knobs
our $ErrLogWait        = $ENV{TEST_NGINX_ERROR_LOG_WAIT} // 1;
our $ValgrindFailPat   = $ENV{TEST_NGINX_VALGRIND_FAIL_PATTERN} // 'ngx_api_led';
our $StartTimeout      = $ENV{TEST_NGINX_START_TIMEOUT}
                         || ($UseValgrind ? 30 : 10);

if ($WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

our $ConfigPreamble = '';
our (@EnvToNginx, @CleanupHandlers, @TestCleanupHandlers, @BlockPreprocessors);
our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog, $FilterHttpConfig);
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $ErrLogFilePos);
our ($ChildPid, $TcpServerPid, $UdpServerPid, $InSubprocess);
our ($WatchdogFh, $WatchdogPid);
our @NginxCmd;
our $FirstTime = 1;
our %SeenValgrindReports;

our $CheckLeak = 0;
our $Benchmark = 0;

sub bail_out (@);

# --------------------------------------------------------------------------
# ports

sub port_is_free ($) {
    my $port = shift;
    my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port,
                                  Proto => 'tcp', Listen => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used //= {};

    # stay below the kernel's ephemeral range so that outgoing connections
    # cannot steal our listening port
    my ($lo, $hi) = (10000, 32767);
    if (open my $in, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        my ($eph) = split ' ', scalar(<$in>) // '';
        close $in;
        if ($eph && $eph > 12000) {
            $hi = $eph - 1;
        } elsif ($eph) {
            ($lo, $hi) = (1985, 65535);
        }
    }

    for (1 .. $tries) {
        my $port = $lo + int rand($hi - $lo + 1);
        next if $used->{$port};
        return $port if port_is_free($port);
    }
    return undef;
}

our $AutoPort = 0;
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
srand($$ ^ int(Time::HiRes::time() * 1000));
if (!$ServerPort) {
    # compat difference: never default to the fixed port 1984
    $ServerPort = gen_rand_port()
        or die "Cannot find an available listening port number\n";
    $AutoPort = 1;
}
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

our $ServRoot;
if ($Randomize) {
    $ServRoot = File::Spec->rel2abs("t/servroot_" . $ServerPort);
} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
}
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $StderrFile = File::Spec->catfile($LogDir, 'nginx.stderr');

our @EXPORT = qw(
    env_to_nginx is_str check_accum_error_log is_running
    $NoLongString no_long_string $ServerAddr server_addr
    $ServerName server_name parse_time verbose sleep_time
    bail_out add_cleanup_handler access_log_data error_log_data
    error_log_more setup_server_root write_config_file get_canon_version
    get_nginx_version trim show_all_chars parse_headers run_tests run_test
    get_pid_from_pidfile $ServerPortForClient $ServerPort $NginxVersion
    $PidFile $ServRoot $ConfFile $RunTestHelper $CheckErrorLog
    $CheckShutdownErrorLog $FilterHttpConfig $NoNginxManager $RepeatEach
    $CheckLeak $Benchmark add_block_preprocessor timeout worker_connections
    workers master_on master_off config_preamble repeat_each
    master_process_enabled log_level no_shuffle no_root_location html_dir
    server_root server_port server_port_for_client no_nginx_manager use_hup
    add_test_cleanup_handler use_http2 use_http3
);

# --------------------------------------------------------------------------
# small settings API (same names/semantics as the real Test::Nginx::Util)

sub is_running ($) { my $pid = shift; return $pid && kill(0, $pid) }
sub no_long_string () { $NoLongString = 1 }
sub no_shuffle () { $NoShuffle = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub use_hup () { $UseHup = 1 }     # no-op: nginx is always restarted
sub no_root_location () { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub config_preamble ($) { $ConfigPreamble = shift }
sub html_dir () { $HtmlDir }
sub server_root () { $ServRoot }
sub sleep_time () { $TestNginxSleep }
sub verbose () { $Verbose }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub server_addr (@) { if (@_) { $ServerAddr = shift } else { $ServerAddr } }
sub server_name (@) { if (@_) { $ServerName = shift } else { $ServerName } }
sub timeout (@) { if (@_) { $Timeout = shift } else { $Timeout } }
sub server_port (@) { if (@_) { $ServerPort = shift; $AutoPort = 0 } else { $ServerPort } }
sub server_port_for_client (@) {
    if (@_) { $ServerPortForClient = shift } else { $ServerPortForClient }
}
sub worker_connections (@) {
    if (@_) { $WorkerConnections = shift } else { $WorkerConnections }
}
sub workers (@) { if (@_) { $Workers = shift } else { $Workers } }
sub log_level (@) { if (@_) { $LogLevel = shift } else { $LogLevel } }

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    } else {
        return $MasterProcessEnabled;
    }
}

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" unless @_;
    for my $v (@_) {
        croak "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }
    return Test::LongString::is_string($got, $expected, $desc);
}

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

# "Name: value" lines => ordered list of [name, value]; "!Name" => value undef.
# Like the real one, a repeated name keeps only its last value.
sub parse_headers ($) {
    my $s = shift;
    my (%pos, @list);
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $val);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $val) = split /\s*:\s*/, $line, 2;
        }
        if (exists $pos{$key}) {
            $list[$pos{$key}][1] = $val;
        } else {
            $pos{$key} = @list;
            push @list, [$key, $val];
        }
    }
    return \@list;
}

sub get_canon_version (@) { sprintf "%d.%03d%03d", $_[0], $_[1], $_[2] }

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx ($NginxBinary): "
                 . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)}s) {
        $OpenSSLVersion = get_canon_version($1, $2, $3);
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;
    chomp $pid if defined $pid;
    return $pid;
}

sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }
    for my $dir (split /\Q$Config::Config{path_sep}\E/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

# --------------------------------------------------------------------------
# HTTP/2 (plain text, prior knowledge), decided as the real one does: a
# block with "--- http2", or every block that can in the
# TEST_NGINX_USE_HTTP2=1 mode. The answer is cached in the block.

sub use_http2 ($) {
    my $block = shift;
    my $name = $block->name;

    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;
    return undef if defined $block->no_http2;

    my $off = sub {
        my $why = shift;
        warn "WARNING: $name - $why\n" if defined $why;
        $block->set_value('test_nginx_enabled_http2', 0);
        return undef;
    };

    if (defined $block->http2) {
        bail_out("cannot use --- http2 with --- raw_request") if $block->raw_request;
        bail_out("cannot use --- http2 with --- pipelined_requests")
            if $block->pipelined_requests;
        $block->set_value('test_nginx_enabled_http2', 1);
        return 1;
    }

    return $off->() unless $UseHttp2;

    return $off->('using raw_request HTTP/2, will not use HTTP/2')
        if $block->raw_request;
    return $off->('using pipelined_requests, will not use HTTP/2')
        if $block->pipelined_requests;
    return $off->() if !defined $block->request;
    return $off->('explicitly rquires HTTP 1.0, so will not use HTTP/2')
        if !ref $block->request && $block->request =~ m{HTTP/1\.0}s;
    return $off->('explicitly requires HTTP/3, so will not use HTTP/2')
        if defined $block->http3;

    # a plain-text HTTP/2 port speaks nothing else: requests that nginx
    # sends to its own port (HTTP/1) would fail
    my $pat = qr{(proxy_pass .*:\$(server_port|TEST_NGINX_SERVER_PORT)
                | ngx.req.raw_header
                | lua_check_client_abort
                | ngx.req.socket
                | ngx.req.read_body)}x;
    if (defined $block->config && $block->config =~ $pat) {
        return $off->("$1 does not support in HTTP/2");
    }
    if (defined $block->user_files && $block->user_files =~ $pat) {
        return $off->("$1 does not support HTTP/2");
    }
    if (defined $block->http_config && $block->http_config =~ $pat) {
        return $off->('can not listen on HTTP and HTTP/2 at the same time, '
                      . 'so will no use HTTP2');
    }

    $block->set_value('test_nginx_enabled_http2', 1);
    return 1;
}

sub use_http3 ($) {
    my $block = shift;
    if (defined $block->http3 || $UseHttp3) {
        bail_out($block->name . " - --- http3 and TEST_NGINX_USE_HTTP3 are not "
                 . "supported by the compat runner");
    }
    return undef;
}

# --------------------------------------------------------------------------
# error / access log

sub read_new_err_lines () {
    open my $in, '<', $ErrLogFile or return [];
    if (!$CheckAccumErrLog && $ErrLogFilePos) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

# the lines logged since the previous call (or all of them with
# check_accum_error_log()), after a short delay for the log phase
sub error_log_data () {
    sleep $TestNginxSleep;
    return read_new_err_lines();
}

# refresh a line list returned by error_log_data() with what was logged since
sub error_log_more ($) {
    my $lines = shift;
    my $new = read_new_err_lines();
    if ($CheckAccumErrLog) {
        @$lines = @$new;
    } else {
        push @$lines, @$new;
    }
    return $lines;
}

sub access_log_data () {
    sleep $TestNginxSleep;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# --------------------------------------------------------------------------
# server root, user files, nginx.conf

sub setup_server_root () {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*.sock"));
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $d;
        make_path($d) or bail_out("Failed to do mkdir $d: $!\n");
    }
    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

# "--- post_setup_server_root": Perl code run after the server root is
# made, before the user files and nginx.conf are written
sub run_customer_init_script ($) {
    my $block = shift;
    my $name = $block->name;
    if ($block->post_setup_server_root) {
        eval $block->post_setup_server_root;
        bail_out("$name - post_setup_server_root failed: $@") if $@;
    }
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, \%used);
                bail_out("$name - Cannot find an available listening port number for $var.\n")
                    unless defined $port;
                $rand_ports->{$var} = $port;
                $used{$port} = 1;
            }
            $val = $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }eg;

    return $text;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if defined $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if defined $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - failed to set the mtime of $path\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text(scalar $block->http_config, $name, $rand_ports) // '';
    my $main_config = expand_env_in_text(scalar $block->main_config, $name, $rand_ports) // '';
    my $post_main_config = expand_env_in_text(scalar $block->post_main_config,
                                              $name, $rand_ports) // '';
    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name // $ServerName;
    $config //= '';
    $http_config = $FilterHttpConfig->($http_config) if $FilterHttpConfig;

    my $modules = '';
    if ($LoadModules) {
        $modules = join '', map { "load_module $_;\n" } grep { length } split /\s+/, $LoadModules;
    }

    # keep temp files inside the server root unless the test sets them
    my $temp_paths = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        $temp_paths .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }

    my $env = '';
    for my $v (@EnvToNginx) {
        $env .= $v =~ /\s/ ? "env '$v';\n" : "env $v;\n";
    }

    (my $quoted_server_name = $server_name) =~ s/\\/\\\\/g;
    $quoted_server_name =~ s/'/\\'/g;

    my $root_location = $NoRootLocation ? '' : <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    my $use_event = $EventType ? "    use $EventType;\n" : '';

    # as the real one: "http2 on;" for nginx 1.19.9 and later (although
    # nginx has that directive only since 1.25.1), else "listen ... http2"
    my ($listen_opts, $http2_directive) = ('', '');
    if (use_http3($block)) {
        # not reached: use_http3() bails out
    } elsif (use_http2($block)) {
        if (($NginxVersion // 0) >= 1.019009) {
            $http2_directive = 'http2 on;';
        } else {
            $listen_opts = ' http2';
        }
    }

    open my $out, '>', $ConfFile or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<_EOC_;
${modules}worker_processes  $Workers;
daemon off;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;
$temp_paths
$http_config

    server {
        listen          $ServerPort$listen_opts;$http2_directive
        server_name     '$quoted_server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$use_event}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# --------------------------------------------------------------------------
# nginx process management: nginx runs in the foreground ("daemon off") as a
# direct child of this process, so it can be waitpid()ed.

sub set_pdeathsig () {
    return unless $^O eq 'linux';
    my $arch = $Config::Config{archname} // '';
    my $nr = $arch =~ /x86_64|amd64/ ? 157
           : $arch =~ /aarch64|arm64|riscv64/ ? 167
           : undef;
    syscall($nr, 1, SIGKILL) if defined $nr;    # prctl(PR_SET_PDEATHSIG)
}

sub nginx_cmd ($) {
    my $use_valgrind = shift;
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    # the default error log of a packaged nginx may be "stderr" or a system
    # path: make the early (config parsing) errors land in our error.log
    push @cmd, '-e', $ErrLogFile if $NginxVersion && $NginxVersion >= 1.019005;
    if ($use_valgrind) {
        my @vg = ('valgrind', '-q', "--log-file=$LogDir/valgrind.%p.log");
        if ($use_valgrind =~ /^\d+$/) {
            push @vg, qw(--tool=memcheck --leak-check=full --show-possibly-lost=no
                         --num-callers=30);
        } else {
            push @vg, split ' ', $use_valgrind;
        }
        for my $sup ('valgrind.suppress', 't/valgrind.suppress') {
            push @vg, '--suppressions=' . File::Spec->rel2abs($sup) if -f $sup;
        }
        unshift @cmd, @vg;
    }
    return @cmd;
}

# start nginx; returns ('ready') once the pid file is written (that happens
# after the listening sockets are bound) or ('exited', $wait_status)
sub launch_nginx ($$) {
    my ($name, $use_valgrind) = @_;

    unlink $PidFile;
    @NginxCmd = nginx_cmd($use_valgrind);

    if ($Verbose) {
        warn "$name - starting: @NginxCmd\n";
    }

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        $InSubprocess = 1;
        set_pdeathsig();
        close $WatchdogFh if $WatchdogFh;
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        # as the real runner: libraries preloaded into nginx alone
        if (defined $ENV{TEST_NGINX_LD_PRELOAD}) {
            $ENV{LD_PRELOAD} = (defined $ENV{LD_PRELOAD}
                                && length $ENV{LD_PRELOAD})
                ? "$ENV{TEST_NGINX_LD_PRELOAD} $ENV{LD_PRELOAD}"
                : $ENV{TEST_NGINX_LD_PRELOAD};
        }
        { no warnings 'exec'; exec { $NginxCmd[0] } @NginxCmd; }
        print STDERR "exec $NginxCmd[0] failed: $!\n";
        POSIX::_exit(127);
    }

    $ChildPid = $pid;
    watchdog_watch($pid);

    my $deadline = Time::HiRes::time() + $StartTimeout;
    my $step = 0.0005;
    while (1) {
        my $rc = waitpid($pid, WNOHANG);
        if ($rc == $pid) {
            my $status = $?;
            undef $ChildPid;
            return ('exited', $status);
        }
        if (-s $PidFile) {
            return ('ready');
        }
        if (Time::HiRes::time() > $deadline) {
            return ('timeout');
        }
        sleep $step;
        $step *= 2 if $step < 0.01;
    }
}

sub startup_errors () {
    my $msg = '';
    if (open my $in, '<', $StderrFile) {
        local $/;
        $msg .= <$in> // '';
        close $in;
    }
    if (open my $in, '<', $ErrLogFile) {
        my @l = grep { /\[(?:emerg|alert|crit)\]/ } <$in>;
        close $in;
        $msg .= join '', @l[-10 .. -1] if @l >= 10;
        $msg .= join '', @l if @l < 10;
    }
    return $msg;
}

sub wait_child ($$) {
    my ($pid, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    my $step = 0.0005;
    while (1) {
        my $rc = waitpid($pid, WNOHANG);
        return 1 if $rc == $pid || $rc == -1;
        return 0 if Time::HiRes::time() > $deadline;
        sleep $step;
        $step *= 2 if $step < 0.02;
    }
}

sub kill_process ($$$) {
    my ($pid, $graceful_secs, $name) = @_;
    return unless defined $pid;
    if ($graceful_secs) {
        kill SIGQUIT, $pid;
        return if wait_child($pid, $graceful_secs);
        warn "$name - timeout when waiting for the process $pid to exit, sending TERM\n";
        kill SIGTERM, $pid;
        return if wait_child($pid, 1);
    }
    kill SIGKILL, -$pid;    # the process group (nginx workers included)
    kill SIGKILL, $pid;
    waitpid($pid, 0);
}

sub stop_nginx ($;$) {
    my ($name, $fast) = @_;
    return unless defined $ChildPid;
    my $pid = $ChildPid;
    undef $ChildPid;
    if ($fast) {
        kill SIGTERM, $pid;
        kill_process($pid, 0, $name) unless wait_child($pid, 1);
    } else {
        my $valgrind = grep { $_ eq 'valgrind' } @NginxCmd;
        kill_process($pid, $valgrind ? 60 : $Timeout, $name);
    }
    # make sure no worker of a master process survives
    kill SIGKILL, -$pid;
    watchdog_watch(0);
}

# With "master_process on", the workers do not get the parent-death signal:
# a small watchdog process kills nginx's process group when this process
# disappears without cleaning up (e.g. SIGKILL).

sub watchdog_watch ($) {
    my $pgid = shift;
    if (!$WatchdogFh) {
        return unless $pgid && $MasterProcessEnabled eq 'on';
        pipe(my $r, my $w) or return;
        my $pid = fork;
        return unless defined $pid;
        if ($pid == 0) {
            $InSubprocess = 1;
            close $w;
            setpgrp(0, 0);
            $SIG{$_} = 'IGNORE' for qw(INT TERM HUP QUIT);
            my $cur;
            while (my $line = <$r>) {
                $cur = $1 if $line =~ /^(\d+)/;
            }
            kill SIGKILL, -$cur if $cur;
            POSIX::_exit(0);
        }
        close $r;
        $w->autoflush(1);
        ($WatchdogFh, $WatchdogPid) = ($w, $pid);
    }
    print {$WatchdogFh} "$pgid\n";
}

sub watchdog_stop () {
    return unless $WatchdogFh;
    close $WatchdogFh;
    waitpid($WatchdogPid, 0);
    undef $WatchdogFh;
}

sub restart_nginx ($$$$) {
    my ($block, $name, $rand_ports, $config_ref) = @_;

    my $tries = 0;
    while (1) {
        setup_server_root();
        run_customer_init_script($block);
        write_user_files($block, $rand_ports);
        write_config_file($block, $$config_ref, $rand_ports);

        my ($st, $status) = launch_nginx($name, $UseValgrind);
        if ($st eq 'ready') {
            if ($UseValgrind) {
                warn "$name\n";
            }
            return;
        }

        my $err = startup_errors();
        if ($st eq 'timeout') {
            stop_nginx($name);
            Test::More::diag($err) if $err ne '';
            bail_out("$name - nginx (\"@NginxCmd\") did not write its pid file "
                     . "within $StartTimeout s.\n");
        }

        if ($err =~ /Address already in use/ && ++$tries <= 5) {
            if ($AutoPort) {
                # somebody else grabbed our port(s): pick new ones
                my $new = gen_rand_port();
                if ($ServerPortForClient == $ServerPort) {
                    $ServerPortForClient = $new;
                }
                $ServerPort = $new;
                $ENV{TEST_NGINX_SERVER_PORT} = $new;
                %$rand_ports = ();
                $$config_ref = expand_env_in_text(scalar($block->config) // $PrevConfig->[0],
                                                  $name, $rand_ports);
            }
            sleep 0.1 * $tries;
            next;
        }

        Test::More::diag($err) if $err ne '';
        my ($first) = $err =~ /(\[(?:emerg|alert|crit)\][^\n]*)/;
        bail_out("$name - Cannot start nginx using command \"@NginxCmd\" "
                 . "(status code $status)" . ($first ? ": $first" : '') . "\n");
    }
}

# --------------------------------------------------------------------------
# valgrind reports

sub check_valgrind_reports ($) {
    my $name = shift;
    for my $file (sort glob "$LogDir/valgrind.*.log") {
        open my $in, '<', $file or next;
        my (@records, @cur);
        while (my $line = <$in>) {
            if ($line =~ /^==\d+==\s?(.*?)\s*$/) {
                my $text = $1;
                if ($text eq '') {
                    push @records, [@cur] if @cur;
                    @cur = ();
                } else {
                    push @cur, $text;
                }
            }
        }
        push @records, [@cur] if @cur;
        close $in;
        unlink $file;

        for my $rec (@records) {
            my $head = $rec->[0];
            my $text = join "\n", @$rec;
            my $is_error = $head =~ /Invalid (?:read|write|free)|uninitialised|(?:definitely|indirectly) lost|Mismatched free|overlap/;
            if ($is_error && length $ValgrindFailPat && $text =~ /$ValgrindFailPat/) {
                Test::More::fail("$name - valgrind: $head");
                Test::More::diag($text);
                next;
            }
            my @frames = grep { /^\s*(?:at|by) 0x/ } @$rec;
            my $sig = join "|", $head =~ s/\d+//gr, @frames[0 .. ($#frames < 4 ? $#frames : 4)];
            next if $SeenValgrindReports{$sig}++;
            Test::More::diag("$name - valgrind report (not failing):\n$text");
        }
    }
}

# --------------------------------------------------------------------------
# embedded mock TCP/UDP servers (--- tcp_listen / --- udp_listen)

sub start_tcp_server ($) {
    my $block = shift;
    my $name = $block->name;
    my $target = $block->tcp_listen;
    my $reply = $block->tcp_reply;
    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen is specified");
    }

    my $req_len = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $req_len) {
        $req_len //= length($block->tcp_query);
        (undef, $query_file) = File::Temp::tempfile(UNLINK => 1);
    }

    my ($sock, $err);
    for my $try (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(LocalHost => '127.0.0.1', LocalPort => $target,
                                          Proto => 'tcp', Reuse => 1, Listen => 5);
        } elsif ($target =~ m{\S+\.sock$}) {
            unlink $target if -e $target;
            $sock = IO::Socket::UNIX->new(Local => $target, Type => SOCK_STREAM,
                                          Listen => 5);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }
        last if $sock;
        $err = $!;
        last unless $err =~ /address already in use/i;
        sleep 0.1;
    }
    bail_out("$name - failed to create the tcp listening socket: $err") unless $sock;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        close $WatchdogFh if $WatchdogFh;
        my $client;
        until ($client = $sock->accept) { sleep 0.005 }
        my ($no_read, $no_write);
        if (defined(my $how = $block->tcp_shutdown)) {
            sleep $block->tcp_shutdown_delay if $block->tcp_shutdown_delay;
            $client->shutdown($how);
            if ($how == 0 || $how == 2) { $no_read = 1 } else { $no_write = 1 }
        }
        my $buf = '';
        unless ($no_read) {
            while (1) {
                my $b = '';
                my $ret = $client->recv($b, 4096);
                last if !defined $ret;
                $buf .= $b;
                if ($query_file && open my $out, '>', $query_file) {
                    print $out $buf;
                    close $out;
                }
                last if !$req_len || length($buf) >= $req_len || $b eq '';
            }
        }
        if (my $delay = parse_time($block->tcp_reply_delay)) {
            sleep $delay;
        }
        if (!$no_write && defined $reply) {
            $reply = $reply->($buf) if ref $reply eq 'CODE';
            for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
                send($client, $r, MSG_NOSIGNAL);
            }
        }
        if (defined $block->tcp_no_close) {
            sleep 1 while 1;
        }
        close $client;
        POSIX::_exit(0);
    }
    $TcpServerPid = $pid;
    return ($sock, $query_file);
}

sub start_udp_server ($) {
    my $block = shift;
    my $name = $block->name;
    my $reply = $block->udp_reply;
    bail_out("$name - no --- udp_reply specified but --- udp_listen is specified")
        unless defined $reply;
    my $query_file;
    if (defined $block->udp_query) {
        (undef, $query_file) = File::Temp::tempfile(UNLINK => 1);
    }
    my $target = $block->udp_listen;
    my ($sock, $sock_file);
    if ($target =~ /^\d+$/) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $target,
                                      Proto => 'udp', Reuse => 1)
            or bail_out("$name - failed to create the udp listening socket: $!");
    } elsif ($target =~ m{\S+\.sock$}) {
        unlink $target if -e $target;
        $sock = IO::Socket::UNIX->new(Local => $target, Type => SOCK_DGRAM)
            or bail_out("$name - failed to create the udp unix socket: $!");
        $sock_file = $target;
    } else {
        bail_out("$name - bad udp_listen target: $target");
    }

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InSubprocess = 1;
        close $WatchdogFh if $WatchdogFh;
        my $buf = '';
        $sock->recv($buf, 65536);
        if ($query_file && open my $out, '>', $query_file) {
            print $out $buf;
            close $out;
        }
        if (my $delay = parse_time($block->udp_reply_delay)) {
            sleep $delay;
        }
        $reply = $reply->($buf) if ref $reply eq 'CODE';
        for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            $sock->send($r);
        }
        POSIX::_exit(0);
    }
    $UdpServerPid = $pid;
    return ($sock, $sock_file, $query_file);
}

sub read_file_content ($) {
    my $f = shift;
    return '' unless $f && open my $in, '<', $f;
    local $/;
    my $s = <$in> // '';
    close $in;
    return $s;
}

# --------------------------------------------------------------------------

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

sub cleanup (;$) {
    my $fast = shift;
    return if $InSubprocess;
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
    if (defined $UdpServerPid) {
        kill_process($UdpServerPid, 0, 'cleanup');
        undef $UdpServerPid;
    }
    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 0, 'cleanup');
        undef $TcpServerPid;
    }
    stop_nginx('cleanup', $fast);
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;
    undef $PrevBlock;
    if (defined $block->shutdown_error_log && $CheckShutdownErrorLog) {
        $CheckShutdownErrorLog->($block, 0);
    }
}

sub run_tests () {
    $NginxVersion = get_nginx_version();

    if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }

    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub {
            cleanup(1);
            watchdog_stop();
            $SIG{$sig} = 'DEFAULT';
            kill $sig, $$;
        };
    }

    for my $block ($NoShuffle ? Test::Base::blocks() : shuffle Test::Base::blocks()) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value("name", $0 . " " . $block->name);
        run_test($block);
        for my $hdl (@TestCleanupHandlers) {
            $hdl->($block);
        }
        $PrevBlock = $block;
    }

    cleanup();
}

sub skip_spec ($) {
    my $block = shift;
    my $name = $block->name;
    my ($tests_to_skip, $should_skip, $skip_reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $tests_to_skip = $1;
            $skip_reason = "skip_eval";
            my $code = $2;
            $should_skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $tests_to_skip = $1;
        my ($op, $ver) = ($2, get_canon_version($3, $4, $5));
        $skip_reason = $6 || "nginx version $op $3.$4.$5";
        $should_skip = 1 if eval "$NginxVersion $op $ver";
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)\s*(or|and)\s*
                   ([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*))?\s*$/x
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $tests_to_skip = $1;
        my $c1 = eval "$NginxVersion $2 " . get_canon_version($3, $4, $5);
        my $c2 = eval "$NginxVersion $7 " . get_canon_version($8, $9, $10);
        $skip_reason = $11;
        $should_skip = 1 if $6 eq 'or' ? ($c1 || $c2) : ($c1 && $c2);
    }

    if (defined(my $spec = $block->skip_openssl)) {
        $spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)[a-z]?(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_openssl spec: $spec");
        $tests_to_skip = $1;
        $skip_reason = $6 || "OpenSSL version $2 $3.$4.$5";
        my $ver = get_canon_version($3, $4, $5);
        $should_skip = 1 if !defined $OpenSSLVersion || eval "$OpenSSLVersion $2 $ver";
    }

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        $todo =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $todo");
        $should_todo = 1;
        $tests_to_skip = $1;
        $todo_reason = $2;
    }

    return ($should_skip, $tests_to_skip, $skip_reason // 'various reasons',
            $should_todo, $todo_reason // 'various reasons');
}

sub run_must_die ($$$$) {
    my ($block, $name, $config, $rand_ports) = @_;
    my $must_die = $block->must_die;

    setup_server_root();
    run_customer_init_script($block);
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);
    $ErrLogFilePos = 0;

    for my $i (0 .. $RepeatEach - 1) {
        my ($st, $status) = launch_nginx($name, undef);
        $status = 0 if $st ne 'exited';
        my $exit_code = $status >> 8;

        if ($st eq 'exited' && $exit_code == 127) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        $CheckErrorLog->($block, undef, 0, $i, 0);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $i)\n";
            stop_nginx($name);
        }
    }
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;

    my $name = $block->name;
    my $rand_ports = {};
    my $config = expand_env_in_text(scalar $block->config, $name, $rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    local $UseValgrind = $UseValgrind;

    my $must_die = $block->must_die;
    undef $UseValgrind if defined $must_die;

    use_http3($block);

    my $should_restart = 1;
    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not get "
                     . "previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        $should_restart = 0;
        if (!$NoNginxManager && !is_running($ChildPid)) {
            # the previous nginx is gone (must_die / valgrind mode): restart
            # it with the previous config
            $config = expand_env_in_text($PrevConfig->[0], $name, $rand_ports);
            $should_restart = 1;
        }
    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
        $should_restart = 0;
    } elsif (!$ForceRestartOnTest && $PrevConfig && $config eq $PrevConfig->[1]
             && is_running($ChildPid))
    {
        $should_restart = 0;
    }

    my ($should_skip, $tests_to_skip, $skip_reason, $should_todo, $todo_reason)
        = skip_spec($block);

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = [scalar($block->config) // ($PrevConfig && $PrevConfig->[0]), $config];
        stop_nginx($name);
        check_prev_block_shutdown_error_log();

        if (!can_run($NginxBinary)) {
            bail_out("$name - Cannot find the nginx executable $NginxBinary");
        }

        if (defined $must_die) {
            run_must_die($block, $name, $config, $rand_ports);
            return;
        }

        restart_nginx($block, $name, $rand_ports, \$config);
        $PrevConfig->[1] = $config;
    }

    # evaluated here, in package Test::Nginx::Util, with $block and $name
    # in scope, as the real one does: helpers that a .t file imported into
    # main must be called as main::f() or Their::Package::f()
    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (1 .. $RepeatEach) {
        my ($tcp_socket, $tcp_query_file, $udp_socket, $udp_sock_file, $udp_query_file);
        if (defined $block->tcp_listen) {
            ($tcp_socket, $tcp_query_file) = start_tcp_server($block);
        }
        if (defined $block->udp_listen) {
            ($udp_socket, $udp_sock_file, $udp_query_file) = start_udp_server($block);
        }

        write_user_files($block, $rand_ports) if $i > 1;

        my $run = sub {
            $RunTestHelper->($block, 0, $i - 1);
            if ($tcp_socket) {
                my $buf = read_file_content($tcp_query_file);
                if (defined $block->tcp_query) {
                    is_str($buf, $block->tcp_query, "$name - tcp_query ok");
                }
                if (defined $block->tcp_query_len) {
                    Test::More::is(length($buf), $block->tcp_query_len,
                                   "$name - TCP query length ok");
                }
            }
            if ($udp_socket && defined $block->udp_query) {
                is_str(read_file_content($udp_query_file), $block->udp_query,
                       "$name - udp_query ok");
            }
        };

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            $run->();
        }

        if ($udp_socket) {
            kill_process($UdpServerPid, 0, $name) if defined $UdpServerPid;
            undef $UdpServerPid;
            close $udp_socket;
            unlink $udp_sock_file if defined $udp_sock_file;
        }
        if ($tcp_socket) {
            kill_process($TcpServerPid, 0, $name) if defined $TcpServerPid;
            undef $TcpServerPid;
            close $tcp_socket;
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total_errlog) {
            print $out "\n=== $0 $name\n", read_file_content($ErrLogFile);
            close $out;
        }
    }

    if ($UseValgrind && defined $ChildPid) {
        stop_nginx($name);
        check_valgrind_reports($name);
    }
}

END {
    return if $InSubprocess;
    local $?;
    cleanup();
    watchdog_stop();
    check_prev_block_shutdown_error_log();
    if ($Randomize && defined $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
        remove_tree($ServRoot);
    }
}

1;
