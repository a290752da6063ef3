# The layer contract across nodes: a location with "api_led_caller_key FILE
# sign" signs the requests it proxies (API-Led-Caller); the next node's
# api_led_callers takes a valid assertion as the layer it names, and a
# missing, forged, expired or replayed one as a client.  Three nginx
# instances: the test's (Experience), node 2 (Process) and node 3 (System,
# over the customer database service), started here.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Redis ();
use ApiLed::Services;
use Digest::SHA qw(hmac_sha256);
use File::Temp qw(tempdir);
use MIME::Base64 qw(encode_base64url);

our $System = ApiLed::Services::start_system_db();
our $Crm = ApiLed::Services::start_crm();

our $KeyDir = tempdir(CLEANUP => 1);
our $Key = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
our $OtherKey = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;

sub write_key {
    my ($name, $key) = @_;
    open my $f, '>', "$KeyDir/$name" or die $!;
    print $f "$key\n";
    close $f;
    chmod 0600, "$KeyDir/$name";
    return "$KeyDir/$name";
}

$ENV{TEST_NGINX_CALLER_KEY} = write_key('caller.key', $Key);
$ENV{TEST_NGINX_OTHER_KEY} = write_key('other.key', $OtherKey);

# node 3: System APIs, called by Process APIs only; two workers, which
# share what assertions they have seen
our $Node3 = ApiLed::Redis::start_nginx(master => 1, workers => 2,
                                        http => <<"CONF");
    upstream system_db {
        server 127.0.0.1:$ENV{TEST_NGINX_SYSTEM_PORT};
    }
    upstream crm {
        server 127.0.0.1:$ENV{TEST_NGINX_CRM_PORT};
    }
    server {
        listen 127.0.0.1:\$PORT;
        api_led_caller_key $ENV{TEST_NGINX_CALLER_KEY};

        location /system/customers/ {
            api_led_api      customers-db layer=system;
            api_led_callers  process;
            proxy_pass       http://system_db/customers/;
        }

        location /system/crm/ {
            api_led_api      crm layer=system;
            api_led_callers  process;
            api_led_request_json set /source api-gateway;
            proxy_pass       http://crm/;
        }

        # what a System API passes on: the caller header never goes further
        location /system/seen {
            api_led_api      seen layer=system;
            api_led_callers  process;
            proxy_pass       http://127.0.0.1:\$PORT/echo;
        }

        location /echo {
            default_type application/json;
            return 200 '{"caller":"\$http_api_led_caller","cid":"\$http_x_correlation_id"}';
        }
    }
CONF
$ENV{TEST_NGINX_NODE3_PORT} = $Node3->{port};

# node 2: Process APIs, called by Experience APIs, calling node 3
our $Node2 = ApiLed::Redis::start_nginx(http => <<"CONF");
    server {
        listen 127.0.0.1:\$PORT;

        location ~ ^/process/customers/(?<id>c-[0-9]+)\$ {
            api_led_api            customer layer=process;
            api_led_callers        experience;
            api_led_caller_key     $ENV{TEST_NGINX_CALLER_KEY};
            api_led_compose_merge  deep;
            api_led_compose {
                record  "/system/customers/\$id" status=pass;
            }
            api_led_compose PATCH {
                record  PATCH "/system/customers/\$id" body=\@request
                        status=pass;
                crm     PUT "/system/crm/contacts/{record/cust_id}"
                        'body={"external_id":{record/cust_id},"name":{record/full_name},"segment":{record/tier}}';
            }
        }

        location /process/seen {
            api_led_api         seen-process layer=process;
            api_led_callers     experience;
            api_led_caller_key  $ENV{TEST_NGINX_CALLER_KEY};
            api_led_compose {
                seen  /system/seen;
            }
        }

        # node 3, for the compositions above: signed as their caller
        location /system/ {
            internal;
            api_led_caller_key $ENV{TEST_NGINX_CALLER_KEY} sign;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_NODE3_PORT};
        }

        # a Process API that signs with another key
        location /process/other-key {
            api_led_api            other layer=process;
            api_led_compose {
                seen  /other/system/seen;
            }
        }
        location /other/ {
            internal;
            api_led_caller_key $ENV{TEST_NGINX_OTHER_KEY} sign;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_NODE3_PORT}/;
        }

        # an assertion as node 2 signs it, for the checks at the end
        location /capture {
            api_led_api      capture layer=process;
            api_led_caller_key $ENV{TEST_NGINX_CALLER_KEY} sign;
            proxy_pass http://127.0.0.1:\$PORT/echo;
        }
        location /echo {
            default_type application/json;
            return 200 '{"caller":"\$http_api_led_caller","cid":"\$http_x_correlation_id"}';
        }
    }
