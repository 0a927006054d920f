"""Pushes per campaign and group (issue #15): outbox keys name campaign, push and group, so they
grow to 255 characters; each campaign has its own bulletins (primary key campaign_id, key).

Rows written before keep their keys: the service reads a legacy key as the default campaign's
push to the group the row went to (campaign/pushes.py `groups_sent`).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(160), type_=sa.String(255), existing_nullable=False
        )
    _set_bulletins_primary_key(["key", "campaign_id"])


def downgrade() -> None:
    # Two campaigns' bulletins under one key cannot go back to the older schema: it then fails.
    _set_bulletins_primary_key(["key"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column(
            "key", existing_type=sa.String(255), type_=sa.String(160), existing_nullable=False
        )


def _set_bulletins_primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("bulletins_pkey", "bulletins", type_="primary")
        op.create_primary_key("bulletins_pkey", "bulletins", columns)
        return
    # SQLite cannot change a primary key in place: copy the rows into a table with the new one.
    op.create_table(
        "bulletins_copy",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("drafted_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("published_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint(*columns),
    )
    names = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO bulletins_copy ({names}) SELECT {names} FROM bulletins")
    op.drop_table("bulletins")
    op.rename_table("bulletins_copy", "bulletins")


COLUMNS = (
    "key",
    "campaign_id",
    "kind",
    "period",
    "title",
    "text",
    "as_of",
    "drafted_at",
    "published_at",
    "published_by",
)
