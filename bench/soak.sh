#!/usr/bin/env bash
# bench/soak.sh: reloads and Redis faults under load, then a memory soak.
#
# A gateway nginx (master + 2 workers, the module loaded) answers traffic
# through API keys, JWT (keys from a file and from a fetched JWKS), Redis
# rate limits (on_error=local, open and closed), a composition and JSON
# transforms, in front of a plain-nginx upstream and a private Redis; a
# location without module directives is the control.  The load
# (bench/soak-client.py, keep-alive connections, plus clients that go away
# in the middle of a request) classifies every answer by phase while this
# script goes through:
#
#   warmup        SOAK_WARMUP s of traffic
#   reload        SOAK_RELOADS HUPs to the master, SOAK_RELOAD_INTERVAL s
#                 apart (the consumers file changes each time); each must
#                 bring 2 new workers, and the old ones must exit within
#                 SOAK_DRAIN s
#   redis-*       SOAK_FAULT_CYCLES times: Redis stopped for SOAK_FAULT_HOLD
#                 s then started; frozen (SIGSTOP) then thawed; killed
#                 (SIGKILL) and started at once; stopped, and frozen, with
#                 two reloads meanwhile (reload-redis-*).  Each is followed
#                 by SOAK_RECOVERY s of "redis-recovering" and a check that
#                 the limits reach Redis again
#   soak          SOAK_DURATION s; worker memory sampled every SOAK_SAMPLE s;
#                 every SOAK_SOAK_FAULT_EVERY s (0: never) a Redis fault of
#                 SOAK_SOAK_FAULT_HOLD s (stopped, frozen, killed in turn), so
#                 that the error paths are soaked too
#
# It fails (exit 1) on: an answer that is not a 2xx, an expected status or
# a documented problem (bench/soak-client.py says which; a documented one
# that is not expected where it came is a warning, a failure with
# SOAK_STRICT=1), a reset, empty reply or hang; a worker that died
# ("exited on signal", a core, worker PIDs that changed without a reload);
# an [alert], [crit] or [emerg] line; a reload that brought no new
# workers, or old workers still alive SOAK_DRAIN s after it; limits that
# do not reach Redis again after a fault; worker RssAnon growing by more
# than SOAK_RSS_GROWTH_KB over the soak (least-squares slope).  The work
# directory is kept on failure (or with SOAK_KEEP=1): logs, samples.csv,
# result.json, client.err, cores.
#
#   bench/soak.sh                                   # the full run, ~15 min
#   SOAK_DURATION=60 SOAK_RELOADS=5 bench/soak.sh   # a shorter one
#
# Other knobs: SOAK_CONNS (32), SOAK_TIMEOUT (10 s per answer),
# SOAK_REDIS_TIMEOUT (200ms, api_led_redis timeout=), SOAK_DETAILS (20
# printed details per class), SOAK_DIR, MODULE, NGINX_BIN.  SOAK_SELFTEST=
# crash (a worker gets SIGSEGV half-way through the soak) or hang (a worker
# stops for SOAK_TIMEOUT + 2 s) shows that the checks catch it.
set -euo pipefail

SOAK_BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SOAK_BENCH/lib.sh"

: "${SOAK_DURATION:=600}"
: "${SOAK_CONNS:=32}"
: "${SOAK_RELOADS:=20}"
: "${SOAK_RELOAD_INTERVAL:=3}"
: "${SOAK_WARMUP:=10}"
: "${SOAK_FAULT_CYCLES:=1}"
: "${SOAK_FAULT_HOLD:=10}"
: "${SOAK_RECOVERY:=5}"
: "${SOAK_SOAK_FAULT_EVERY:=120}"
: "${SOAK_SOAK_FAULT_HOLD:=5}"
: "${SOAK_SAMPLE:=10}"
: "${SOAK_DRAIN:=30}"
: "${SOAK_RSS_GROWTH_KB:=1024}"
: "${SOAK_TIMEOUT:=10}"
: "${SOAK_DETAILS:=20}"
: "${SOAK_KEEP:=0}"
: "${SOAK_STRICT:=0}"
: "${SOAK_REDIS_TIMEOUT:=200ms}"
: "${SOAK_SELFTEST:=}"
: "${SOAK_DIR:=}"

