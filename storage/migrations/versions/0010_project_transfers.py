"""Project transfers (流转): `projects.first_talk_unit` keeps the 首谈地 of a project moved to
another unit, which counts it too (seed 001 二(一)3).

Not through batch mode: SQLite adds and drops a plain column in place (3.35+), whereas a table
copy would drop `projects` under the foreign keys of its events and 红旗 rows.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects", sa.Column("first_talk_unit", sa.String(64), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE projects DROP COLUMN first_talk_unit")
    else:
        op.drop_column("projects", "first_talk_unit")
