"""The desk's dashboard at /dashboard: sign-in, the overview, unit histories, exports, admin edits.

Read-only for leaders and the login-token holder; the admin page and its edits only for an admin
signed in by a personal link (/看板), each edit with the session's CSRF token. Exports are for
anyone signed in (the token is the bureau's; personal links go to leaders and admins only).
Sign-in attempts are throttled per client (429 with Retry-After).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bulletins.texts import not_started_lines
from campaign import Campaign, Role, calendar, format_amount
from campaign.formatting import item_score, moment, num, pct
from campaign.membership import identify
from chat.campaign_book import CampaignBook
from chat.clock import Clock
from chat.desk import DeskLinks
from chat.pipeline import Pipeline
from storage import Database, Repositories
from web import charts, desk_writes, overview, workbook
from web.auth import (
    COOKIE,
    CSRF_FIELD,
    SESSION_SECONDS,
    TOKEN_HOLDER,
    Session,
    Sessions,
    SignInThrottle,
    csrf_matches,
    token_matches,
)
from web.markdown import render_markdown

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a login link must not leak through a Referer
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'",
}


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("web", "templates"), autoescape=select_autoescape(["html"])
    )
    env.filters.update(num=num, pct=pct, amount=format_amount)
    return env


def page(env: Environment, name: str, status: int = 200, **values: object) -> web.Response:
    body = env.get_template(name).render(**values)
    return web.Response(
        text=body, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


@dataclass
class Desk:
    database: Database
    campaign: Campaign  # the default campaign; stored targets are applied per request
    book: CampaignBook | None
    clock: Clock
    pipeline: Pipeline
    admins: frozenset[str]
    token: str = field(repr=False)
    links: DeskLinks
    sessions: Sessions = field(default_factory=Sessions)
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    env: Environment = field(default_factory=templates)

    async def current(self, repos: Repositories) -> Campaign:
        if self.book is None:
            return self.campaign
        return await self.book.with_targets(repos.targets, self.campaign)

    def session(self, request: web.Request) -> Session | None:
        return self.sessions.find(request.cookies.get(COOKIE, ""))

    def refuse(self, status: int = 401) -> web.Response:
        return page(self.env, "signin.html", status=status, forbidden=status == 403)

    def admins_only(self) -> web.Response:
        return page(self.env, "signin.html", status=403, admin_only=True)

    def throttled(self, client: str) -> web.Response | None:
        """The refusal for a client that failed to sign in too often; None when it may try."""
        wait = self.throttle.retry_after(client)
        if not wait:
            return None
        logger.warning("desk sign-in from %s refused for %d s: too many failures", client, wait)
        refused = page(self.env, "signin.html", status=429, minutes=-(-wait // 60))
        refused.headers["Retry-After"] = str(wait)
        return refused

    def failed_sign_in(self, client: str, what: str) -> web.Response:
        logger.info("desk sign-in from %s failed: %s", client, what)  # never what was given
        self.throttle.failed(client)
        return self.refuse()

    def signed_in(self, session: Session, to: str) -> web.HTTPSeeOther:
        response = web.HTTPSeeOther(to, headers=SECURITY_HEADERS)
        response.set_cookie(
            COOKIE, session.id, max_age=SESSION_SECONDS, httponly=True, samesite="Strict", path="/"
        )
        return response

    # ---- sign-in ----

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        given = request.query.get("token")
        if given is not None:
            client = request.remote or ""
            if (refused := self.throttled(client)) is not None:
                return refused  # even the right token: guessing must not pay
            if not token_matches(given, self.token):
                return self.failed_sign_in(client, "wrong token")
            self.throttle.succeeded(client)
            started = self.sessions.start(TOKEN_HOLDER, "看板令牌", is_admin=False)
            raise self.signed_in(started, "/dashboard")  # the token leaves the address bar
        session = self.session(request)
        if session is None:
            return self.refuse()
        now = self.clock.now()
        async with self.database.read(self.campaign.id) as repos:
            campaign = await self.current(repos)
            seen = await overview.gather(campaign, repos, now)
        curves = [
            charts.unit_curve(
                campaign,
                row.entity,
                seen.metric,
                [
                    (
                        p.ends_at,
                        p.standings.row(row.entity).figures.values.get(seen.metric, Decimal(0)),
                    )
                    for p in seen.weeks[1:]
                ],
            )
            for row in seen.standings.rows
        ]
        tz = calendar.zone(campaign)
        return page(
            self.env,
            "dashboard.html",
            session=session,
            seen=seen,
            campaign=campaign,
            curves=curves,
            as_of=moment(seen.standings.as_of, tz),
            not_started=not_started_lines(campaign, seen.standings.as_of, tz)[-1],
            awards_points=any(row.points is not None for row in seen.standings.rows),
            item=functools.partial(item_score, campaign),
            increments={u.name: overview.increments(seen, u.name) for u in campaign.units},
            metric=campaign.metric(seen.metric),
            today=now.astimezone(tz).date(),
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        """A personal link from /看板: a leader or an admin, checked against who they are now."""
        query = request.query
        staff_id = query.get("staff", "")
        client = request.remote or ""
        if (refused := self.throttled(client)) is not None:
            return refused
        if not self.links.verify(staff_id, query.get("expires", ""), query.get("sig", "")):
            return self.failed_sign_in(client, "personal link not valid (forged or expired)")
        self.throttle.succeeded(client)
        async with self.database.read(self.campaign.id) as repos:
            binding = await repos.bindings.get(staff_id)
        actor = identify(staff_id, staff_id, self.campaign.members, binding, self.admins)
        if not (actor.is_admin or actor.role is Role.LEADER):
            return self.refuse(403)
        session = self.sessions.start(staff_id, actor.name, is_admin=actor.is_admin)
        raise self.signed_in(session, "/dashboard")

    async def sandbox_entry(self, _request: web.Request) -> web.StreamResponse:
        """The web sandbox's way in, mounted by the sandbox alone: a read-only session without a
        token, so none is shown on its open page or printed. It opens nothing the sandbox does
        not: anyone on the sandbox page may act as an admin in its chat."""
        started = self.sessions.start(TOKEN_HOLDER, "看板令牌", is_admin=False)
        raise self.signed_in(started, "/dashboard")

    async def logout(self, request: web.Request) -> web.StreamResponse:
        checked = await self.writing(request)
        if isinstance(checked, web.Response):
            return checked
        session, _ = checked
        self.sessions.end(session.id)
        response = web.HTTPSeeOther("/dashboard", headers=SECURITY_HEADERS)
        response.del_cookie(COOKIE, path="/")
        raise response

    async def writing(self, request: web.Request) -> tuple[Session, dict[str, str]] | web.Response:
        """The session of a write and its form, the CSRF token checked; else the refusal."""
        session = self.session(request)
        if session is None:
            return self.refuse()
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not csrf_matches(session, form.get(CSRF_FIELD, "")):
            return page(self.env, "signin.html", status=403, forbidden=True, csrf=True)
        return session, form

    # ---- reading ----

    async def unit(self, request: web.Request) -> web.StreamResponse:
        session = self.session(request)
        if session is None:
            return self.refuse()
        async with self.database.read(self.campaign.id) as repos:
            campaign = await self.current(repos)
            unit = campaign.find_unit(request.match_info["unit"])
            if unit is None:
                raise web.HTTPNotFound()
            history = await overview.unit_history(repos, unit.name)
        return page(
            self.env,
            "unit.html",
            session=session,
            campaign=campaign,
            unit=unit,
            history=history,
            tz=calendar.zone(campaign),
            posted=[m for m in campaign.metrics if not m.is_computed],
        )

    # ---- exports ----

    async def exports(self, request: web.Request) -> web.StreamResponse:
        session = self.session(request)
        if session is None:
            return self.refuse()
        async with self.database.read(self.campaign.id) as repos:
            published = await repos.bulletins.published()
        return page(self.env, "exports.html", session=session, published=published, quote=quote)

    async def bulletin_xlsx(self, request: web.Request) -> web.StreamResponse:
        if self.session(request) is None:
            return self.refuse()
        key = request.query.get("key", "")
        async with self.database.read(self.campaign.id) as repos:
            campaign = await self.current(repos)
            record = await repos.bulletins.get(key)
            if record is None or record.published_at is None:
                raise web.HTTPNotFound(text="没有这份已发布的通报")
            table = await workbook.bulletin_table(campaign, repos, record)
        body = workbook.bulletin_xlsx(campaign, table)
        return download(body, workbook.XLSX_TYPE, f"{record.title}.xlsx")

    async def reports_csv(self, request: web.Request) -> web.StreamResponse:
        if self.session(request) is None:
            return self.refuse()
        async with self.database.read(self.campaign.id) as repos:
            campaign = await self.current(repos)
            body = await workbook.reports_export(campaign, repos)
        return download(body, workbook.CSV_TYPE, f"{campaign.name}报送明细.csv")

    # ---- admin edits ----

    async def admin(self, request: web.Request, notice: str = "") -> web.StreamResponse:
        session = self.session(request)
        if session is None:
            return self.refuse()
        if not session.is_admin:  # the token holder and leaders read; only admins see this page
            return self.admins_only()
        async with self.database.read(self.campaign.id) as repos:
            campaign = await self.current(repos)
            bindings = await repos.bindings.all()
        return page(
            self.env,
            "admin.html",
            session=session,
            campaign=campaign,
            bindings=bindings,
            notice=Markup(render_markdown(notice)) if notice else "",
            csrf_field=CSRF_FIELD,
            posted=[m for m in campaign.metrics if not m.is_computed],
        )

    async def edit(self, request: web.Request) -> web.StreamResponse:
        checked = await self.writing(request)
        if isinstance(checked, web.Response):
            return checked
        session, field_text = checked
        if not session.is_admin:
            return self.admins_only()
        what = request.match_info["what"]
        if what == "corrections":
            amounts = {
                key.removeprefix("metric:"): value
                for key, value in field_text.items()
                if key.startswith("metric:")
            }
            notice = await desk_writes.correct(
                self.pipeline,
                session,
                field_text.get("unit", ""),
                amounts,
                field_text.get("reason", ""),
            )
        elif what == "members":
            notice = await desk_writes.bind(
                self.pipeline,
                session,
                field_text.get("staff_id", ""),
                field_text.get("target", ""),
                field_text.get("name", ""),
            )
        elif what == "targets":
            async with self.database.read(self.campaign.id) as repos:
                campaign = await self.current(repos)
            try:
                value = await desk_writes.set_target(
                    self.database,
                    self.clock,
                    session,
                    campaign,
                    field_text.get("unit", ""),
                    field_text.get("metric", ""),
                    field_text.get("value", ""),
                )
                notice = f"已更新目标任务：{field_text.get('unit')} {value}"
            except desk_writes.TargetRefused as error:
                notice = f"未保存：{error}"
        else:
            raise web.HTTPNotFound()
        return await self.admin(request, notice)

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/dashboard", self.dashboard)
        app.router.add_get("/dashboard/login", self.login)
        app.router.add_post("/dashboard/logout", self.logout)
        app.router.add_get("/dashboard/unit/{unit}", self.unit)
        app.router.add_get("/dashboard/exports", self.exports)
        app.router.add_get("/dashboard/exports/bulletin.xlsx", self.bulletin_xlsx)
        app.router.add_get("/dashboard/exports/reports.csv", self.reports_csv)
        app.router.add_get("/dashboard/admin", self.admin)
        app.router.add_post("/dashboard/admin/{what}", self.edit)
        mount_static(app)


def mount_static(app: web.Application) -> None:
    """The desk's stylesheet and the sandbox's script, served from the package (no CDN)."""
    from pathlib import Path

    static = Path(__file__).resolve().parent / "static"
    if not any(r.canonical == "/static" for r in app.router.resources()):
        app.router.add_static("/static", static)


def download(body: bytes, content_type: str, filename: str) -> web.Response:
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
    }
    return web.Response(
        body=body,
        headers=headers,
        content_type=content_type.split(";")[0],
        charset="utf-8" if "charset" in content_type else None,
    )


def local_time(at: datetime, campaign: Campaign) -> str:
    return f"{at.astimezone(calendar.zone(campaign)):%Y-%m-%d %H:%M}"
