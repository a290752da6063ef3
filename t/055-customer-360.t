# The seed scenario as shipped: conf-examples/customer-360.conf itself (only
# its ports and log file are replaced), with conf-examples/consumers.json.
# The test server passes every request on to the Experience API's server,
# like a client would send it.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or die "cannot read $file: $!";
    local $/;
    return scalar <$fh>;
}

our $Root = $ENV{TEST_NGINX_ROOT} || '.';

our $C360 = slurp("$Root/conf-examples/customer-360.conf");
$C360 =~ s/127\.0\.0\.1:8090\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_1/g;
$C360 =~ s/127\.0\.0\.1:8091\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_2/g;
$C360 =~ s/127\.0\.0\.1:8092\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_3/g;
$C360 =~ s{logs/customer-360\.log}{logs/access.log}g;
$C360 =~ s{logs/crm-contacts\.log}{logs/access.log}g;

# the trial plan, slower, so that its limit shows within a test
our $Consumers = slurp("$Root/conf-examples/consumers.json");
$Consumers =~ s{"limits": \["5r/s"\]}{"limits": ["2r/m"]}
    or die "consumers.json: the free plan's limit moved";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> consumers.json\n$::Consumers");
    $block->set_value("http_config",
        "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n$::C360");
    $block->set_value("config", <<'_EOC_');
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
_EOC_
});

no_root_location();
repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the Experience API: one document from two Process APIs over three systems; the CRM got the contact built from the record
--- request
GET /v1/customers/c-42/360
--- more_headers
X-API-Key: demo-key-acme
X-Correlation-ID: mobile-7f3a
--- response_body
{"profile":{"tier":"gold","since":"2019-04-01","crm":{"contact_id":"crm-c-42","synced":true,"trace":"mobile-7f3a"},"id":"c-42","name":"Ada Lovelace","email":"ada@example.com"},"orders":{"orders":[{"id":"o-1001","total":42.5,"status":"open"},{"id":"o-1002","total":19.99,"status":"shipped"}],"customer":"c-42"}}
--- response_headers
Content-Type: application/json
X-Correlation-ID: mobile-7f3a
RateLimit-Limit: 100
!API-Led-Partial
--- access_log
"GET /v1/customers/c-42/360 HTTP/1.0" 200 cid=mobile-7f3a consumer=acme-mobile parts=profile:200,orders:200
mobile-7f3a {"external_id":"c-42","name":"Ada Lovelace","email":"ada@example.com","segment":"gold","source":"api-gateway"}
--- no_error_log
[error]



=== TEST 2: no API key: 401
--- request
GET /v1/customers/c-42/360
--- error_code: 401
--- response_headers
Content-Type: application/problem+json



=== TEST 3: the consumer's plan limits it: 429 after two calls a minute
--- request eval
["GET /v1/customers/c-42/360", "GET /v1/customers/c-42/360",
 "GET /v1/customers/c-42/360"]
--- more_headers
X-API-Key: demo-key-trial
--- error_code eval
[200, 200, 429]



=== TEST 4: a client may not call a Process API directly
--- request
GET /process/customer-profile?id=c-42
--- more_headers
X-API-Key: demo-key-acme
--- error_code: 403
--- response_body_like chomp
"type":"urn:api-led:error:layer_violation"
--- error_log
api_led: layer violation: api "customer-profile" called by a client, allowed callers: experience



=== TEST 5: nor a System API
--- request
GET /system/customers/c-42
--- error_code: 403
--- error_log
api_led: layer violation: api "customers-db" called by a client, allowed callers: process



=== TEST 6: nor the CRM
--- request
POST /system/crm/contacts/c-42
{"name":"Mallory"}
--- error_code: 403
--- error_log
api_led: layer violation: api "crm" called by a client, allowed callers: process



=== TEST 7: an unknown customer: 502; the Experience API names no part, the error log names the Process API and the System API below it
--- request
GET /v1/customers/x-1/360
--- more_headers
X-API-Key: demo-key-acme
X-Correlation-ID: t055-unknown
--- error_code: 502
--- response_body
{"type":"urn:api-led:error:upstream_failed","title":"Upstream failed","status":502,"correlation_id":"t055-unknown"}
--- error_log
api_led_compose: 502 upstream_failed, correlation id "t055-unknown": required parts failed: profile (502, required parts failed: record (404))
--- access_log
"GET /v1/customers/x-1/360 HTTP/1.0" 502 cid=t055-unknown
