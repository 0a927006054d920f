"""The published record (issue #21): every published version of a bulletin with the figures it
was built from, and the 更正通报 of a correction to published figures.

`bulletin_versions` keeps, per published bulletin, version 1 (what /发布 sent) and one version per
confirmed correction: its text, the figures snapshot, a content hash, who and when.
`locked_corrections` gains the 更正通报 the group receives and the correction's report row.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulletin_versions",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("bulletin_key", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(128), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("correction_id", sa.Integer(), nullable=True),
    )
    with op.batch_alter_table("locked_corrections") as batch:
        batch.add_column(sa.Column("notice", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("report_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("locked_corrections") as batch:
        batch.drop_column("report_id")
        batch.drop_column("notice")
    op.drop_table("bulletin_versions")
