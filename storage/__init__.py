"""Persistence: SQLAlchemy 2.0 async models, repositories and Alembic migrations."""

from storage.bundle import Repositories
from storage.db import Database, SessionFactory, open_database
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
    "Repositories",
    "SessionFactory",
    "StateRepository",
    "open_database",
]
