#!/usr/bin/env bash
# The project's suite (t/run) with an AddressSanitizer + UBSan build of the
# module loaded into an nginx that is not built with them (Debian's).
#
#   MODULE=build-asan/objs/ngx_api_led_module.so tools/test-asan.sh [prove args]
#   (make test-asan [TESTS_ARGS=t/0NN-x.t] builds that module first)
#   tools/test-asan.sh --exec COMMAND...   runs COMMAND instead of t/run,
#       with NGINX_BIN set to the wrapper (e.g. tools/nginx-tests.sh)
#
# nginx is started through a wrapper (TEST_NGINX_BINARY, for t/compat and
# the real Test::Nginx alike) that preloads the sanitizer runtimes: the
# module's instrumented code needs them loaded before anything else. Each
# process writes its reports to a file of its own (log_path); an error aborts
# the process (abort_on_error, -fno-sanitize-recover), so the test that was
# running fails, and any report found after the run fails the run (exit 1),
# whatever the tests said.
#
# Environment: MODULE, NGINX_BIN (the real nginx), CC (the compiler that
# built MODULE, whose runtimes are preloaded; default: the CC of the
# Makefile beside MODULE), ASAN_REPORTS (a folder to keep the reports in;
# default a temporary one, removed when empty).

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

: "${MODULE:=$top/build-asan/objs/ngx_api_led_module.so}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${CC:=$(sed -n 's/^CC =[[:space:]]*//p' "$(dirname "$MODULE")/Makefile" \
           2>/dev/null)}"
: "${CC:=cc}"

if ! nm -D "$MODULE" 2>/dev/null | grep -c ' U __asan_' >/dev/null; then
    echo "test-asan: $MODULE is not built with -fsanitize=address" \
         "(make test-asan)" >&2
    exit 2
fi

# clang: one runtime, ASan's, that holds UBSan's handlers too. gcc 12:
# libasan and libubsan, and libubsan ignores log_path (its reports go to
# nginx's stderr, that is the error log of the test, wiped with it): only
# its one-line SUMMARY reaches the report folder. Prefer clang.
clang=
if "$CC" --version 2>/dev/null | grep -c clang >/dev/null; then
    clang=1
    preload="$("$CC" -print-runtime-dir)/libclang_rt.asan-x86_64.so"
else
    preload="$("$CC" -print-file-name=libasan.so)"
    preload+=" $("$CC" -print-file-name=libubsan.so)"
fi
for lib in $preload; do
    if [ ! -e "$lib" ]; then
        echo "test-asan: sanitizer runtime $lib not found" >&2
        exit 2
    fi
done

if [ -n "${ASAN_REPORTS:-}" ]; then
    reports=$(mkdir -p "$ASAN_REPORTS" && cd "$ASAN_REPORTS" && pwd)
    temporary=
else
    reports=$(mktemp -d /tmp/api-led-asan.XXXXXX)
    temporary=1
fi
chmod 777 "$reports"
wrapper=$(mktemp /tmp/api-led-asan-nginx.XXXXXX)
cleanup() {
    rm -f "$wrapper"
    [ -n "$temporary" ] && rmdir "$reports" 2>/dev/null
    return 0
}
trap cleanup EXIT

# nginx allocates at startup and never frees before exit: no leak check.
# The nginx binary is not instrumented: ASan sees its malloc()ed blocks and
# libc calls, the module's own accesses (stack, globals, heap) in full;
# memory nginx carves from its pools has no redzones between allocations.
CALLER_ASAN_OPTIONS=${ASAN_OPTIONS:-}
CALLER_UBSAN_OPTIONS=${UBSAN_OPTIONS:-}

