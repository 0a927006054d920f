"""Pushes in flight (issue #23): `outbox_sends` holds one row per push being sent, committed before
the request goes out and removed with DingTalk's answer, so a send the process died in is known at
the next start (sent once more, marked 补发, never a third time).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_sends",
        sa.Column("outbox_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("in_flight_since", sa.DateTime(), nullable=True),
        sa.Column("resent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("outbox_sends")
