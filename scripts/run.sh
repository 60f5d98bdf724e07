#!/usr/bin/env bash
# Installs and starts the whole system on the embedded default: SQLite and the filesystem
# broker under ./var, the web server on http://localhost:8080 and a Celery worker beside it.
# Set the guide's CODEAI_DB_*, CODEAI_CACHE_TYPE/CODEAI_REDIS_URL or CODEAI_CELERY_BROKER_URL
# to run on PostgreSQL, Redis or RabbitMQ instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export CODEAI_LOG_FORMAT=${CODEAI_LOG_FORMAT:-text}
PY=.venv/bin/python

$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
if ! $PY manage.py shell -c "from django.contrib.auth import get_user_model as m; import sys; sys.exit(0 if m().objects.filter(is_superuser=True).exists() else 1)"; then
  password=$($PY -c "import secrets; print(secrets.token_urlsafe(12))")
  DJANGO_SUPERUSER_PASSWORD=$password $PY manage.py createsuperuser --noinput --username admin --email admin@localhost -v0
  echo "Created the admin user: log in at http://localhost:${CODEAI_PORT:-8080}/admin/ as admin / $password"
  echo "(change it with: .venv/bin/python manage.py changepassword admin)"
else
  echo "Log in at http://localhost:${CODEAI_PORT:-8080}/admin/ (reset a password: .venv/bin/python manage.py changepassword admin)"
fi

# The worker (with beat for the periodic sweep) runs beside the web server and stops with it.
.venv/bin/celery -A codeai worker --beat --loglevel INFO --concurrency 2 -Q executions,celery &
worker=$!
trap 'kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
.venv/bin/gunicorn codeai.wsgi --bind "${CODEAI_HOST:-localhost}:${CODEAI_PORT:-8080}" --workers 2
