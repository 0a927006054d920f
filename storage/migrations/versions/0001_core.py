"""Core tables: inbox, bindings, reports, app_state.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("msg_id", sa.String(128), primary_key=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("sender_staff_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("message_json", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("command", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reply_title", sa.String(128), nullable=True),
        sa.Column("reply_text", sa.Text(), nullable=True),
    )
    op.create_index("ix_inbox_unprocessed", "inbox", ["processed_at", "received_at"])
    op.create_table(
        "bindings",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("staff_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=True),
        sa.Column("bound_by", sa.String(128), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.String(128), nullable=False),
        sa.Column("msg_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("values_json", sa.Text(), nullable=False),
        sa.Column("posted_json", sa.Text(), nullable=False),
        sa.Column("highlights", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_reports_unit_time", "reports", ["campaign_id", "unit", "reported_at"])
    op.create_index("ix_reports_week", "reports", ["campaign_id", "week"])
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_state")
    op.drop_index("ix_reports_week", table_name="reports")
    op.drop_index("ix_reports_unit_time", table_name="reports")
    op.drop_table("reports")
    op.drop_table("bindings")
    op.drop_index("ix_inbox_unprocessed", table_name="inbox")
    op.drop_table("inbox")
