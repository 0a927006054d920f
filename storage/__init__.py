"""Persistence: SQLAlchemy 2.0 async models, repositories and Alembic migrations."""

from storage.bundle import Repositories
from storage.db import Database, open_database
from storage.report_version import ReportVersion
from storage.repositories import (
    BindingRepository,
    InboxRepository,
    ReportRepository,
    StateRepository,
)

__all__ = [
    "BindingRepository",
    "Database",
    "InboxRepository",
    "ReportRepository",
    "ReportVersion",
    "Repositories",
    "StateRepository",
    "open_database",
]
