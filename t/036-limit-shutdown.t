# Workers with a Redis connection exit promptly on quit and reload (an idle
# connection holds no timer, the reconnect and connect timers are
# cancelable) and a request waiting for Redis still gets its answer; two
# workers share one limit in either store.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis;
use Time::HiRes qw(time sleep);
use File::Temp ();

my $V = $ENV{TEST_NGINX_USE_VALGRIND};

sub conf {
    my ($redis_port, $extra) = @_;
    return <<"CONF";
    api_led_redis 127.0.0.1:$redis_port $extra;
    server {
        listen 127.0.0.1:\$PORT;
        location /t {
            api_led_rate_limit 100r/s key=t036 on_error=closed;
            # a content handler of its own: at shutdown the listening
            # sockets are closed, a proxy_pass to this server would fail
            empty_gif;
            add_header X-Store \$api_led_rate_limit_store always;
        }
    }
CONF
}

sub quit_time {
    my ($ngx) = @_;
    my $t0 = time;
    stop_nginx($ngx);
    return time - $t0;
}

sub log_of {
    my ($ngx) = @_;
    open my $f, '<', "$ngx->{dir}/logs/error.log" or return '';
    local $/;
    return <$f>;
}

sub workers_of {
    my ($ngx) = @_;
    my @pids = `pgrep -P $ngx->{pid}`;
    chomp @pids;
    return @pids;
}

my $redis = start_redis();

# 1. quit with an idle, connected Redis connection
{
    my $ngx = start_nginx(master => 1, http => conf($redis->{port}, ''));
    my ($st, $h) = http_get($ngx->{port}, '/t');
    is("$st $h->{'x-store'}", '200 redis', 'connected to Redis');
    cmp_ok(quit_time($ngx), '<', 1, 'quit: exits at once');
    unlike(log_of($ngx), qr/\[alert\]|open socket/, 'quit: no socket left');
}

# 2. quit while Redis is down (reconnect timer pending)
{
    my $dead = free_port();
    my $ngx = start_nginx(master => 1,
                          http => conf($dead, 'connect_timeout=10s'));
    my ($st) = http_get($ngx->{port}, '/t');
    is($st, 503, 'Redis down: refused at once');
    cmp_ok(quit_time($ngx), '<', 1, 'quit with Redis down: exits at once');
    unlike(log_of($ngx), qr/\[alert\]/, 'quit with Redis down: no alert');
}

# 3. reload: the old worker leaves promptly, the new one uses Redis
{
    my $ngx = start_nginx(master => 1, http => conf($redis->{port}, ''));
    http_get($ngx->{port}, '/t');
    my ($old) = workers_of($ngx);
    kill 'HUP', $ngx->{pid};
    ok(wait_until(sub { !kill 0, $old }, 2), 'reload: old worker exits');
    ok(wait_until(sub {
        my @w = workers_of($ngx);
        @w && $w[0] != $old;
    }, 2), 'reload: new worker');
    my ($st, $h) = http_get($ngx->{port}, '/t');
    is("$st $h->{'x-store'}", '200 redis', 'reload: the new worker uses Redis');
    stop_nginx($ngx);
    unlike(log_of($ngx), qr/\[alert\]|open socket/, 'reload: no socket left');
}

# 4. quit while a request waits for a slow Redis: it still gets its answer
{
    my $seen = File::Temp::tempdir(CLEANUP => 1) . '/seen';
    my $slow = start_fake_redis(delay => 0.5, seen => $seen);
    my $ngx = start_nginx(master => 1,
                          http => conf($slow->{port}, 'timeout=3s'));
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ngx->{port}")
        or die "connect: $!";
    print $s "GET /t HTTP/1.0\r\nHost: x\r\n\r\n";
    # quit once the request waits for Redis (a fixed 0.1 s was too short
    # on a loaded machine: the quit came first, the request was never read)
    wait_until(sub { -e $seen }, 5);
    my $t = quit_time($ngx);
    local $/;
    my $res = <$s> // '';
    like($res, qr{^HTTP/1\.1 200 .*X-Store: redis}s,
         'quit: the waiting request got its answer');
    cmp_ok($t, '<', 2, 'quit: exits once the reply came');
    unlike(log_of($ngx), qr/\[alert\]/, 'quit while waiting: no alert');
}

# 5. two workers share one limit: in shared memory, and through Redis
#    (one connection each)
for my $store ('local', 'redis') {
    my $http = <<"CONF";
    @{[ $store eq 'redis' ? "api_led_redis 127.0.0.1:$redis->{port};" : '' ]}
    server {
        listen 127.0.0.1:\$PORT;
        location /t {
            api_led_rate_limit 5r/m key=t036-workers-$store;
            empty_gif;
            add_header X-Store \$api_led_rate_limit_store always;
        }
    }
CONF
    my $ngx = start_nginx(master => 1, workers => 2, http => $http);
    my %seen;
    my @st;
    for (1 .. 12) {
        my ($st, $h) = http_get($ngx->{port}, '/t');
        push @st, $st;
        $seen{ $h->{'x-store'} // '' }++;
    }
    is(scalar(grep { $_ == 200 } @st), 5, "two workers, $store store: 5 admitted");
    is(join(',', keys %seen), $store, "two workers: counted in $store");
    stop_nginx($ngx);
}

stop_redis($redis);

repeat_each(1);
run_tests();

__DATA__

=== TEST 1: (the checks above run their own nginx processes)
--- config
    location /t {
        return 200 "ok\n";
    }
--- request
GET /t
