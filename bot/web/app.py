"""Mounts the web console on the server's aiohttp app: templates, static files, sessions, the playground and
every page set."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from bot.presentation import words
from bot.queue.intake import Intake
from bot.queue.store import InboundStore
from bot.services import Services
from bot.storage import database_url
from bot.web import home, playground, signin, stream
from bot.web.access import Access
from bot.web.console.pages import CONSOLE_PAGES
from bot.web.context import CONSOLE, Console
from bot.web.feed import PostFeed
from bot.web.front import PLATFORM, web_frontend
from bot.web.outbox_drain import WebOutboxDrain
from bot.web.pages import NAV, PageSet
from bot.web.playground import PLAYGROUND, Playground
from bot.web.post_views import PostViews
from bot.web.security import setup_security
from bot.web.throttle import SignInThrottle
from handlers.core import Core
from handlers.decisions import DecisionStore
from scheduler.outbox import Outbox

STATIC = Path(__file__).parent / "static"
# the web's templates, and the console's beside its pages (bot/web/console/templates/console/…)
TEMPLATES = jinja2.ChoiceLoader(
    [jinja2.PackageLoader("bot.web", "templates"), jinja2.PackageLoader("bot.web.console", "templates")]
)
DECISION_PAGE = "/console/decisions/{decision_id}"
# The web's own pages, then the console's (a console page is added in bot/web/console/pages.py)
PAGE_SETS: tuple[PageSet, ...] = (signin.pages, home.pages, playground.pages, stream.pages, *CONSOLE_PAGES)


def mount_web(
    app: web.Application, services: Services, access: Access, *, redis: aioredis.Redis, core: Core | None
) -> None:
    app[CONSOLE] = Console(services=services, access=access, core=core)
    app[signin.THROTTLE] = SignInThrottle(redis)
    env = aiohttp_jinja2.setup(app, loader=TEMPLATES, autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals["words"] = words
    session_key = services.settings.console_session_key
    setup_security(app, access, session_key=session_key.get_secret_value() if session_key else None)
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    links = []
    for page_set in PAGE_SETS:
        app.router.add_routes(page_set.routes)
        links += page_set.links
    app[NAV] = sorted(links, key=lambda link: link.order)

    front = web_frontend(services.pool)
    feed = PostFeed(database_url(services.settings))
    app[PLAYGROUND] = Playground(
        front=front,
        intake=Intake(InboundStore(services.pool, queue=services.settings.turn_queue), redis, platform=PLATFORM),
        renderer=PostViews(
            env, escalation=services.escalation, decisions=DecisionStore(services.pool), posts=front.posts
        ),
        feed=feed,
    )

    retention = services.settings.inbound_retention_days
    drain = WebOutboxDrain(front, Outbox(services.pool), services.escalation, retention_days=retention).loop()

    # the console's decision page, when one is mounted: staff follow a card or an answer to its explanation
    if any(resource.canonical == DECISION_PAGE for resource in app.router.resources()):
        app[PLAYGROUND].renderer.explain_path = DECISION_PAGE.replace("{decision_id}", "{}")

    async def start(app: web.Application) -> None:
        feed.start()
        drain.start()

    async def stop(app: web.Application) -> None:
        await feed.stop()  # open event streams end, so shutting down does not wait for them
        await drain.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
