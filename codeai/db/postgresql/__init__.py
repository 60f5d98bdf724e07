"""CodeAI's PostgreSQL backend (``ENGINE = "codeai.db.postgresql"``): Django's, with
django-prometheus' query metrics, on a connection pool sized per instance (``codeai.db.pool``)."""
