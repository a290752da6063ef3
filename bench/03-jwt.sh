# JWT policy: plain proxying vs the same location verifying a bearer token
# (HS256, RS256 with a 2048-bit key, ES256), without and with the
# verified-token cache (api_led_jwt_cache, on by default), side by side.
# Two gateways: "gw" with the cache off, "gwc" with it; the baseline is
# plain proxying.
. "$(dirname "$0")/lib.sh"

bench_init

fixtures=$BENCH_TOP/t/fixtures/jwt

# tokens valid for a day, signed with the test keys
token() {
    API_LED_JWT_FIXTURES=$fixtures perl -e '
        require "$ENV{API_LED_JWT_FIXTURES}/jwt.pl";
        print ::jwt(alg => $ARGV[0], key => $ARGV[1], kid => $ARGV[2],
                    claims => { sub => "bench-user", iss => "https://idp",
                                aud => "orders", scope => "orders:read",
                                exp => time + 86400 });' "$@"
}

hs=$(token HS256 hs hs-1)
rs=$(token RS256 rsa rsa-1)
es=$(token ES256 ec256 ec256-1)

proxy='proxy_pass http://bench_upstream; proxy_http_version 1.1;
       proxy_set_header Connection "";'
jwt="api_led_auth jwt; api_led_jwt_keys $fixtures/jwks.json;
     api_led_jwt_require iss https://idp; api_led_jwt_require aud orders;
     api_led_jwt_require scope orders:read;
     proxy_set_header X-User \$api_led_jwt_claim_sub;"

bench_nginx gw "
    location /plain { $proxy }
    location /jwt   { $jwt $proxy }" \
    "api_led_jwt_cache off;"

# the floor: the header work of the JWT location without the token
# checked (the claim's X-User added upstream, Authorization not passed on)
bench_nginx gwc "
    location /plain { $proxy }
    location /hdr   { proxy_set_header X-User bench-user;
                      proxy_set_header Authorization \"\"; $proxy }
    location /jwt   { $jwt $proxy }" \
    "api_led_jwt_cache 10000;"

bench_variant plain          gw  /plain
# the request size of the RS256 variants, no verification: what the
# token costs nginx to receive and parse as a header
bench_variant plain-rs-hdr   gw  /plain -H "'Authorization: Bearer $rs'"
bench_variant hs256          gw  /jwt -H "'Authorization: Bearer $hs'"
bench_variant rs256          gw  /jwt -H "'Authorization: Bearer $rs'"
bench_variant es256          gw  /jwt -H "'Authorization: Bearer $es'"
# the cache is per nginx (http level): the same plain location on the
# gateway with the cache shows how much two nginx processes differ
bench_variant plain-gwc      gwc /plain -H "'Authorization: Bearer $rs'"
bench_variant hdr-gwc        gwc /hdr -H "'Authorization: Bearer $rs'"
bench_variant hs256-cache    gwc /jwt -H "'Authorization: Bearer $hs'"
bench_variant rs256-cache    gwc /jwt -H "'Authorization: Bearer $rs'"
bench_variant es256-cache    gwc /jwt -H "'Authorization: Bearer $es'"

for v in "${BENCH_NAMES[@]}"; do
    bench_check "$v" 200
done

bench_run plain plain-gwc