# (commas: the real Test::Nginx appends the test's name to log_path; with
# clang, UBSan reads UBSAN_OPTIONS after ASAN_OPTIONS: no log_path there)
common="abort_on_error=1,disable_coredump=1,print_summary=1,halt_on_error=1"
export ASAN_OPTIONS="log_path=$reports/asan,$common,detect_leaks=0"
ASAN_OPTIONS+=",detect_stack_use_after_return=1,strict_string_checks=1"
ASAN_OPTIONS+=",check_initialization_order=1"
export UBSAN_OPTIONS="$common,print_stacktrace=1"
if [ -z "$clang" ]; then
    UBSAN_OPTIONS="log_path=$reports/ubsan,$UBSAN_OPTIONS"
fi
# the caller's options come last and win (e.g. UBSAN_OPTIONS=halt_on_error=0
# with a build made with -fsanitize-recover=undefined: every UBSan finding
# of the run, not only the first one of each process)
ASAN_OPTIONS+="${CALLER_ASAN_OPTIONS:+,$CALLER_ASAN_OPTIONS}"
UBSAN_OPTIONS+="${CALLER_UBSAN_OPTIONS:+,$CALLER_UBSAN_OPTIONS}"

# The wrapper names the report files after the test file that started
# nginx (its caller, or the caller's shell), so a report says where it
# comes from even when it stopped no test.
cat > "$wrapper" <<EOF
#!/bin/sh
test_file=
p=\$PPID
for _ in 1 2 3; do
    [ -r /proc/\$p/cmdline ] || break
    test_file=\$(tr '\\0' '\\n' < /proc/\$p/cmdline | grep -m1 '\\.t\$' || true)
    [ -n "\$test_file" ] && break
    p=\$(awk '{ print \$4 }' /proc/\$p/stat)
done
tag=\$(basename "\${test_file:-nginx}" .t)
ASAN_OPTIONS=\$(echo "\$ASAN_OPTIONS" \\
    | sed "s|log_path=$reports/asan,|log_path=$reports/asan-\$tag,|")
UBSAN_OPTIONS=\$(echo "\$UBSAN_OPTIONS" \\
    | sed "s|log_path=$reports/ubsan,|log_path=$reports/ubsan-\$tag,|")
export ASAN_OPTIONS UBSAN_OPTIONS
export LD_PRELOAD="$preload\${LD_PRELOAD:+ \$LD_PRELOAD}"
# nginx writes nothing to stdout but for -T; a worker whose master died
# (a sanitizer abort) must not hold a test's TAP pipe open: prove would
# wait for it forever (t/012-reload.t runs nginx with its own stdout)
case " \$* " in
    *" -T "*) exec "$NGINX_BIN" "\$@" ;;
esac
exec "$NGINX_BIN" "\$@" > /dev/null
EOF
chmod 755 "$wrapper"

echo "test-asan: $MODULE, preloading $preload; reports in $reports"

# for tests that measure what ASan changes (virtual memory: its shadow)
export TEST_NGINX_USE_ASAN=1

start=$(date +%s)
status=0
if [ "${1:-}" = --exec ]; then
    shift
    NGINX_BIN=$wrapper MODULE=$MODULE "$@" || status=$?
else
    NGINX_BIN=$wrapper MODULE=$MODULE t/run "$@" || status=$?
fi
echo "test-asan: suite exit status $status, $(( $(date +%s) - start )) s"

# workers left behind by a master that aborted: the processes that map
# this very module file
for p in /proc/[0-9]*; do
    if grep -qF "$MODULE" "$p/maps" 2>/dev/null; then
        echo "test-asan: stopping a leftover nginx process ${p#/proc/}"
        kill "${p#/proc/}" 2>/dev/null || true
    fi
done

# any output at all fails the run: nothing a sanitizer says is ignored
found=0
for f in "$reports"/*; do
    [ -e "$f" ] || continue
    echo "test-asan: sanitizer report $f:"
    sed 's/^/    /' "$f"
    found=1
done

if [ $found = 1 ]; then
    echo "test-asan: FAILED: sanitizer reports (kept in $reports)"
    exit 1
fi
exit $status
