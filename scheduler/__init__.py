"""Scheduled bulletins (issue #4): APScheduler triggers, the database decides what was sent."""
