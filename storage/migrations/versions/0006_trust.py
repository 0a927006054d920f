"""Trust (issue #10): bound groups, the append-only audit log, deputies' expiry, seen callbacks.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The application never changes an audit row; on SQLite the database refuses it too.
APPEND_ONLY_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
)


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("expires_on", sa.Date(), nullable=True))
    op.create_table(
        "group_bindings",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("bound_by", sa.String(128), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("msg_id", sa.String(128), nullable=True),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=True),
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("old", sa.Text(), nullable=False),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_unit", "audit_log", ["campaign_id", "unit", "at"])
    op.create_table(
        "seen_callbacks",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("seen_at_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_seen_callbacks_time", "seen_callbacks", ["seen_at_ms"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in APPEND_ONLY_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_index("ix_seen_callbacks_time", table_name="seen_callbacks")
    op.drop_table("seen_callbacks")
    op.drop_index("ix_audit_unit", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("group_bindings")
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("expires_on")
