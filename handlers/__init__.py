"""Chat command handlers, one module per feature; ROUTERS is the ordered registration list."""

from handlers import admin, projects, reports, standings, usage

ROUTERS = (reports.router, standings.router, admin.router, projects.router, usage.router)
