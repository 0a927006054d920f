"""One log line, no traceback, for a database that cannot take a write (full, read-only, locked).

Wherever such a failure is logged with its traceback (the transports, the outbox relay, the
scheduler's jobs, aiohttp), the traceback says nothing the condition's name does not, and a full
disk repeats it at every retry; the line says the condition instead (storage/health.py names it).
Any other exception keeps its traceback.
"""

from __future__ import annotations

import logging

from storage.health import describe, storage_problem


class StorageProblemFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        problem = storage_problem(error)
        if error is not None and problem:
            record.msg = f"{record.getMessage()} [database {problem}: {describe(error)}]"
            record.args = ()
            record.exc_info = record.exc_text = None
        return True


def shorten_storage_tracebacks(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (the root logger), where every library's
    records arrive (a logger's own filters would miss those that propagate)."""
    filtering = StorageProblemFilter()
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(filtering)