[ -f "$MODULE" ] || { echo "soak: no module at $MODULE (make)" >&2; exit 2; }

D=${SOAK_DIR:-$(mktemp -d /tmp/api-led-soak.XXXXXX)}
mkdir -p "$D/gw/logs" "$D/gw/cores" "$D/up/logs" "$D/redis"
FIX=$BENCH_TOP/t/fixtures/jwt

MASTER= UPSTREAM= REDIS_PID= REDIS_FROZEN=0 CLIENT= SAMPLER=
FAILS=()
START=$SECONDS

# file descriptors: as many as the hard limit allows, up to 65536
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] || [ "$NOFILE" -gt 65536 ] && NOFILE=65536

fail() {
    FAILS+=("$*")
    echo "soak: FAIL: $*" >&2
}

say() {
    printf '[%4ds %s] %s\n' $((SECONDS - START)) "$(date +%T)" "$*"
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    [ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null
    [ "$REDIS_FROZEN" = 1 ] && kill -CONT "$REDIS_PID" 2>/dev/null
    [ -n "$MASTER" ] && kill -QUIT "$MASTER" 2>/dev/null
    [ -n "$UPSTREAM" ] && kill -QUIT "$UPSTREAM" 2>/dev/null
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
    for p in $SAMPLER $CLIENT $UPSTREAM $REDIS_PID; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "$MASTER" ]; then
        # workers finish their requests; a stuck one is killed after 10 s
        for _ in $(seq 1 100); do
            kill -0 "$MASTER" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$MASTER" 2>/dev/null; then
            echo "soak: the gateway did not stop in 10 s: killed" >&2
            for p in $(pgrep -P "$MASTER" || true); do
                kill -KILL "$p" 2>/dev/null || true
            done
            kill -KILL "$MASTER" 2>/dev/null || true
        fi
        wait "$MASTER" 2>/dev/null || true
    fi
    if [ "$rc" = 0 ] && [ "$SOAK_KEEP" = 0 ] && [ -z "$SOAK_DIR" ]; then
        rm -rf "$D"
    else
        echo "soak: work directory kept: $D" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports

ports=()
while [ ${#ports[@]} -lt 3 ]; do
    p=$(bench_free_port)
    case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
GW_PORT=${ports[0]} UP_PORT=${ports[1]} REDIS_PORT=${ports[2]}

# ---------------------------------------------------------------- Redis

redis_start() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$D/redis" --daemonize no \
        --logfile "$D/redis/redis.log" &
    REDIS_PID=$!
    for _ in $(seq 1 500); do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.01
    done
    fail "redis-server did not start on port $REDIS_PORT"
    return 1
}

redis_stop() {
    kill "-$1" "$REDIS_PID"
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
}

# script calls (EVALSHA, or EVAL after a restart) Redis has served
redis_calls() {
    redis-cli -p "$REDIS_PORT" info commandstats 2>/dev/null | tr -d '\r' \
        | awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ { n += $3 }
                         END { print n + 0 }'
}

# ---------------------------------------------------------------- configs

token() {
    API_LED_JWT_FIXTURES=$FIX perl -e '
        require "$ENV{API_LED_JWT_FIXTURES}/jwt.pl";
        my ($alg, $key, $kid, $sub, $ttl) = @ARGV;
        print ::jwt(alg => $alg, key => $key, kid => $kid,
                    claims => { sub => $sub, iss => "https://idp.soak",
                                aud => "soak", exp => time + $ttl });' "$@"
}

TOK_RS=$(token RS256 rsa rsa-1 soak-rs 86400)
TOK_ES=$(token ES256 ec256 ec256-1 soak-es 86400)
TOK_REMOTE=$(token RS256 rsa rsa-1 soak-remote 86400)
TOK_ALL=$(token ES256 ec256 ec256-1 soak-all 86400)
TOK_EXPIRED=$(token RS256 rsa rsa-1 soak-old -3600)

# the consumers file; GEN changes it at each reload
consumers() {
    cat > "$D/gw/consumers.json" <<JSON
{"plans": {"gold": {"limits": ["100000r/s", "100000000r/d"]},
           "free": {"limits": ["5r/s"]}},
 "consumers": [
  {"id": "soak-gold", "plan": "gold", "keys": ["soak-key-gold"]},
  {"id": "soak-free", "plan": "free", "keys": ["soak-key-free"]},
  {"id": "reload-$1", "plan": "free", "keys": ["soak-key-reload-$1"]}
 ]}
JSON
}
consumers 0

# the upstream: plain nginx, a JSON document per path, /echo returns the
# request body
cat > "$D/up/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
$( [ "$(id -u)" = 0 ] && echo 'user root;' )
daemon off;
master_process off;
worker_rlimit_nofile $NOFILE;
error_log $D/up/logs/error.log warn;
pid $D/up/logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$UP_PORT;
        location = /orders {
            add_header X-Upstream up;
            return 200 '{"orders":[{"id":"o-1","total":42.5},{"id":"o-2","total":19.99}],"internal":"x"}';
        }
        location = /profile {
            return 200 '{"cust_id":"c-\$arg_id","full_name":"Ada","tier":"gold","internal_score":87}';
        }
        location = /jwks.json {
            alias $FIX/jwks.json;
        }
        location = /echo {
            add_header X-Upstream up;
            echo_read_request_body;
            echo_request_body;
        }
    }
}
CONF

