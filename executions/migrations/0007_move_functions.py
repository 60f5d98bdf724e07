"""The moves of ``executions/statements.py`` (after the deployment's lock, which stays a
statement of the message) as PL/pgSQL functions, on PostgreSQL only.

PostgreSQL parses and plans a statement sent as text each time, which was half of its CPU for
a claim or a finish; a PL/pgSQL function's statements are planned once per session and kept,
with nothing prepared by the client, so PgBouncer's transaction pooling still works. Each
statement of a VOLATILE function reads a fresh snapshot (READ COMMITTED), as the message's
statements did. The SQL names the tables and columns as of this migration.
"""

from django.db import migrations

CLAIM = """
CREATE OR REPLACE FUNCTION executions_claim(p_id uuid, p_worker text, p_now timestamptz)
RETURNS TABLE (
    moved_deployment_id uuid, moved_config_snapshot text, moved_variables jsonb,
    moved_deployment_name text, moved_deployment_timeout_seconds integer
)
LANGUAGE plpgsql VOLATILE AS $body$
BEGIN
    RETURN QUERY
    WITH moved AS (
        UPDATE executions_execution AS e
        SET status = 'running', worker = p_worker, started_at = p_now, heartbeat_at = p_now
        FROM deployments_deployment AS d
        WHERE e.id = p_id AND e.status = 'queued' AND d.id = e.deployment_id
            AND d.concurrency <> 'queue'
        RETURNING e.deployment_id, e.config_snapshot, e.variables, d.name, d.timeout_seconds
    ), followed AS (
        UPDATE deployments_deployment AS d SET status = 'running', updated_at = p_now
        WHERE d.id IN (SELECT moved.deployment_id FROM moved) AND d.status <> 'running'
    )
    SELECT moved.deployment_id, moved.config_snapshot, moved.variables, moved.name::text,
        moved.timeout_seconds
    FROM moved;
END
$body$
"""

FINISH = """
CREATE OR REPLACE FUNCTION executions_finish(
    p_id uuid, p_status text, p_after text, p_now timestamptz, p_exit_code integer,
    p_explanation text, p_output text, p_truncated boolean, p_steps jsonb
)
RETURNS TABLE (moved_started_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $body$
BEGIN
    RETURN QUERY
    WITH moved AS (
        UPDATE executions_execution AS e
        SET status = p_status, exit_code = p_exit_code, explanation = p_explanation,
            completed_at = p_now, output = e.output || p_output,
            output_truncated = e.output_truncated OR p_truncated,
            steps = coalesce(p_steps, e.steps)
        FROM deployments_deployment AS d
        WHERE e.id = p_id AND e.status = 'running' AND d.id = e.deployment_id
            AND d.concurrency <> 'queue'
        RETURNING e.deployment_id, e.started_at
    ), followed AS (
        UPDATE deployments_deployment AS d SET status = p_after, updated_at = p_now
        WHERE d.id IN (SELECT moved.deployment_id FROM moved) AND d.status <> p_after
            AND NOT EXISTS (
                SELECT 1 FROM executions_execution AS other
                WHERE other.deployment_id = d.id AND other.status = 'running'
                    AND other.id <> p_id)
    )
    SELECT moved.started_at FROM moved;
END
$body$
"""

DROP = """
DROP FUNCTION IF EXISTS executions_claim(uuid, text, timestamptz);
DROP FUNCTION IF EXISTS executions_finish(
    uuid, text, text, timestamptz, integer, text, text, boolean, jsonb);
"""


def create_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CLAIM)
        schema_editor.execute(FINISH)


def drop_functions(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0002_revision_and_concurrency"),
        ("executions", "0006_redundant_indexes"),
    ]

    operations = [migrations.RunPython(create_functions, drop_functions)]
