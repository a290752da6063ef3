# The Process API example as shipped: conf-examples/process-api.conf itself
# (only its ports and log file are replaced).  The test server passes every
# request on to the Process API's server, like a client would send it.
use Test::Nginx::Socket 'no_plan';

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or die "cannot read $file: $!";
    local $/;
    return scalar <$fh>;
}

our $Root = $ENV{TEST_NGINX_ROOT} || '.';

our $Conf = slurp("$Root/conf-examples/process-api.conf");
$Conf =~ s/127\.0\.0\.1:8093\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_1/g;
$Conf =~ s/127\.0\.0\.1:8094\b/127.0.0.1:\$TEST_NGINX_RAND_PORT_2/g;
$Conf =~ s{logs/legacy-orders\.log}{logs/access.log}g;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $::Conf);
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

=== TEST 1: GET: the legacy record in the channels' names, without costs and audit data
--- request
GET /process/orders/1017
--- response_body chomp
{"id":1017,"status":"S","customer":{"id":"c-42","name":"Ada Lovelace"},"lines":[{"sku":"A-1","quantity":2,"unit_price":19.99},{"sku":"B-7","quantity":1,"unit_price":5.5}],"links":{"self":"/process/orders/1017"}}
--- response_headers
Content-Type: application/json
!X-Legacy-Node
Content-Length: 211
--- no_error_log
[error]
[warn]



=== TEST 2: GET with gzip accepted: still reshaped
--- request
GET /process/orders/7
--- more_headers
Accept-Encoding: gzip
--- response_body_like chomp
^\{"id":7,"status":"S",.*"links":\{"self":"/process/orders/7"\}\}$



=== TEST 3: POST: clean JSON in, the legacy form out (the channel moved from a header into the form)
--- request
POST /process/orders
{"customer":"c-42","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"note":"ring twice"}
--- more_headers
Content-Type: application/json
X-Channel: mobile
X-Correlation-ID: cid-7
--- error_code: 201
--- response_body chomp
{"id":1018,"status":"N"}
--- access_log
cid-7 CUST_ID=c-42&REMARKS=ring%20twice&LINES=%7B%22SKU%22%3A%22A-1%22%2C%22QTY%22%3A2%7D&LINES=%7B%22SKU%22%3A%22B-7%22%2C%22QTY%22%3A1%7D&CHANNEL=mobile&REQ_ID=cid-7
--- no_error_log
[error]



=== TEST 4: POST with a body that is not JSON: 400 before the legacy system is called
--- request
POST /process/orders
customer=c-42
--- error_code: 400
--- response_headers
Content-Type: application/problem+json
--- response_body_like chomp
"type":"urn:api-led:error:invalid_json"