proxy='proxy_http_version 1.1; proxy_set_header Connection "";'

cat > "$D/gw/nginx.conf" <<CONF
load_module $MODULE;
$( [ "$(id -u)" = 0 ] && echo 'user root;' )
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile $NOFILE;
# a worker that dies leaves a core here (kernel.core_pattern is "core")
worker_rlimit_core 2g;
working_directory $D/gw/cores;
error_log $D/gw/logs/error.log notice;
pid $D/gw/logs/nginx.pid;
events { worker_connections 4096; }

http {
    access_log off;

    api_led_consumers        consumers.json;
    api_led_redis            127.0.0.1:$REDIS_PORT connect_timeout=200ms
                             timeout=$SOAK_REDIS_TIMEOUT;
    api_led_rate_limit_zone  4m;
    api_led_jwt_cache        1000;
    # the key-free consumer is refused hundreds of times a second: its
    # 429s stay out of the log (error_log is at notice)
    api_led_rate_limit_log_level  info;

    upstream up {
        server 127.0.0.1:$UP_PORT;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:$GW_PORT;

        # no module directive: the control
        location /plain {
            proxy_pass  http://up/orders;
            $proxy
        }

        # API key, the plan's limits in Redis (on_error=local)
        location /key {
            api_led_api         soak-key layer=experience;
            api_led_auth        key;
            api_led_rate_limit  plan;
            proxy_pass          http://up/orders;
            $proxy
        }

        # JWT (keys from a file), a per-subject limit that fails closed
        location /jwt {
            api_led_api          soak-jwt layer=experience;
            api_led_auth         jwt;
            api_led_jwt_keys     $FIX/jwks.json;
            api_led_jwt_require  iss https://idp.soak;
            api_led_jwt_require  aud soak;
            api_led_rate_limit   100000r/s key=\$api_led_jwt_claim_sub
                                 name=soak-jwt on_error=closed;
            proxy_pass           http://up/orders;
            $proxy
        }

        # JWT, keys fetched from the provider (each new worker fetches them;
        # refreshed in the background), a limit that fails open
        location /jwt-remote {
            api_led_api           soak-jwt-remote layer=experience;
            api_led_auth          jwt;
            api_led_jwt_keys_uri  /_jwks valid=10s;
            api_led_jwt_require   iss https://idp.soak;
            api_led_rate_limit    100000r/s key=\$api_led_jwt_claim_sub
                                  name=soak-remote on_error=open;
            proxy_pass            http://up/orders;
            $proxy
        }

        location = /_jwks {
            internal;
            subrequest_output_buffer_size 64k;
            proxy_pass http://up/jwks.json;
            $proxy
        }

        # a composition of two parts, one optional, one transformed
        location /compose {
            api_led_api         soak-compose layer=experience;
            api_led_auth        key;
            api_led_rate_limit  plan;
            api_led_compose {
                profile  "/_part/profile?id=42";
                orders   "/_part/orders" optional timeout=2s;
            }
        }

        # request and response JSON reshaping, the answer of /echo is the
        # transformed request
        location /transform {
            api_led_api             soak-transform layer=process;
            api_led_auth            key;
            api_led_rate_limit      plan;
            api_led_rate_limit      100000r/s name=soak-transform
                                    on_error=open;
            api_led_request_json    rename /name /profile/name;
            api_led_request_json    set /source gateway;
            api_led_response_json   remove /password_hash;
            api_led_response_json   rename /profile user;
            api_led_response_header remove X-Upstream;
            proxy_pass              http://up/echo;
            $proxy
        }

        # all in one: JWT, a closed limit, a deep merge of three parts
        # (one POSTs a body, two transform their answer)
        location /all {
            api_led_api            soak-all layer=experience;
            api_led_auth           jwt;
            api_led_jwt_keys       $FIX/jwks.json;
            api_led_jwt_require    aud soak;
            api_led_rate_limit     100000r/s key=\$api_led_jwt_claim_sub
                                   name=soak-all on_error=closed;
            api_led_compose_merge  deep;
            api_led_compose {
                profile  "/_part/profile?id=7";
                orders   "/_part/orders";
                echo     POST "/_part/echo"
                         'body={"name":"Ada","password_hash":"h"}';
            }
        }

        location /_part/profile {
            internal;
            api_led_response_json  remove /internal_score;
            api_led_response_json  rename /full_name name;
            proxy_pass             http://up/profile;
            $proxy
        }

        location /_part/orders {
            internal;
            proxy_pass  http://up/orders;
            $proxy
        }

        location /_part/echo {
            internal;
            api_led_response_json  remove /password_hash;
            proxy_pass             http://up/echo;
            $proxy
        }
    }
}
CONF

