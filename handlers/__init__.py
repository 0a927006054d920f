"""Chat command handlers, one module per feature; ROUTERS is the ordered registration list and
UNKNOWN answers a message that names no command."""

from handlers import (
    admin,
    bulletins,
    campaign_choice,
    desk,
    history,
    projects,
    reports,
    standings,
    usage,
)

ROUTERS = (
    reports.router,
    standings.router,
    admin.router,
    projects.router,
    bulletins.router,
    history.router,
    usage.router,
    campaign_choice.router,
    desk.router,
)
UNKNOWN = usage.show_unknown
