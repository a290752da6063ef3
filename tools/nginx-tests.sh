#!/usr/bin/env bash
# nginx's own test suite (nginx/nginx-tests) run twice against the same nginx
# binary: once plain, once with the module loaded and module directives
# active at http level in every test's configuration. The two sets of
# failures must be identical: the module must not change what nginx does.
#
#   tools/nginx-tests.sh            (make nginx-tests)
#   tools/nginx-tests.sh --deps     only install the Debian packages it needs
#   tools/nginx-tests.sh FILE.t...  only these files of the suite
#
# Environment:
#   NGINX_TESTS_DIR     a git repository (bare or not) of nginx-tests;
#                       default: the mirror /work/.mirror/nginx+nginx-tests/repo
#   NGINX_TESTS_COMMIT  default fd399c8 (2022-08-30, fits nginx 1.22)
#   NGINX_TESTS_HTTP    the http-level directives of the module run
#   NGINX_TESTS_USER    the unprivileged user that runs the suite when this
#                       script runs as root (created if missing); ngx-tests
#   NGINX_TESTS_JOBS    prove -j; default 2
#   NGINX_TESTS_KEEP=1  keep the work folder (/tmp/nginx-tests.XXXXXX)
#   MODULE, NGINX_BIN, NGINX_MODULES   what is tested
#
# Exit status: 0 when the module run has no failure the plain run lacks,
# 1 when it has one (after a re-run of the file alone, see below), 2 when
# the suite could not run.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

: "${MODULE:=$top/build/objs/ngx_api_led_module.so}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${NGINX_MODULES:=/usr/lib/nginx/modules}"
: "${NGINX_TESTS_DIR:=/work/.mirror/nginx+nginx-tests/repo}"
: "${NGINX_TESTS_COMMIT:=fd399c8}"
: "${NGINX_TESTS_USER:=ngx-tests}"
: "${NGINX_TESTS_JOBS:=2}"
: "${NGINX_TESTS_HTTP:=api_led_request_header set X-Api-Led-Probe 1; api_led_response_header set X-Api-Led-Probe 1;}"

# Perl modules and daemons that nginx-tests skips tests without. Not part of
# demo/deps: the project's own suite does not need them. Debian's nginx is
# configured --with-http_perl_module=dynamic, so nginx-tests loads
# ngx_http_perl_module.so into every test: without it no test starts. (ffmpeg, used by 4
# mp4 tests to make their media, is left out: it is large.)
deps=(libio-socket-ssl-perl libnet-ssleay-perl libfcgi-perl libscgi-perl
      libcache-memcached-perl libcache-memcached-fast-perl
      libprotocol-websocket-perl libcryptx-perl libgd-perl memcached
      uwsgi-core uwsgi-plugin-python3 openssl git
      libnginx-mod-http-perl)

install_deps() {
    local missing=() p

    for p in "${deps[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
                | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" != 0 ]; then
        echo "nginx-tests: missing packages (install as root):" \
             "${missing[*]}" >&2
        return 0
    fi

    echo "nginx-tests: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # the tests start their own memcached
    service memcached stop >/dev/null 2>&1 || true
}

if [ "${1:-}" = --deps ]; then
    install_deps
    exit 0
fi

for f in "$NGINX_BIN" "$MODULE"; do
    if [ ! -f "$f" ]; then
        echo "nginx-tests: $f not found (make?)" >&2
        exit 2
    fi
done

if ! git -C "$NGINX_TESTS_DIR" rev-parse --git-dir >/dev/null 2>&1; then
    echo "nginx-tests: no nginx-tests repository at $NGINX_TESTS_DIR" \
         "(set NGINX_TESTS_DIR)" >&2
    exit 2
fi

install_deps