# the request kinds of the load, with what each may answer (see
# bench/soak-client.py): "expect" always, "expect_redis_down" in the
# redis-* phases
cat > "$D/kinds.json" <<JSON
{"port": $GW_PORT, "kinds": [
 {"name": "plain", "method": "GET", "path": "/plain", "weight": 2,
  "body_has": ["\"o-2\""]},
 {"name": "key-gold", "method": "GET", "path": "/key", "weight": 3,
  "headers": {"X-API-Key": "soak-key-gold"}, "body_has": ["\"o-2\""]},
 {"name": "key-free", "method": "GET", "path": "/key", "weight": 2,
  "headers": {"X-API-Key": "soak-key-free"}, "body_has": ["\"o-2\""],
  "expect": ["429 rate_limited"]},
 {"name": "key-bad", "method": "GET", "path": "/key", "weight": 1,
  "headers": {"X-API-Key": "soak-key-nope"},
  "expect": ["401 invalid_api_key"]},
 {"name": "key-none", "method": "GET", "path": "/key", "weight": 1,
  "expect": ["401 missing_credentials"]},
 {"name": "jwt-rs256", "method": "GET", "path": "/jwt", "weight": 3,
  "headers": {"Authorization": "Bearer $TOK_RS"}, "body_has": ["\"o-2\""],
  "expect_redis_down": ["503 rate_limit_unavailable"]},
 {"name": "jwt-es256", "method": "GET", "path": "/jwt", "weight": 2,
  "headers": {"Authorization": "Bearer $TOK_ES"}, "body_has": ["\"o-2\""],
  "expect_redis_down": ["503 rate_limit_unavailable"]},
 {"name": "jwt-expired", "method": "GET", "path": "/jwt", "weight": 1,
  "headers": {"Authorization": "Bearer $TOK_EXPIRED"},
  "expect": ["401 invalid_token"]},
 {"name": "jwt-remote", "method": "GET", "path": "/jwt-remote", "weight": 3,
  "headers": {"Authorization": "Bearer $TOK_REMOTE"},
  "body_has": ["\"o-2\""]},
 {"name": "compose-gold", "method": "GET", "path": "/compose", "weight": 3,
  "headers": {"X-API-Key": "soak-key-gold"},
  "body_has": ["\"profile\":{", "\"name\":\"Ada\"", "\"cust_id\":\"c-42\"",
               "\"orders\":{\"orders\":["],
  "body_lacks": ["internal_score", "full_name"]},
 {"name": "compose-free", "method": "GET", "path": "/compose", "weight": 1,
  "headers": {"X-API-Key": "soak-key-free"},
  "body_has": ["\"profile\":{"], "expect": ["429 rate_limited"]},
 {"name": "transform", "method": "POST", "path": "/transform", "weight": 3,
  "headers": {"X-API-Key": "soak-key-gold"},
  "body": "{\"name\":\"Ada\",\"password_hash\":\"secret\",\"n\":1}",
  "body_has": ["\"user\":{\"name\":\"Ada\"}", "\"source\":\"gateway\""],
  "body_lacks": ["password_hash", "secret"]},
 {"name": "all", "method": "GET", "path": "/all", "weight": 3,
  "headers": {"Authorization": "Bearer $TOK_ALL"},
  "body_has": ["\"cust_id\":\"c-7\"", "\"name\":\"Ada\"", "\"orders\":["],
  "body_lacks": ["password_hash", "internal_score"],
  "expect_redis_down": ["503 rate_limit_unavailable"]},
 {"name": "abort-remote", "method": "GET", "path": "/jwt-remote",
  "weight": 0.3, "abort": "yes", "abort_ms": 5,
  "headers": {"Authorization": "Bearer $TOK_REMOTE"}},
 {"name": "abort-jwt", "method": "GET", "path": "/jwt", "weight": 0.3,
  "abort": "yes", "abort_ms": 100,
  "headers": {"Authorization": "Bearer $TOK_RS"}},
 {"name": "abort-all", "method": "GET", "path": "/all", "weight": 0.3,
  "abort": "yes", "abort_ms": 5,
  "headers": {"Authorization": "Bearer $TOK_ALL"}},
 {"name": "abort-body", "method": "POST", "path": "/transform",
  "weight": 0.3, "abort": "in-body", "abort_ms": 20,
  "headers": {"X-API-Key": "soak-key-gold"},
  "body": "{\"name\":\"Ada\",\"password_hash\":\"secret\",\"n\":1}"}
]}
JSON

