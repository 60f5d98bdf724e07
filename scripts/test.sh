#!/usr/bin/env bash
# The full suite, twice: on the embedded default (SQLite, in-memory cache, filesystem broker)
# and against the real PostgreSQL, Redis and a Celery worker on Redis. With
# CODEAI_TEST_REQUIRE_SERVICES=1 (CI sets it) an unreachable service fails the run instead
# of skipping the second pass. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

PG_HOST=${CODEAI_TEST_PG_HOST:-127.0.0.1}
REDIS_URL=${CODEAI_TEST_REDIS_URL:-redis://127.0.0.1:6379}
DB_NAME=${CODEAI_TEST_DB_NAME:-codeai}
REDIS_DB=${CODEAI_TEST_REDIS_DB:-0}
BROKER_DB=$((REDIS_DB + 1))
export CODEAI_TEST_REQUIRE_SERVICES=${CODEAI_TEST_REQUIRE_SERVICES:-0}

# Variables of the caller must not leak into either pass.
for var in $(env | grep -o '^CODEAI_[A-Z_]*' | grep -v '^CODEAI_TEST_'); do unset "$var"; done

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

status=0
echo "== pass 1/2: embedded default (SQLite, in-memory cache, filesystem broker)"
CODEAI_DATA_DIR=$workdir/embedded CODEAI_LOG_FORMAT=text \
  .venv/bin/python -m pytest "$@" || status=$?

services_up() {
  .venv/bin/python - "$PG_HOST" "$REDIS_URL" <<'PY'
import socket, sys
from urllib.parse import urlparse
redis = urlparse(sys.argv[2])
for host, port in ((sys.argv[1], 5432), (redis.hostname, redis.port or 6379)):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        sys.exit(1)
PY
}

echo "== pass 2/2: PostgreSQL, Redis cache and a Celery worker on Redis"
if services_up; then
  CODEAI_DATA_DIR=$workdir/services CODEAI_LOG_FORMAT=text \
  CODEAI_DB_HOST=$PG_HOST CODEAI_DB_USER=postgres CODEAI_DB_NAME=$DB_NAME CODEAI_DB_MAX_IDLE_CONNS=1 \
  CODEAI_CACHE_TYPE=redis CODEAI_REDIS_URL=$REDIS_URL CODEAI_REDIS_DB=$REDIS_DB \
  CODEAI_CELERY_BROKER_URL=$REDIS_URL/$BROKER_DB \
    .venv/bin/python -m pytest "$@" || status=$?
elif [ "$CODEAI_TEST_REQUIRE_SERVICES" = "1" ]; then
  echo "PostgreSQL or Redis is unreachable and CODEAI_TEST_REQUIRE_SERVICES=1" >&2
  status=1
else
  echo "PostgreSQL or Redis unreachable: pass 2 not run (set CODEAI_TEST_REQUIRE_SERVICES=1 to fail)"
fi
exit $status
