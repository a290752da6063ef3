# The seed scenario as shipped: conf-examples/customer-360.conf itself (only
# its ports and log file are replaced), with conf-examples/consumers.json,
# over the real System services: the customer database (sqlite3) and the
# CRM (services/, started on free ports).  The test server passes every
# request on to the Experience API's server, like a client would send it.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Services;

$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

our $System = ApiLed::Services::start_system_db();
our $Crm = ApiLed::Services::start_crm();

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or die "cannot read $file: $!";
    local $/;
    return scalar <$fh>;
}

our $Root = $ENV{TEST_NGINX_ROOT} || '.';

our $C360 = slurp("$Root/conf-examples/customer-360.conf");
$C360 =~ s/127\.0\.0\.1:8090\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_1/g;
$C360 =~ s/127\.0\.0\.1:8095\b/127.0.0.1:\$TEST_NGINX_SYSTEM_PORT/g;
$C360 =~ s/127\.0\.0\.1:8096\b/127.0.0.1:\$TEST_NGINX_CRM_PORT/g;
$C360 =~ s{logs/customer-360\.log}{logs/access.log}g;

# the trial plan, slower, so that its limit shows within a test
our $Consumers = slurp("$Root/conf-examples/consumers.json");
$Consumers =~ s{"limits": \["5r/s"\]}{"limits": ["2r/m"]}
    or die "consumers.json: the free plan's limit moved";

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("user_files", ">>> consumers.json\n$::Consumers");
    $block->set_value("http_config",
        "api_led_consumers \$TEST_NGINX_HTML_DIR/consumers.json;\n"
        # the update publishes customer.updated, /v1/customers/changes
        # streams them: Redis Streams (gateway.conf has it in make demo)
        . "api_led_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT;\n$::C360");
    $block->set_value("config", <<'_EOC_');
    location / {
        proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }

    # what the CRM received, for the checks
    location = /crm-received {
        proxy_pass http://127.0.0.1:$TEST_NGINX_CRM_PORT/received;
    }
_EOC_
});