# ---------------------------------------------------------------- start

"$NGINX_BIN" -t -q -p "$D/gw/" -c "$D/gw/nginx.conf" \
    || { fail "nginx -t refused the gateway configuration"; exit 1; }

redis_start
"$NGINX_BIN" -p "$D/up/" -c "$D/up/nginx.conf" &
UPSTREAM=$!
"$NGINX_BIN" -p "$D/gw/" -c "$D/gw/nginx.conf" &
MASTER=$!
bench_wait_port "$UP_PORT"
bench_wait_port "$GW_PORT"

# children of the master, as "PID worker" or "PID old" (shutting down)
workers() {
    local p
    for p in $(pgrep -P "$MASTER" || true); do
        if { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null \
                | grep -q 'shutting down'; then
            echo "$p old"
        else
            echo "$p worker"
        fi
    done
}

live_workers() {
    workers | awk '$2 == "worker" { print $1 }' | sort -n | tr '\n' ' '
}

for _ in $(seq 1 100); do
    [ "$(live_workers | wc -w)" = 2 ] && break
    sleep 0.1
done

client=(python3 "$SOAK_BENCH/soak-client.py" --kinds "$D/kinds.json"
        --phase-file "$D/phase" --out "$D/result.json"
        --progress "$D/progress" --conns "$SOAK_CONNS"
        --timeout "$SOAK_TIMEOUT" --details "$SOAK_DETAILS"
        --docs "$BENCH_TOP/docs/core.md")

echo "soak: gateway 127.0.0.1:$GW_PORT (master $MASTER, workers" \
     "$(live_workers)), upstream :$UP_PORT, redis :$REDIS_PORT, in $D"
echo "preflight (each request kind once):"
"${client[@]}" --preflight || { fail "preflight"; exit 1; }

# the client reads the phase every 100 ms: give it time to see a new one
# before anything happens in it
phase() {
    echo "$1" > "$D/phase"
    say "phase $1"
    sleep 0.2
}

# the sampler: every SOAK_SAMPLE s, the memory of the master and of each
# worker into samples.csv, and a progress line
sampler() {
    local prev=0 now total fails p role ph line psi
    set +e
    while :; do
        ph=$(cat "$D/phase" 2>/dev/null || echo start)
        now=$(date +%s.%N)
        line=
        for p in "$MASTER" $(workers | tr ' ' ':'); do
            role=master
            case $p in *:*) role=${p#*:}; p=${p%:*} ;; esac
            awk -v t="$now" -v ph="$ph" -v pid="$p" -v role="$role" '
                /^VmRSS:/ { rss = $2 } /^RssAnon:/ { anon = $2 }
                /^RssFile:/ { file = $2 } /^RssShmem:/ { shm = $2 }
                END { if (rss != "") printf "%s,%s,%s,%s,%d,%d,%d,%d\n",
                      t, ph, pid, role, rss, anon, file, shm }' \
                "/proc/$p/status" 2>/dev/null >> "$D/samples.csv" || true
            [ "$role" = worker ] && line+=" $p:$(awk '/^VmRSS:/ {
                printf "%.1fM", $2 / 1024 } /^RssAnon:/ {
                printf "(anon %.1fM)", $2 / 1024 }' "/proc/$p/status" \
                2>/dev/null)"
        done
        read -r total fails < "$D/progress" 2>/dev/null || total=0 fails=0
        # how much of the time runnable processes waited for a CPU (PSI)
        psi=$(awk -F'[ =]' '$1 == "some" { printf " cpu-wait %.0f%%", $3 }' \
              /proc/pressure/cpu 2>/dev/null)
        printf '[%4ds] %-22s %9d answers %6d/s %4d failures  rss%s%s\n' \
            $((SECONDS - START)) "$ph" "$total" \
            $(( (total - prev) / SOAK_SAMPLE )) "$fails" "$line" "$psi"
        prev=$total
        sleep "$SOAK_SAMPLE"
    done
}

