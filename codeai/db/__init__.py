"""Database plumbing: the PostgreSQL backend (``codeai.db.postgresql``) and its pool."""