no_root_location();
repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the Experience API: one document from two Process APIs over three systems; the CRM got the contact built from the record
--- request eval
["GET /v1/customers/c-42/360", "GET /crm-received?correlation_id=mobile-7f3a"]
--- more_headers
X-API-Key: demo-key-acme
X-Correlation-ID: mobile-7f3a
--- response_body_like eval
[qr/^\{"profile":\{"tier":"gold","since":"2019-04-01","crm":\{"contact_id":"crm-c-42","synced":true,"trace":"mobile-7f3a"\},"id":"c-42","name":"Ada Lovelace","email":"ada\@example.com"\},"orders":\{"orders":\[\{"id":"o-1001","total":42.5,"status":"open"\},\{"id":"o-1002","total":19.99,"status":"shipped"\}\],"customer":"c-42"\}\}\n$/,
 qr/^\[\{"time":"[^"]+","method":"POST","path":"\/contacts\/c-42","correlation_id":"mobile-7f3a","content_type":"application\/json","body":"(?:[^"\\]|\\.)*","json":\{"external_id":"c-42","name":"Ada Lovelace","email":"ada\@example.com","segment":"gold","source":"api-gateway"\}\}\]$/]
--- response_headers eval
["Content-Type: application/json\nX-Correlation-ID: mobile-7f3a\nRateLimit-Limit: 100\n!API-Led-Partial", ""]
--- access_log
"GET /v1/customers/c-42/360 HTTP/1.0" 200 cid=mobile-7f3a consumer=acme-mobile parts=profile:200,orders:200
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
api_led_compose: 502 upstream_failed, correlation id "t055-unknown": required parts failed: profile (502, required parts failed: record (404, no such customer))
--- access_log
"GET /v1/customers/x-1/360 HTTP/1.0" 502 cid=t055-unknown



=== TEST 8: the update: PATCH at the Experience API -> Process API (writable fields, the database's names) -> the database writes -> the changed record goes to the CRM -> the updated customer
--- request eval
["PATCH /v1/customers/c-43
{\"email\":\"grace\@navy.example\",\"tier\":\"platinum\",\"internal_score\":1,\"cust_id\":\"c-1\"}",
"GET /v1/customers/c-43",
"GET /crm-received?correlation_id=t055-update"]
--- more_headers eval
["X-API-Key: demo-key-acme\nContent-Type: application/json\nX-Correlation-ID: t055-update",
 "X-API-Key: demo-key-acme", ""]
--- response_body eval
[qq({"tier":"platinum","since":"2020-09-15","crm":{"contact_id":"crm-c-43","synced":true,"trace":"t055-update"},"id":"c-43","name":"Grace Hopper","email":"grace\@navy.example"}\n),
 qq({"tier":"platinum","since":"2020-09-15","id":"c-43","name":"Grace Hopper","email":"grace\@navy.example"}\n),
 qr/^\[(?:.*,)?\{"time":"[^"]+","method":"PUT","path":"\/contacts\/c-43","correlation_id":"t055-update","content_type":"application\/json","body":"(?:[^"\\]|\\.)*","json":\{"external_id":"c-43","name":"Grace Hopper","email":"grace\@navy.example","segment":"platinum","source":"api-gateway"\}\}(?:,.*)?\]$/]
--- response_headers eval
["Content-Type: application/json\nX-Correlation-ID: t055-update", "", ""]
--- access_log
"PATCH /v1/customers/c-43 HTTP/1.0" 200 cid=t055-update consumer=acme-mobile parts=customer:200
--- no_error_log
[error]



=== TEST 9: the listener delivered customer.updated of TEST 8 to the CRM (asynchronously: polled for up to 10 s)
--- init
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_CRM_PORT}/received?correlation_id=t055-update";
my $got = '';
for (1 .. 40) {
    $got = `curl -s '$url'`;
    last if $got =~ m{"path":"/events"};
    select(undef, undef, undef, 0.25);
}
Test::More::like($got, qr{"method":"POST","path":"/events","correlation_id":"t055-update","content_type":"application/cloudevents\+json".*"json":\{"specversion":"1\.0",[^\}]*"type":"customer\.updated","subject":"/process/customers/c-43".*"data":\{"id":"c-43","name":"Grace Hopper","email":"grace\@navy\.example","tier":"platinum"\}},
                 'TEST 9: the CRM received the CloudEvent once delivered');
--- request
GET /crm-received?correlation_id=t055-update
--- response_body_like chomp
"path":"/events"



=== TEST 10: the update as a form
--- request
PATCH /v1/customers/c-44
name=Alan+M.+Turing&tier=silver
--- more_headers
X-API-Key: demo-key-acme
Content-Type: application/x-www-form-urlencoded
--- response_body_like chomp
^\{"tier":"silver","since":"2021-06-23","crm":\{"contact_id":"crm-c-44","synced":true,"trace":"[^"]+"\},"id":"c-44","name":"Alan M. Turing","email":"alan\@example.com"\}$



=== TEST 11: an unknown customer: 404, and a value the database refuses: 422, without internal detail
--- request eval
["PATCH /v1/customers/c-999
{\"tier\":\"gold\"}",
"PATCH /v1/customers/c-42
{\"email\":\"not an address\"}"]
--- more_headers eval
["X-API-Key: demo-key-acme\nContent-Type: application/json\nX-Correlation-ID: t055-404",
 "X-API-Key: demo-key-acme\nContent-Type: application/json\nX-Correlation-ID: t055-422"]
--- error_code eval
[404, 422]
--- response_body eval
[qq({"type":"urn:api-led:error:not_found","title":"Not found","status":404,"correlation_id":"t055-404"}\n),
 qq({"type":"urn:api-led:error:unprocessable_content","title":"Unprocessable content","status":422,"correlation_id":"t055-422"}\n)]



=== TEST 12: the database's refusal is in the error log with the correlation id
--- request
PATCH /v1/customers/c-42
{"tier":"diamond"}
--- more_headers
X-API-Key: demo-key-acme
Content-Type: application/json
X-Correlation-ID: t055-refused
--- error_code: 422
--- response_body
{"type":"urn:api-led:error:unprocessable_content","title":"Unprocessable content","status":422,"correlation_id":"t055-refused"}
--- error_log
api_led_compose: 422 unprocessable_content, correlation id "t055-refused": required parts failed: customer (422, required parts failed: record (422, the customer record is not valid))



=== TEST 13: the CRM got nothing of the refused updates
--- request
GET /crm-received?correlation_id=t055-refused
--- response_body
[]



=== TEST 14: a body that is not JSON: 400 invalid_json at the Experience API, nothing written
--- request eval
["PATCH /v1/customers/c-42
{\"tier\":", "GET /v1/customers/c-42"]
--- more_headers eval
["X-API-Key: demo-key-acme\nContent-Type: application/json", "X-API-Key: demo-key-acme"]
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/^\{"type":"urn:api-led:error:invalid_json","title":"Invalid JSON","status":400,"detail":"[^"]+","correlation_id":"[^"]+"\}$/,
 qr/"tier":"gold"/]



=== TEST 15: the update needs an API key; other methods are not allowed
--- request eval
["PATCH /v1/customers/c-42
{\"tier\":\"bronze\"}", "DELETE /v1/customers/c-42", "PUT /v1/customers/c-42
{}"]
--- more_headers eval
["Content-Type: application/json", "X-API-Key: demo-key-acme", "X-API-Key: demo-key-acme"]
--- error_code eval
[401, 405, 405]
--- response_headers eval
["", "Allow: GET, HEAD, PATCH", "Allow: GET, HEAD, PATCH"]



=== TEST 16: a client cannot write through the Process or System API
--- request eval
["PATCH /process/customers/c-42
{\"tier\":\"bronze\"}", "PATCH /system/customers/c-42
{\"tier\":\"bronze\"}", "GET /v1/customers/c-42"]
--- more_headers
X-API-Key: demo-key-acme
Content-Type: application/json
--- error_code eval
[403, 403, 200]
--- response_body_like eval
[qr/layer_violation/, qr/layer_violation/, qr/"tier":"gold"/]
