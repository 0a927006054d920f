"""audit_log on PostgreSQL: refuses any UPDATE, DELETE or TRUNCATE, as 0006's triggers make SQLite
do; and its `action` holds the longest refusal verdict ("one_to_one_read_only"), which PostgreSQL
would refuse in the 16 characters SQLite never enforced.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# restrict_violation (23001) is an integrity error: drivers report it as one, as SQLite's ABORT.
APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'restrict_violation';
END
$$
"""
# Row triggers for UPDATE and DELETE; TRUNCATE skips row triggers, so it gets a statement one.
POSTGRESQL_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
# 0006's, unchanged: SQLite's batch mode rebuilds the table, and its triggers go with the old one.
SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def upgrade() -> None:
    _resize_action(sa.String(16), sa.String(32))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        for statement in POSTGRESQL_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("audit_log_no_truncate", "audit_log_no_delete", "audit_log_no_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    _resize_action(sa.String(32), sa.String(16))


def _resize_action(old: sa.String, new: sa.String) -> None:
    is_sqlite = op.get_bind().dialect.name == "sqlite"
    if is_sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column(
            "action",
            type_=new,
            existing_type=old,
            existing_nullable=False,
            postgresql_using=f"left(action, {new.length})",  # a downgrade cuts what is longer
        )
    if is_sqlite:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
