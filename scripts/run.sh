#!/usr/bin/env bash
# Installs and starts the whole system on the embedded default: SQLite and the filesystem
# broker under ./var, the web server on http://localhost:8080 and a Celery worker beside it.
# Set the guide's CODEAI_DB_*, CODEAI_CACHE_TYPE/CODEAI_REDIS_URL or CODEAI_CELERY_BROKER_URL
# to run on PostgreSQL, Redis or RabbitMQ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The `codeai` command comes with the project's (editable) install.
[ -x .venv/bin/codeai ] || .venv/bin/pip install --quiet --no-deps --no-build-isolation -e .
export CODEAI_LOG_FORMAT=${CODEAI_LOG_FORMAT:-text}
CODEAI=.venv/bin/codeai

$CODEAI server migrate
$CODEAI manage collectstatic --noinput -v0
if ! $CODEAI manage shell -v0 -c "from django.contrib.auth import get_user_model as m; import sys; sys.exit(0 if m().objects.filter(is_superuser=True).exists() else 1)"; then
  password=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(12))")
  DJANGO_SUPERUSER_PASSWORD=$password $CODEAI manage createsuperuser --noinput --username admin --email admin@localhost -v0
  echo "Created the admin user: log in at http://localhost:${CODEAI_PORT:-8080}/admin/ as admin / $password"
  echo "(change it with: .venv/bin/codeai manage changepassword admin)"
else
  echo "Log in at http://localhost:${CODEAI_PORT:-8080}/admin/ (reset a password: .venv/bin/codeai manage changepassword admin)"
fi

# The worker runs beside the web server; its periodic duties (the sweep) need no beat.
$CODEAI worker start --concurrency 2 &
worker=$!
$CODEAI server start &
web=$!
# Either one stopping, Ctrl-C, or a TERM to this script stops both, each gracefully.
trap 'kill -TERM $web $worker 2>/dev/null; wait $web $worker 2>/dev/null' EXIT INT TERM
wait -n $web $worker
