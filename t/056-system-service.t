# The System services behind nginx: services/system_db.py (a customer
# database on sqlite3) and services/crm.py (a CRM that records what it
# received), started on free ports by t/lib/ApiLed/Services.pm.  Reads and
# writes go through System API locations; the services see the correlation
# id of the call.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use ApiLed::Services;

our $System = ApiLed::Services::start_system_db();
our $Crm = ApiLed::Services::start_crm();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    upstream system_db {
        server 127.0.0.1:$TEST_NGINX_SYSTEM_PORT;
        keepalive 4;
    }
    upstream crm {
        server 127.0.0.1:$TEST_NGINX_CRM_PORT;
        keepalive 4;
    }
_EOC_
    $block->set_value("config", <<'_EOC_');
    proxy_http_version  1.1;
    proxy_set_header    Connection "";

    location /system/customers {
        api_led_api  customers-db layer=system;
        proxy_pass   http://system_db/customers;
    }
    location = /system/orders {
        api_led_api  orders-db layer=system;
        proxy_pass   http://system_db/orders;
    }
    location /system/crm/ {
        api_led_api  crm layer=system;
        proxy_pass   http://crm/;
    }
    location = /crm-received {
        proxy_pass   http://crm/received;
    }
_EOC_
});

repeat_each(1);
no_shuffle();
run_tests();

my $log = ApiLed::Services::service_log($System);
Test::More::like($log,
    qr{customers-db 127\.0\.0\.1 "GET /customers/c-42 HTTP/1\.[01]" 200 cid=t056-read\n},
    'the database logged the read with its correlation id');
Test::More::like($log,
    qr{"PATCH /customers/c-43 HTTP/1\.[01]" 200 cid=t056-write\n},
    'the database logged the write with its correlation id');

my $got = ApiLed::Services::crm_received($Crm, 't056-crm');
Test::More::is(scalar @$got, 1, 'the CRM recorded one request of t056-crm');
Test::More::is_deeply($got->[0]{json},
    { external_id => 'c-42', name => 'Ada Lovelace', source => 'test' },
    'the CRM recorded the body it received');

# garbage straight at the database service: an answer (or a closed
# connection), never a dead service
sub raw {
    my ($port, $data) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5) or return '';
    print $s $data;
    shutdown $s, 1;
    local $/;
    my $res = <$s> // '';
    return $res;
}

