#!/usr/bin/env bash
# Mints a demo token for conf-examples/jwt.conf, signed (ES256) with the
# demo key of this directory.  DEMO ONLY: the private key is public.
#
#   conf-examples/jwt/token.sh [SUB] [SCOPE] [TTL_SECONDS]
#   curl -H "Authorization: Bearer $(conf-examples/jwt/token.sh)" \
#        http://127.0.0.1:8082/v1/orders
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
sub=${1:-acme-mobile}
scope=${2:-orders:read}
ttl=${3:-3600}
now=$(date +%s)

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

header=$(printf '{"alg":"ES256","typ":"JWT","kid":"demo-2026"}' | b64url)
claims=$(printf '{"iss":"https://idp.demo.local/","aud":"orders-api","sub":"%s","scope":"%s","iat":%d,"exp":%d}' \
         "$sub" "$scope" "$now" "$((now + ttl))" | b64url)

# ECDSA: OpenSSL signs in DER, JOSE wants R || S (32 bytes each)
sig=$(printf '%s.%s' "$header" "$claims" \
      | openssl dgst -sha256 -sign "$dir/demo-es256.key" \
      | openssl asn1parse -inform DER \
      | perl -ne 'if (/INTEGER\s*:([0-9A-F]+)/) { my $v = $1; $v =~ s/^(00)+//;
                  print pack("H*", ("0" x (64 - length $v)) . $v) }' \
      | b64url)

printf '%s.%s.%s\n' "$header" "$claims" "$sig"