CONF
$ENV{TEST_NGINX_NODE2_PORT} = $Node2->{port};

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    # Experience APIs, called by clients, calling node 2
    location ~ ^/v1/customers/(?<id>c-[0-9]+)$ {
        api_led_api            customers layer=experience;
        api_led_callers        client;
        api_led_caller_key     $TEST_NGINX_CALLER_KEY;
        api_led_compose_merge  deep;
        api_led_compose {
            customer  "/process/customers/$id" status=pass;
        }
        api_led_compose PATCH {
            customer  PATCH "/process/customers/$id" body=@request
                      status=pass;
        }
    }

    location /v1/seen {
        api_led_api      seen-experience layer=experience;
        api_led_compose {
            seen  /process/seen;
        }
    }

    location /v1/other-key {
        api_led_api      other-experience layer=experience;
        api_led_compose {
            p  /process/other-key;
        }
    }

    # two nodes, no composition: the Experience API proxies to node 2
    location /v1/direct/ {
        api_led_api         direct layer=experience;
        api_led_callers     client;
        api_led_caller_key  $TEST_NGINX_CALLER_KEY sign;
        proxy_pass          http://127.0.0.1:$TEST_NGINX_NODE2_PORT/process/customers/;
    }

    # node 2, for the compositions above: signed as their caller
    location /process/ {
        internal;
        api_led_caller_key  $TEST_NGINX_CALLER_KEY sign;
        proxy_pass          http://127.0.0.1:$TEST_NGINX_NODE2_PORT;
    }

    # what the CRM received, for the checks
    location = /crm-received {
        proxy_pass  http://127.0.0.1:$TEST_NGINX_CRM_PORT/received;
    }

    # straight to the other nodes, as a client would go (no signature)
    location /node2/ {
        proxy_pass  http://127.0.0.1:$TEST_NGINX_NODE2_PORT/;
    }
    location /node3/ {
        proxy_pass  http://127.0.0.1:$TEST_NGINX_NODE3_PORT/;
    }
_EOC_
});

repeat_each(1);
no_shuffle();
run_tests();

# -- the assertion itself, against node 3, straight from here

sub node_get {
    my ($port, $path, %h) = @_;
    my ($status, $headers, $body) = ApiLed::Redis::http_get($port, $path, %h);
    return ($status, $body);
}

sub assertion {
    my (%o) = @_;
    my $key = $o{key} // $Key;
    my $nonce = encode_base64url($o{nonce} // join '', map { chr int rand 256 } 1 .. 16);
    my $ts = $o{ts} // time;
    my $msg = "api-led-caller v1\n$o{layer}\n$o{api}\n$o{cid}\n$ts\n$nonce";
    my $sig = encode_base64url(hmac_sha256($msg, $key));
    return "v1;layer=$o{layer};api=$o{api};ts=$ts;nonce=$nonce;sig=$sig";
}

my $n3 = $Node3->{port};
my $n2 = $Node2->{port};

# an assertion node 2 signed, captured on the wire: it is accepted once
my (undef, $captured) = node_get($n2, '/capture', 'X-Correlation-ID' => 't068-capture');
my ($value) = $captured =~ /"caller":"([^"]+)"/;
Test::More::like($value // '', qr/^v1;layer=process;api=capture;ts=\d+;nonce=[A-Za-z0-9_-]{22};sig=[A-Za-z0-9_-]{43}$/,
                 'node 2 signs what it proxies from a signing location');

my @h = ('API-Led-Caller' => $value, 'X-Correlation-ID' => 't068-capture');
my ($s1, $b1) = node_get($n3, '/system/seen', @h);
Test::More::is($s1, 200, 'a captured assertion, presented first: accepted');
Test::More::like($b1, qr/^\{"caller":"","cid":"t068-capture"\}$/,
                 'the System API passes no caller header on');
my ($s2, $b2) = node_get($n3, '/system/seen', @h);
Test::More::is($s2, 403, 'the same assertion again: replayed, 403');
Test::More::like($b2, qr/"type":"urn:api-led:error:layer_violation"/,
                 'a replayed assertion: layer_violation');

# on new connections, whichever worker takes them: replayed every time
my %replayed;
for my $i (1 .. 16) {
    my ($s) = node_get($n3, '/system/seen', @h);
    $replayed{$s}++;
}
Test::More::is_deeply(\%replayed, { 403 => 16 },
                      'replayed to both workers of node 3: 403 every time');

# with another correlation id: the signature does not hold
my ($s3) = node_get($n3, '/system/seen', 'API-Led-Caller' => $value,
                    'X-Correlation-ID' => 't068-other');
Test::More::is($s3, 403, 'an assertion of another correlation id: 403');

# made here, with the key: valid, then expired, from the future, forged
my %a = (layer => 'process', api => 't063', cid => 't068-made');
my ($s4) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                    'API-Led-Caller' => assertion(%a));
Test::More::is($s4, 200, 'an assertion signed with the key: accepted');

my ($s5) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                    'API-Led-Caller' => assertion(%a, ts => time - 45));
Test::More::is($s5, 403, 'an assertion older than max_age (30s): 403');

my ($s6) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                    'API-Led-Caller' => assertion(%a, ts => time + 45));
Test::More::is($s6, 403, 'an assertion from the future beyond max_age: 403');

my ($s7) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                    'API-Led-Caller' => assertion(%a, key => 'not the key ' x 4));
Test::More::is($s7, 403, 'an assertion signed with another key: 403');

