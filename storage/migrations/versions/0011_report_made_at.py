"""When a report version was made: `reports.made_at`. A /更正 row carries the corrected version's
`reported_at` and week (so it applies wherever that version did); /历史 lists it at `made_at`.

Existing rows: the time of the message that made them, from the inbox (a /更正's, a /确认's, the
desk's, each with its own inbox row under the report's msg_id), else `reported_at` (seeded and
imported rows, which have no message; an import's time was not kept).

Not through batch mode: SQLite adds and drops a plain column in place (3.35+), as in 0010.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reports", sa.Column("made_at", sa.DateTime(), nullable=True))
    reports = sa.table(
        "reports", sa.column("msg_id"), sa.column("reported_at"), sa.column("made_at")
    )
    inbox = sa.table("inbox", sa.column("msg_id"), sa.column("created_at"))
    said_at = (
        sa.select(inbox.c.created_at).where(inbox.c.msg_id == reports.c.msg_id).scalar_subquery()
    )
    op.execute(reports.update().values(made_at=sa.func.coalesce(said_at, reports.c.reported_at)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE reports DROP COLUMN made_at")
    else:
        op.drop_column("reports", "made_at")