echo 0 0 > "$D/progress"
: > "$D/client.err"
phase warmup
"${client[@]}" 2> "$D/client.err" > "$D/client.out" &
CLIENT=$!
sampler &
SAMPLER=$!
tail -n +1 -f "$D/client.err" --pid "$CLIENT" >&2 &
sleep "$SOAK_WARMUP"

# ---------------------------------------------------------------- reloads

MASTER_LOG=$D/gw/logs/error.log
RELOADS=0
MAX_DRAIN=0
# the workers since the last reload, and since when
STABLE=$(live_workers)
STABLE_AT=$(date +%s.%N)

# reload: HUP to the master (the consumers file changed); 2 new workers
# must come within 10 s, and the old ones must exit within SOAK_DRAIN s
# (a worker that keeps a timer or a connection of its own open would stay)
reload() {
    local before now ok=0 old t0 t
    RELOADS=$((RELOADS + 1))
    before=$(live_workers)
    if [ "$before" != "$STABLE" ]; then
        fail "workers changed without a reload: $STABLE-> $before"
    fi
    consumers "$RELOADS"
    kill -HUP "$MASTER"
    for _ in $(seq 1 100); do
        sleep 0.1
        now=$(live_workers)
        if [ "$(echo "$now" | wc -w)" = 2 ] \
                && [ -z "$(comm -12 <(echo "$before" | tr ' ' '\n' | grep . | sort) \
                                    <(echo "$now" | tr ' ' '\n' | grep . | sort))" ]; then
            ok=1
            break
        fi
    done
    if [ $ok = 0 ]; then
        fail "reload $RELOADS: no 2 new workers in 10 s (before: $before, now: $(workers | tr '\n' ' '))"
        return
    fi
    t0=$(date +%s%N)
    while :; do
        old=$(workers | awk '$2 == "old" { print $1 }' | tr '\n' ' ')
        t=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ -z "$old" ] && break
        if [ "$t" -ge $((SOAK_DRAIN * 1000)) ]; then
            fail "reload $RELOADS: old workers $old still alive $SOAK_DRAIN s after the new ones started"
            for p in $old; do
                echo "--- backtrace of the lingering worker $p" >&2
                gdb -q -batch -p "$p" -ex bt 2>&1 | grep -v '^\[' \
                    | head -40 >&2 || true
            done
            break
        fi
        sleep 0.05
    done
    [ "$t" -gt "$MAX_DRAIN" ] && MAX_DRAIN=$t
    say "reload $RELOADS: workers $before-> $now, the old ones gone in $t ms"
    STABLE=$now
    STABLE_AT=$(date +%s.%N)
}