my ($s8) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                    'API-Led-Caller' => assertion(%a, layer => 'experience'));
Test::More::is($s8, 403, 'a valid assertion of the experience layer: 403 for a System API');

for my $bad ('v1', 'v2;layer=process', 'v1;layer=process;api=x;ts=1;nonce=a;sig=b',
             'v1;layer=admin;api=x;ts=' . time . ';nonce=' . ('A' x 22) . ';sig=' . ('A' x 43),
             "v1;layer=process;api=a b;ts=1;nonce=x;sig=y", 'x' x 300)
{
    my ($s) = node_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                       'API-Led-Caller' => $bad);
    Test::More::is($s, 403, "a malformed assertion ($bad): 403");
}

# two headers: neither counts
my ($s9) = ApiLed::Redis::http_get($n3, '/system/seen', 'X-Correlation-ID' => 't068-made',
                                   'API-Led-Caller' => assertion(%a),
                                   'Api-Led-Caller' => assertion(%a));
Test::More::is($s9, 403, 'two assertions: 403');

my $log3 = ApiLed::Services::slurp("$Node3->{dir}/logs/error.log");
for my $why ('replayed', 'bad signature', 'expired', 'malformed',
             'more than one header')
{
    Test::More::like($log3, qr/\[info\] .*api_led: caller assertion refused \($why\), the request counts as a client's/,
                     "node 3 logs the refusal: $why");
}
Test::More::unlike($log3, qr/\Q$Key\E/, 'the key is in no log line');

my %workers = map { $_ => 1 }
    $log3 =~ /\[info\] (\d+)#\d+: \*\d+ api_led: caller assertion refused \(replayed\)/g;
Test::More::cmp_ok(scalar keys %workers, '>=', 2,
                   'both workers of node 3 refused the replayed assertion');

ApiLed::Redis::stop_nginx($Node2);
ApiLed::Redis::stop_nginx($Node3);

__DATA__

=== TEST 1: three nodes: a client -> Experience (node 1) -> Process (node 2) -> System (node 3) -> the database
--- request
GET /v1/customers/c-42
--- more_headers
X-Correlation-ID: t068-read
--- response_body
{"cust_id":"c-42","full_name":"Ada Lovelace","email_addr":"ada@example.com","tier":"gold","since":"2019-04-01","internal_score":87}
--- no_error_log
[error]
[warn]



=== TEST 2: the update through three nodes: the database writes, the CRM gets the changed record, the read sees it
--- request eval
["PATCH /v1/customers/c-43
{\"tier\":\"platinum\"}", "GET /v1/customers/c-43", "GET /crm-received?correlation_id=t068-write"]
--- more_headers eval
["Content-Type: application/json\nX-Correlation-ID: t068-write", "", ""]
--- response_body_like eval
[qr/^\{"cust_id":"c-43","full_name":"Grace Hopper",.*"tier":"platinum".*"crm":\{"contact_id":"crm-c-43","synced":true,"trace":"t068-write"\}\}$/,
 qr/"tier":"platinum"/,
 qr/^\[\{"time":"[^"]+","method":"PUT","path":"\/contacts\/c-43","correlation_id":"t068-write",.*"json":\{"external_id":"c-43","name":"Grace Hopper","segment":"platinum","source":"api-gateway"\}\}\]$/]



=== TEST 3: a System API's 404 through three nodes (status=pass at each layer)
--- request
PATCH /v1/customers/c-999
{"tier":"gold"}
--- more_headers
Content-Type: application/json
X-Correlation-ID: t068-404
--- error_code: 404
--- response_body
{"type":"urn:api-led:error:not_found","title":"Not found","status":404,"correlation_id":"t068-404"}



=== TEST 4: two nodes: an Experience API proxies to the Process node, signed as itself
--- request
GET /v1/direct/c-44
--- response_body_like chomp
^\{"cust_id":"c-44","full_name":"Alan Turing"



=== TEST 5: a client calling the Process node or the System node directly: 403
--- request eval
["GET /node2/process/customers/c-42", "GET /node3/system/customers/c-42"]
--- error_code eval
[403, 403]
--- response_body_like eval
[qr/"type":"urn:api-led:error:layer_violation"/, qr/"type":"urn:api-led:error:layer_violation"/]



=== TEST 6: a client cannot send an assertion through: node 1 removes it, node 3 sees only node 2's own
--- request
GET /v1/seen
--- more_headers
API-Led-Caller: v1;layer=process;api=forged;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
X-Correlation-ID: t068-seen
--- response_body
{"seen":{"seen":{"caller":"","cid":"t068-seen"}}}



=== TEST 7: a forged assertion sent straight to node 2 counts as a client: 403
--- request
GET /node2/process/customers/c-42
--- more_headers
API-Led-Caller: v1;layer=experience;api=forged;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
--- error_code: 403



=== TEST 8: a node that signs with another key is not taken for a Process API
--- request
GET /v1/other-key
--- more_headers
X-Correlation-ID: t068-other-key
--- error_code: 502
