"""The console sandbox: a terminal group chat on its own database, clock and demo data."""
