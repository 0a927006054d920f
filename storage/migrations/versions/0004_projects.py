"""Projects (issue #5): the project ledger, its events, confirmed 红旗项目 and imported targets.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("company", sa.String(128), nullable=False),
        sa.Column("company_key", sa.String(128), nullable=False),
        sa.Column("total", sa.String(40), nullable=False),
        sa.Column("funded", sa.String(40), nullable=False),
        sa.Column("first_funded_on", sa.Date(), nullable=True),
        sa.Column("is_foreign", sa.Boolean(), nullable=False),
        sa.Column("is_world500", sa.Boolean(), nullable=False),
        sa.Column("contract_start_on", sa.Date(), nullable=True),
        sa.Column("contract_end_on", sa.Date(), nullable=True),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("incorporated_on", sa.Date(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("producing_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("campaign_id", "unit", "name", name="uq_projects_unit_name"),
    )
    op.create_index("ix_projects_company", "projects", ["campaign_id", "company_key"])
    op.create_table(
        "project_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.String(128), nullable=False),
        sa.Column("msg_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_project_events_project", "project_events", ["project_id", "at"])
    op.create_table(
        "red_flag_projects",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(128), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "campaign_targets",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_targets")
    op.drop_table("red_flag_projects")
    op.drop_index("ix_project_events_project", table_name="project_events")
    op.drop_table("project_events")
    op.drop_index("ix_projects_company", table_name="projects")
    op.drop_table("projects")