work=$(mktemp -d /tmp/nginx-tests.XXXXXX)
cleanup() {
    if [ "${NGINX_TESTS_KEEP:-}" = 1 ]; then
        echo "nginx-tests: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

git clone -q --no-checkout "$NGINX_TESTS_DIR" "$work/suite"
git -C "$work/suite" -c advice.detachedHead=false checkout -q \
    "$NGINX_TESTS_COMMIT"
suite_version=$(git -C "$work/suite" log -1 --format='%h %cs')
cp "$MODULE" "$work/ngx_api_led_module.so"
chmod 755 "$work"

# As root, Test::Nginx leaves nginx's "user" at its default: the workers run
# as nobody and cannot read the tests' 0700 folders. Run as a plain user.
as_user=()
if [ "$(id -u)" = 0 ]; then
    if ! id -u "$NGINX_TESTS_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$NGINX_TESTS_USER"
    fi
    chown -R "$NGINX_TESTS_USER" "$work"
    as_user=(runuser -u "$NGINX_TESTS_USER" --)
fi

files=("$@")
[ ${#files[@]} -eq 0 ] && files=(.)

globals_module="load_module $work/ngx_api_led_module.so;"

# run NAME GLOBALS HTTP [FILES]: prove's output goes to $work/NAME.log
run() {
    local name=$1 globals=$2 http=$3
    shift 3

    (cd "$work/suite" && "${as_user[@]}" env \
        HOME=/tmp TMPDIR=/tmp \
        TEST_NGINX_BINARY="$NGINX_BIN" \
        TEST_NGINX_MODULES="$NGINX_MODULES" \
        TEST_NGINX_GLOBALS="$globals" \
        TEST_NGINX_GLOBALS_HTTP="$http" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
        prove -j"$NGINX_TESTS_JOBS" "$@") > "$work/$name.log" 2>&1 || true
}

# failures LOG: one line per failed check, file-level error or passed TODO
# from prove's summary ("FILE test N", "FILE exit N", "FILE wait N",
# "FILE parse ...", "FILE todo-passed N")
failures() {
    perl -ne '
        BEGIN { $in = 0 }
        $in = 1, next if /^Test Summary Report/;
        $in = 0 if /^Files=/;
        next unless $in;
        if (/^(\S+\.t)\s+\(Wstat/) { $file = $1; $kind = ""; next }
        if (/^\s+(Failed tests?|TODO passed):\s+(.*)/) {
            $kind = $1 =~ /TODO/ ? "todo-passed" : "test";
            $_ = $2;
        } elsif (/^\s+Non-zero exit status:\s+(\d+)/) {
            print "$file exit $1\n"; $kind = ""; next;
        } elsif (/^\s+Non-zero wait status:\s+(\d+)/) {
            print "$file wait $1\n"; $kind = ""; next;
        } elsif (/^\s+Parse errors:\s+(.*)/) {
            print "$file parse $1\n"; $kind = "parse"; next;
        } elsif ($kind eq "parse" && /^\s+(\S.*)/) {
            print "$file parse $1\n"; next;
        } elsif (!($kind && /^\s+[\d, -]+$/)) {
            next;
        }
        for (split /,\s*/) {
            s/\s//g;
            next unless length;
            my ($a, $b) = split /-/;
            print "$file $kind $_\n" for $a .. ($b // $a);
        }
    ' "$1" | sort -u
}

# totals LOG: "files F, checks C, skipped S files, RESULT, T s"
totals() {
    perl -ne '
        $skip++ if /\.t \.+ skipped:/;
        ($f, $c) = ($1, $2) if /^Files=(\d+), Tests=(\d+),\s+(\d+)/;
        $w = $1 if /^Files=\d+, Tests=\d+,\s+(\d+) wallclock/;
        $r = $1 if /^Result: (\S+)/;
        END { printf "files %s, checks %s, skipped %d files, %s, %s s\n",
              $f // "?", $c // "?", $skip, $r // "no result", $w // "?" }
    ' "$1"
}

echo "nginx-tests $suite_version," \
     "$("$NGINX_BIN" -v 2>&1 | sed 's/.*: //'), in $work"

echo "plain run ..."
run plain "" "" "${files[@]}"
echo "  $(totals "$work/plain.log")"

echo "module run: $globals_module http { $NGINX_TESTS_HTTP }"
run module "$globals_module" "$NGINX_TESTS_HTTP" "${files[@]}"
echo "  $(totals "$work/module.log")"

for name in plain module; do
    failures "$work/$name.log" > "$work/$name.failures"
    echo "$name: $(grep -vc ' todo-passed ' "$work/$name.failures" || true)" \
         "failures: $(grep -v ' todo-passed ' "$work/$name.failures" \
                      | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
done

# only in the module run / only in the plain run
comm -13 "$work/plain.failures" "$work/module.failures" \
    > "$work/module-only"
comm -23 "$work/plain.failures" "$work/module.failures" \
    > "$work/plain-only"

if [ -s "$work/plain-only" ]; then
    echo "only in the plain run:"
    sed 's/^/  /' "$work/plain-only"
fi

if [ ! -s "$work/module-only" ]; then
    echo "nginx-tests: identical results without and with the module"
    exit 0
fi

echo "only in the module run:"
sed 's/^/  /' "$work/module-only"

# Two busy cores make a few timing-sensitive tests flaky: run each such
# file alone, plain and with the module, up to three times. A difference
# that goes away once is reported but does not fail the run.
status=0
for f in $(awk '$2 != "todo-passed" { print $1 }' "$work/module-only" \
           | sort -u); do
    again=1
    for i in 1 2 3; do
        run "$f-plain-$i" "" "" "$f"
        run "$f-module-$i" "$globals_module" "$NGINX_TESTS_HTTP" -v "$f"
        if ! comm -13 <(failures "$work/$f-plain-$i.log") \
                      <(failures "$work/$f-module-$i.log") \
                | grep -v ' todo-passed ' | grep -q .; then
            again=0
            break
        fi
    done
    if [ $again = 1 ]; then
        echo "$f: the difference comes back with the file alone:"
        grep -E '^not ok|^#' "$work/$f-module-3.log" | head -n 40 \
            | sed 's/^/  /'
        status=1
    else
        echo "$f: no difference when run alone (run $i): timing, not failing"
    fi
done

if [ $status = 0 ] \
        && awk '$2 == "todo-passed"' "$work/module-only" | grep -q .; then
    echo "nginx-tests: TODO tests pass only with the module (not failing)"
fi

exit $status
