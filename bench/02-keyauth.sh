# API-key policy: plain proxying vs the same location with key-auth (a
# consumers file of 10,000 consumers, the key in a header, hidden from the
# upstream), side by side.  Peer: plain nginx checking the key with a map
# (plaintext keys in nginx.conf, no hiding, no consumers file).
. "$(dirname "$0")/lib.sh"

bench_init

# 10,000 consumers, one key each; every other key stored as its digest
awk 'BEGIN {
    printf "{\"plans\": {\"gold\": {\"limits\": [\"1000r/s\"]}},\n \"consumers\": [\n";
    for (i = 1; i <= 10000; i++) {
        printf "  {\"id\": \"c%d\", \"plan\": \"gold\", \"keys\": [\"k-bench-%d\"]}%s\n",
               i, i, (i < 10000) ? "," : "";
    }
    printf "]}\n";
}' > "$BENCH_DIR/consumers.json"

{
    echo 'map $http_x_api_key $bench_consumer {'
    echo '    default "";'
    for i in $(seq 1 10000); do
        echo "    k-bench-$i c$i;"
    done
    echo '}'
} > "$BENCH_DIR/map.conf"

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection "";'

bench_nginx gw "
    location /plain { $proxy }
    location /key   { api_led_auth key; $proxy }
    location /query { api_led_auth key; api_led_key_source query:api_key; $proxy }
    location /map   { if (\$bench_consumer = '') { return 401; } $proxy }" \
    "api_led_consumers $BENCH_DIR/consumers.json;
     map_hash_max_size 32768; map_hash_bucket_size 128;
     include $BENCH_DIR/map.conf;"

bench_variant plain      gw /plain
bench_variant key-header gw /key   -H "'X-API-Key: k-bench-4242'"
bench_variant key-query  gw '/query?a=1&api_key=k-bench-4242&b=2'
bench_variant map-peer   gw /map   -H "'X-API-Key: k-bench-4242'"

bench_check plain 200
bench_check key-header 200
bench_check key-query 200
bench_check map-peer 200

bench_run plain map-peer
