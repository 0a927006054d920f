"""Persistence: SQLAlchemy 2.0 async models, repositories and Alembic migrations."""

from storage.db import Database, open_database
from storage.repositories import (
    BindingRepository,
    InboxRepository,
    ReportRepository,
    ReportVersion,
    StateRepository,
)

__all__ = [
    "BindingRepository",
    "Database",
    "InboxRepository",
    "ReportRepository",
    "ReportVersion",
    "StateRepository",
    "open_database",
]