my $port = $System->{port};
my $deep = '[' x 60000;     # within the 64 KiB limit
for my $garbage ("\x00\xff\xfe\r\n\r\n",
                 "PATCH /customers/c-42 HTTP/1.1\r\nContent-Length: 50\r\n\r\n{",
                 "PATCH /customers/c-42 HTTP/1.1\r\nContent-Type: application/json\r\n"
                 . "Content-Length: " . length($deep) . "\r\n\r\n$deep",
                 "PATCH /customers/c-42 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 "GET /customers/c-42 HTTP/1.1\r\nX: " . ('x' x 70000) . "\r\n\r\n")
{
    raw($port, $garbage);
}
Test::More::like(raw($port, "PATCH /customers/c-42 HTTP/1.1\r\n"
                            . "Content-Type: application/json\r\n"
                            . "Content-Length: " . length($deep) . "\r\n\r\n$deep"),
                 qr{^HTTP/1\.1 400 .*"detail":"the body is nested too deeply"}s,
                 'JSON nested 60,000 deep: 400');
Test::More::like(raw($port, "GET /customers/c-42 HTTP/1.0\r\n\r\n"),
                 qr{^HTTP/1\.[01] 200 .*"tier":"gold"}s,
                 'the database service still answers after garbage');

__DATA__

=== TEST 1: a record from the database, in its own names, with its version
--- request
GET /system/customers/c-42
--- more_headers
X-Correlation-ID: t056-read
--- response_body
{"cust_id":"c-42","full_name":"Ada Lovelace","email_addr":"ada@example.com","tier":"gold","since":"2019-04-01","internal_score":87}
--- response_headers
Content-Type: application/json
ETag: "v1"
X-Correlation-ID: t056-read
--- no_error_log
[error]



=== TEST 2: a customer's orders
--- request
GET /system/orders?customer=c-42
--- response_body
{"orders":[{"id":"o-1001","total":42.5,"status":"open"},{"id":"o-1002","total":19.99,"status":"shipped"}],"customer":"c-42"}



=== TEST 3: PATCH changes the record: the next GET shows the change and the new version
--- request eval
["PATCH /system/customers/c-43
{\"email_addr\":\"grace\@navy.example\",\"tier\":\"gold\"}",
"GET /system/customers/c-43"]
--- more_headers
Content-Type: application/json
X-Correlation-ID: t056-write
--- response_body eval
[qq({"cust_id":"c-43","full_name":"Grace Hopper","email_addr":"grace\@navy.example","tier":"gold","since":"2020-09-15","internal_score":74}\n),
 qq({"cust_id":"c-43","full_name":"Grace Hopper","email_addr":"grace\@navy.example","tier":"gold","since":"2020-09-15","internal_score":74}\n)]
--- response_headers eval
["ETag: \"v2\"", "ETag: \"v2\""]
--- no_error_log
[error]



=== TEST 4: a write against an old version (If-Match) is refused with 412 and changes nothing
--- request eval
["PATCH /system/customers/c-43
{\"tier\":\"bronze\"}",
"GET /system/customers/c-43"]
--- more_headers eval
["Content-Type: application/json\nIf-Match: \"v1\"", ""]
--- error_code eval
[412, 200]
--- response_headers eval
["Content-Type: application/problem+json\nETag: \"v2\"", "ETag: \"v2\""]
--- response_body_like eval
[qr/^\{"type":"urn:customers-db:error:precondition_failed","title":"Precondition failed","status":412,"detail":"the record changed since it was read","correlation_id":"[^"]+"\}$/,
 qr/"tier":"gold"/]



=== TEST 5: an unknown customer: 404 problem+json
--- request
GET /system/customers/c-999
--- more_headers
X-Correlation-ID: t056-404
--- error_code: 404
--- response_headers
Content-Type: application/problem+json
--- response_body
{"type":"urn:customers-db:error:not_found","title":"Not found","status":404,"detail":"no such customer","correlation_id":"t056-404"}



=== TEST 6: a body that is not JSON: 400, the record is unchanged
--- request eval
["PATCH /system/customers/c-42
{\"tier\":", "GET /system/customers/c-42"]
--- more_headers
Content-Type: application/json
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/^\{"type":"urn:customers-db:error:invalid_json","title":"Invalid JSON","status":400,"detail":"the body is not valid JSON: [^"]+","correlation_id":"[^"]+"\}$/,
 qr/"tier":"gold".*"internal_score":87/]



=== TEST 7: bad fields: 422 names every one of them
--- request
PATCH /system/customers/c-42
{"email_addr":"not-an-address","nickname":"Countess","internal_score":101}
--- more_headers
Content-Type: application/json
X-Correlation-ID: t056-422
--- error_code: 422
--- response_body
{"type":"urn:customers-db:error:invalid_customer","title":"Invalid customer","status":422,"detail":"the customer record is not valid","errors":[{"pointer":"/email_addr","detail":"must be an email address"},{"pointer":"/nickname","detail":"unknown field"},{"pointer":"/internal_score","detail":"must be an integer from 0 to 100"}],"correlation_id":"t056-422"}



=== TEST 8: POST creates a customer (201, Location), GET reads it back
--- request eval
["POST /system/customers
{\"full_name\":\"Edsger Dijkstra\",\"email_addr\":\"ewd\@example.com\",\"tier\":\"silver\",\"since\":\"2024-05-11\"}",
"GET /system/customers/c-45"]
--- more_headers
Content-Type: application/json
--- error_code eval
[201, 200]
--- response_headers eval
["Location: /customers/c-45\nETag: \"v1\"", "ETag: \"v1\""]
--- response_body eval
[qq({"cust_id":"c-45","full_name":"Edsger Dijkstra","email_addr":"ewd\@example.com","tier":"silver","since":"2024-05-11","internal_score":null}\n),
 qq({"cust_id":"c-45","full_name":"Edsger Dijkstra","email_addr":"ewd\@example.com","tier":"silver","since":"2024-05-11","internal_score":null}\n)]



=== TEST 9: the CRM answers with the contact id and the trace it saw, and records the request
--- request eval
["POST /system/crm/contacts/c-42
{\"external_id\":\"c-42\",\"name\":\"Ada Lovelace\",\"source\":\"test\"}",
"GET /crm-received?correlation_id=t056-crm"]
--- more_headers
Content-Type: application/json
X-Correlation-ID: t056-crm
--- response_body_like eval
[qr/^\{"crm":\{"contact_id":"crm-c-42","synced":true,"trace":"t056-crm"\}\}$/,
 qr/^\[\{"time":"[^"]+","method":"POST","path":"\/contacts\/c-42","correlation_id":"t056-crm","content_type":"application\/json","body":"\{\\"external_id\\":\\"c-42\\",\\"name\\":\\"Ada Lovelace\\",\\"source\\":\\"test\\"\}","json":\{"external_id":"c-42","name":"Ada Lovelace","source":"test"\}\}\]$/]



=== TEST 10: the CRM refuses a body that is not JSON (400) but still records it
--- request eval
["PUT /system/crm/contacts/c-42
not json", "GET /crm-received?correlation_id=t056-crm-bad"]
--- more_headers
Content-Type: application/json
X-Correlation-ID: t056-crm-bad
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/"type":"urn:crm:error:invalid_json"/,
 qr/^\[\{"time":"[^"]+","method":"PUT","path":"\/contacts\/c-42","correlation_id":"t056-crm-bad","content_type":"application\/json","body":"not json","json":null\}\]$/]



=== TEST 11: lone surrogate escapes (JSON, not Unicode text): 400 from the database, the CRM records the text
--- request eval
["PATCH /system/customers/c-42
{\"full_name\":\"Ada \\ud800\"}",
"PATCH /system/customers/c-42
{\"\\udc00\":1}",
"GET /system/customers/c-42",
"PUT /system/crm/contacts/c-42
{\"name\":\"\\ud800\"}",
"GET /crm-received?correlation_id=t056-surrogate"]
--- more_headers
Content-Type: application/json
X-Correlation-ID: t056-surrogate
--- error_code eval
[400, 400, 200, 400, 200]
--- response_body_like eval
[qr/^\{"type":"urn:customers-db:error:invalid_json","title":"Invalid JSON","status":400,"detail":"the body holds a lone surrogate escape: not Unicode text","correlation_id":"t056-surrogate"\}$/,
 qr/"detail":"the body holds a lone surrogate escape: not Unicode text"/,
 qr/"full_name":"Ada Lovelace"/,
 qr/"type":"urn:crm:error:invalid_json"/,
 qr/^\[\{"time":"[^"]+","method":"PUT","path":"\/contacts\/c-42","correlation_id":"t056-surrogate","content_type":"application\/json","body":"\{\\"name\\":\\"\\\\ud800\\"\}","json":null\}\]$/]
