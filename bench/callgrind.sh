# Instructions per request, counted by valgrind's callgrind in the gateway
# process (user space only: the kernel's share of a request is not
# counted), and each variant's top functions.  Unlike requests/s, the count
# does not depend on what else runs on the machine, so a small difference
# (a location without module directives against plain nginx) can be seen
# exactly.  Not run by "make bench":
#
#   bash bench/callgrind.sh                  # 01-proxy.sh
#   bash bench/callgrind.sh 03-jwt.sh 06-compose.sh
#
# It is BENCH_PROFILE=callgrind (bench/lib.sh) for each script named;
# BENCH_ONLY, BENCH_PROFILE_SECONDS, BENCH_PROFILE_TOP apply.  For the
# names of nginx's static functions, run it with NGINX_BIN set to an nginx
# built from the same source with symbols (bench/README.md).
set -euo pipefail
cd "$(dirname "$0")"
[ $# -eq 0 ] && set -- 01-proxy.sh
for b in "$@"; do
    echo "== $b"
    BENCH_PROFILE=callgrind bash "$b"
done
