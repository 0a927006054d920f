"""Report provenance: `source` says where a version came from ("" for chat; "import:<who>:<file>").

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("source", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("source")