phase reload
for i in $(seq 1 "$SOAK_RELOADS"); do
    reload
    sleep "$SOAK_RELOAD_INTERVAL"
done
phase reloads-done

# ---------------------------------------------------------------- faults

# redis_fault stopped|frozen|killed PREFIX HOLD NEXT_PHASE [reload]: Redis
# away for HOLD s ("reload": with two reloads meanwhile, whose old workers
# must exit although Redis does not answer), then SOAK_RECOVERY s for the
# circuit to close, and the limits must reach Redis again
redis_fault() {
    local kind=$1 prefix=$2 hold=$3 next=$4 during=${5:-} c0 c1
    phase "${prefix}${during:+reload-}redis-$kind"
    case $kind in
    stopped) redis_stop TERM ;;
    frozen)  kill -STOP "$REDIS_PID"; REDIS_FROZEN=1 ;;
    killed)  redis_stop KILL; redis_start ;;
    esac
    if [ -n "$during" ]; then
        sleep 1
        reload
        reload
    fi
    sleep "$hold"
    case $kind in
    stopped) redis_start ;;
    frozen)  kill -CONT "$REDIS_PID"; REDIS_FROZEN=0 ;;
    esac
    phase "${prefix}redis-recovering"
    sleep "$SOAK_RECOVERY"
    c0=$(redis_calls)
    sleep 1
    c1=$(redis_calls)
    if [ "$c1" -le "$c0" ]; then
        fail "after redis-$kind: no script call reached Redis in 1 s after $SOAK_RECOVERY s of recovery ($c0 -> $c1)"
    fi
    phase "$next"
}

for c in $(seq 1 "$SOAK_FAULT_CYCLES"); do
    redis_fault stopped "" "$SOAK_FAULT_HOLD" after-faults
    sleep 5
    redis_fault frozen "" "$SOAK_FAULT_HOLD" after-faults
    sleep 5
    redis_fault killed "" 1 after-faults
    sleep 5
    redis_fault stopped "" "$SOAK_FAULT_HOLD" after-faults reload
    sleep 5
    redis_fault frozen "" "$SOAK_FAULT_HOLD" after-faults reload
    sleep 5
done

# ---------------------------------------------------------------- soak

