#!/usr/bin/env bash
# The full suite, twice: on the embedded default (SQLite, in-memory cache, filesystem broker)
# and against the real PostgreSQL, Redis and a Celery worker on Redis. With
# CODEAI_TEST_REQUIRE_SERVICES=1 (CI sets it) an unreachable service fails the run instead
# of skipping the second pass. Extra arguments go to pytest.
#
# The two passes run at the same time (they share nothing: their own data folders, database
# and broker): the suite waits on processes far more than it computes (pass 1 kept a third
# of two cores busy), so together they take little more than the longer one. Pass 1 prints
# as it goes; pass 2's output follows once both have ended. CODEAI_TEST_ONE_PASS_AT_A_TIME=1
# runs them one after the other instead.
#
# Hermetic: pass 2 starts its own redis-server on a free port (no disk, killed on exit)
# unless CODEAI_TEST_REDIS_URL names one to use instead, and on PostgreSQL uses Django's
# test database (test_<CODEAI_TEST_DB_NAME>, created and dropped by the run). Nothing else
# of the machine's Redis or PostgreSQL is read, written, flushed or dropped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

PG_HOST=${CODEAI_TEST_PG_HOST:-127.0.0.1}
PG_PORT=${CODEAI_TEST_PG_PORT:-5432}
DB_NAME=${CODEAI_TEST_DB_NAME:-codeai}
REDIS_URL=${CODEAI_TEST_REDIS_URL:-}
REDIS_DB=${CODEAI_TEST_REDIS_DB:-0}
BROKER_DB=$((REDIS_DB + 1))
export CODEAI_TEST_REQUIRE_SERVICES=${CODEAI_TEST_REQUIRE_SERVICES:-0}

# Variables of the caller must not leak into either pass.
for var in $(env | grep -o '^CODEAI_[A-Z_]*' | grep -v '^CODEAI_TEST_'); do unset "$var"; done

workdir=$(mktemp -d)
redis_pid=
pass2_pid=
cleanup() {
  if [ -n "$pass2_pid" ]; then
    # Its own process group (set -m below): an interrupt lets pytest tear its fixtures down.
    kill -INT -- "-$pass2_pid" 2>/dev/null && wait "$pass2_pid" 2>/dev/null
  fi
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null; fi
  rm -rf "$workdir"
}
trap cleanup EXIT

# Starts this run's own Redis and sets REDIS_URL; false when there is no redis-server.
start_own_redis() {
  command -v redis-server >/dev/null || return 1
  mkdir "$workdir/redis"
  local port
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --dir "$workdir/redis" \
    --save "" --appendonly no --logfile "$workdir/redis/log" &
  redis_pid=$!
  REDIS_URL=redis://127.0.0.1:$port
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "this run's redis-server did not start:" >&2
  cat "$workdir/redis/log" >&2
  return 1
}

services_up() {
  .venv/bin/python - "$PG_HOST" "$PG_PORT" "$REDIS_URL" <<'PY'
import socket, sys
from urllib.parse import urlparse
redis = urlparse(sys.argv[3])
for host, port in ((sys.argv[1], int(sys.argv[2])), (redis.hostname, redis.port or 6379)):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        sys.exit(1)
PY
}

pass1() {
  CODEAI_DATA_DIR=$workdir/embedded CODEAI_LOG_FORMAT=text \
    .venv/bin/python -m pytest "$@"
}

pass2() {
  # A cache prefix of this run: its keys are the only ones it clears.
  CODEAI_DATA_DIR=$workdir/services CODEAI_LOG_FORMAT=text \
  CODEAI_DB_HOST=$PG_HOST CODEAI_DB_PORT=$PG_PORT CODEAI_DB_USER=postgres \
  CODEAI_DB_NAME=$DB_NAME CODEAI_DB_MAX_IDLE_CONNS=1 \
  CODEAI_CACHE_TYPE=redis CODEAI_REDIS_URL=$REDIS_URL CODEAI_REDIS_DB=$REDIS_DB \
  CODEAI_CACHE_PREFIX=codeai-test-$$ CODEAI_CELERY_BROKER_URL=$REDIS_URL/$BROKER_DB \
    .venv/bin/python -m pytest "$@"
}

status=0
pass2_notes=()
pass2_problem=
run_pass2=0
if [ -z "$REDIS_URL" ] && ! start_own_redis; then
  pass2_notes+=("redis-server is not installed")
elif [ -z "${CODEAI_TEST_REDIS_URL:-}" ]; then
  pass2_notes+=("   (this run's own Redis: $REDIS_URL)")
fi
if [ -n "$REDIS_URL" ] && services_up; then
  run_pass2=1
elif [ "$CODEAI_TEST_REQUIRE_SERVICES" = "1" ]; then
  pass2_problem="PostgreSQL or Redis is unavailable and CODEAI_TEST_REQUIRE_SERVICES=1"
  status=1
else
  pass2_notes+=("PostgreSQL or Redis unavailable: pass 2 not run (set CODEAI_TEST_REQUIRE_SERVICES=1 to fail)")
fi

if [ "$run_pass2" = 1 ] && [ "${CODEAI_TEST_ONE_PASS_AT_A_TIME:-0}" != "1" ]; then
  set -m  # pass 2 in a process group of its own, which an interrupt of this script spares
  pass2 "$@" </dev/null >"$workdir/pass2.log" 2>&1 &
  pass2_pid=$!
  set +m
fi

echo "== pass 1/2: embedded default (SQLite, in-memory cache, filesystem broker)"
pass1 "$@" || status=$?

echo "== pass 2/2: PostgreSQL, Redis cache and a Celery worker on Redis"
[ ${#pass2_notes[@]} -eq 0 ] || printf '%s\n' "${pass2_notes[@]}"
[ -z "$pass2_problem" ] || echo "$pass2_problem" >&2
if [ -n "$pass2_pid" ]; then
  pass2_status=0
  wait "$pass2_pid" || pass2_status=$?
  pass2_pid=
  cat "$workdir/pass2.log"
  [ "$pass2_status" = 0 ] || status=$pass2_status
elif [ "$run_pass2" = 1 ]; then
  pass2 "$@" || status=$?
fi
exit $status
