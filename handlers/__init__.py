"""Chat command handlers, one module per feature; ROUTERS is the ordered registration list."""

from handlers import admin, reports, standings, usage

ROUTERS = (reports.router, standings.router, admin.router, usage.router)