phase soak
SOAK_START=$SECONDS
faults=(stopped frozen killed)
nf=0
selftest=$SOAK_SELFTEST
while [ $((SECONDS - SOAK_START)) -lt "$SOAK_DURATION" ]; do
    # SOAK_SELFTEST=crash|hang: half-way, a worker gets SIGSEGV, or stops
    # for SOAK_TIMEOUT + 2 s: the verdict must say FAIL, and how
    if [ -n "$selftest" ] \
            && [ $((SECONDS - SOAK_START)) -ge $((SOAK_DURATION / 2)) ]; then
        p=${STABLE%% *}
        case $selftest in
        crash) say "self-test: SIGSEGV to worker $p"; kill -SEGV "$p" ;;
        hang)  say "self-test: worker $p stopped for $((${SOAK_TIMEOUT%.*} + 2)) s"
               kill -STOP "$p"; sleep $((${SOAK_TIMEOUT%.*} + 2))
               kill -CONT "$p" ;;
        esac
        selftest=
    fi
    if [ "$SOAK_SOAK_FAULT_EVERY" -gt 0 ] \
            && [ $((SECONDS - SOAK_START)) -ge $(( (nf + 1) * SOAK_SOAK_FAULT_EVERY )) ] \
            && [ $((SECONDS - SOAK_START + SOAK_SOAK_FAULT_HOLD + SOAK_RECOVERY + 2)) -lt "$SOAK_DURATION" ]; then
        redis_fault "${faults[$((nf % 3))]}" soak- "$SOAK_SOAK_FAULT_HOLD" soak
        nf=$((nf + 1))
    fi
    sleep 1
done

# ---------------------------------------------------------------- verdict

echo STOP > "$D/phase"
say "stopping the load"
crc=0
wait "$CLIENT" || crc=$?
CLIENT=
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
cat "$D/client.out"
case $crc in
0) ;;
3) if [ "$SOAK_STRICT" = 1 ]; then
       fail "documented answers that were not expected (SOAK_STRICT=1)"
   else
       echo "soak: WARNING: documented answers that were not expected" \
            "(DOC above; details in $D/client.err)" >&2
   fi ;;
*) fail "the load saw failures (above; details in $D/client.err)" ;;
esac

python3 "$SOAK_BENCH/soak-rss.py" "$D/samples.csv" "$SOAK_RSS_GROWTH_KB" \
    || fail "worker memory grows over the soak"

echo
now=$(live_workers)
if [ "$now" != "$STABLE" ]; then
    fail "workers changed without a reload: $STABLE-> $now"
fi
respawned=$(awk -F, -v since="$STABLE_AT" -v stable=" $STABLE" '
    $1 >= since && $4 == "worker" && index(stable, " " $3 " ") == 0 { print $3 }' \
    "$D/samples.csv" | sort -u | tr '\n' ' ')
[ -n "$respawned" ] && fail "workers that appeared without a reload: $respawned"
kill -0 "$MASTER" 2>/dev/null || fail "the master is gone"

if grep -q 'exited on signal' "$MASTER_LOG"; then
    fail "a worker died: $(grep -c 'exited on signal' "$MASTER_LOG") times"
    grep 'exited on signal' "$MASTER_LOG" | head -20 >&2
fi
if grep -Eq '\[(alert|crit|emerg)\]' "$MASTER_LOG"; then
    fail "[alert], [crit] or [emerg] in the error log"
    grep -E '\[(alert|crit|emerg)\]' "$MASTER_LOG" | head -20 >&2
fi
for core in "$D"/gw/cores/core*; do
    [ -e "$core" ] || continue
    fail "core dump $core"
    gdb -q -batch -ex bt -ex 'bt full 8' "$NGINX_BIN" "$core" 2>&1 \
        | grep -v '^\[' | head -60 >&2 || true
done

echo "error log ($MASTER_LOG), lines by message:"
sed -E 's/^[0-9/]+ [0-9:]+ //; s/[0-9]+#[0-9]+: //; s/\*[0-9]+ //;
        s/, client: .*//; s/[0-9]+/N/g' "$MASTER_LOG" \
    | sort | uniq -c | sort -rn | head -25
echo

if [ ${#FAILS[@]} -eq 0 ]; then
    echo "soak: PASS ($((SECONDS - START)) s, $RELOADS reloads (old workers" \
         "gone in $MAX_DRAIN ms at most), $((SOAK_FAULT_CYCLES * 5 + nf))" \
         "Redis faults)"
    exit 0
fi
echo "soak: FAIL (${#FAILS[@]}):"
printf '  - %s\n' "${FAILS[@]}"
exit 1
