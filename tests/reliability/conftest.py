"""Reliability tier: real `supportbot run` processes, a real `redis-server` and PostgreSQL servers of the
tier's own, killed and restarted while Slack events or Teams activities are in flight.

The database is prepared once (migrations, the Acme knowledge base with the session's cached
embeddings, the Slack test channel and the Teams test tenant bound to `acme`); each test then starts
from empty turn tables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.channels import ChannelStore
from bot.services import Services, open_services
from bot.settings import load_settings
from knowledge.embedder import Embedder
from knowledge.ingest import IngestOptions
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack
from tests.fakes.tls import loopback_certificate
from tests.reliability import teams
from tests.reliability.servers import REPO, BotProcess, EmbeddedPostgres, RedisServer
from tests.reliability.slack import CHANNEL, ORG, SECRET, STAFF_CHANNEL

# every table a turn writes to; the knowledge base and the channel binding stay (and so do procrastinate's
# workers: a bot shared by a module's tests keeps its heartbeat row)
TURN_TABLES = (
    "inbound_events, inbound_deliveries, procrastinate_jobs, decisions, turns, "
    "conversations, handoffs, approvals, kb_gaps, feedback, outbox, outbox_deliveries, seen_events, chat_cards, "
    "audit_log"
)


async def prepare(url: str, home: Path, embedder: Embedder) -> None:
    """Migrations (opening the services applies them), the sample knowledge base, the channel bound."""
    settings = load_settings(supportbot_home=home, database_url=url)
    async with open_services(settings, embedder=embedder) as services:
        await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
        channels = ChannelStore(services.pool)
        await channels.bind("slack", CHANNEL, ORG, bound_by="reliability tests")
        await channels.bind("teams", teams.TENANT, ORG, bound_by="reliability tests")


async def fresh(db: EmbeddedPostgres, redis: RedisServer) -> None:
    """What one test starts from: no stored event, turn, decision or hand-off; Redis empty."""
    await db.execute(f"TRUNCATE {TURN_TABLES} CASCADE")
    await redis.flush()


@pytest.fixture(scope="session")
def reliability_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # short: PostgreSQL's unix socket path must fit in 107 bytes
    return tmp_path_factory.mktemp("rel")


@pytest.fixture(scope="session")
async def tier_db(reliability_folder: Path, services: Services) -> AsyncIterator[EmbeddedPostgres]:
    """The tier's own PostgreSQL, prepared once for every module but the outage one."""
    db = EmbeddedPostgres(reliability_folder / "db")
    (reliability_folder / "db").mkdir()
    try:
        db.open()
        await prepare(db.url, reliability_folder / "db-home", services.embedder)
        yield db
    finally:
        db.close()


@pytest.fixture(scope="module")
async def redis_server(reliability_folder: Path, request: pytest.FixtureRequest) -> AsyncIterator[RedisServer]:
    folder = reliability_folder / f"redis-{request.module.__name__.rsplit('.', 1)[-1]}"
    folder.mkdir()
    server = RedisServer(folder)
    try:
        await server.start()
        yield server
    finally:
        await server.close()


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)) as session:
        yield session


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    """A module's bots post here; a test counts the posts made after it began (`slack.posts`)."""
    with FakeSlack() as fake:
        yield fake


def bot_environment(*, database_url: str, redis_url: str, slack_api: str, home: Path) -> dict[str, str]:
    """Ours, without settings that would point the bot elsewhere, plus the tier's servers and fakes. Not
    measured by coverage (`make test` would: subprocesses are): these bots are load, and tracing every
    turn would make the tier much slower for lines the other tiers cover."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("SLACK_", "LLM_", "TEAMS_", "MICROSOFT_", "COVERAGE_", "COV_CORE_"))
        and key.upper() not in {"DATABASE_URL", "REDIS_URL", "SUPPORTBOT_HOME", "PORT", "HOST", "REQUESTS_CA_BUNDLE"}
    }
    return keep | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SUPPORTBOT_HOME": str(home),
        "SLACK_BOT_TOKEN": "xoxb-reliability",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": slack_api,
        "SLACK_STAFF_CHANNEL": STAFF_CHANNEL,
        "TURN_LEASE": "3",  # a SIGKILLed worker's turns run again 3 s after its last heartbeat
        "SHUTDOWN_GRACE": "10",
        "HF_HUB_OFFLINE": "1",
        "NO_COLOR": "1",
    }


class Fleet:
    """The `supportbot run` processes of a module; `close()` stops any still running."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.bots: list[BotProcess] = []
        folder.mkdir(parents=True, exist_ok=True)

    async def start(self, name: str, http: aiohttp.ClientSession) -> BotProcess:
        """A new `supportbot run`, once its /healthz says it is ready."""
        bot = BotProcess(self.env, name=name, folder=self.folder)
        self.bots.append(bot)
        await bot.start()
        await bot.healthy(http)
        return bot

    async def close(self) -> None:
        await asyncio.gather(*(bot.close() for bot in self.bots))

    def running(self) -> BotProcess | None:
        """The newest bot still running, if any (a module's tests hand it on to save a start-up)."""
        alive = [bot for bot in self.bots if bot.process is not None and bot.process.returncode is None]
        return alive[-1] if alive else None


@asynccontextmanager
async def open_fleet(
    db: EmbeddedPostgres, redis: RedisServer, fake: FakeSlack, folder: Path, *, extra: dict[str, str] | None = None
) -> AsyncIterator[Fleet]:
    """Bots against these servers; every one stopped on the way out, whatever happened."""
    env = bot_environment(database_url=db.url, redis_url=redis.url, slack_api=fake.base_url, home=folder / "home")
    fleet = Fleet(env | (extra or {}), folder)
    try:
        yield fleet
    finally:
        await fleet.close()


@pytest.fixture(scope="module")
async def fleet(
    tier_db: EmbeddedPostgres,
    redis_server: RedisServer,
    fake_slack: FakeSlack,
    reliability_folder: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Fleet]:
    """A module's bots (a test may hand its last one to the next test: each start costs seconds)."""
    folder = reliability_folder / request.module.__name__.rsplit(".", 1)[-1]
    async with open_fleet(tier_db, redis_server, fake_slack, folder) as opened:
        yield opened


@pytest.fixture(scope="session")
def connector(reliability_folder: Path) -> Iterator[FakeBotConnector]:
    """The Bot Connector of the Teams modules, with its login service: authentication on both ways."""
    fake = FakeBotConnector().start()
    fake.jwks[:] = teams.jwks()
    fake.members.update(teams.customers())
    fake.serve_login(
        loopback_certificate(reliability_folder / "tls"),
        app_id=teams.APP_ID,
        app_password=teams.APP_PASSWORD,
        scope=teams.SCOPE,
    )
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
async def teams_fleet(
    tier_db: EmbeddedPostgres,
    redis_server: RedisServer,
    fake_slack: FakeSlack,
    connector: FakeBotConnector,
    reliability_folder: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Fleet]:
    """A module's bots with Teams configured (Slack too, as in a deployment serving both)."""
    folder = reliability_folder / request.module.__name__.rsplit(".", 1)[-1]
    extra = teams.bot_environment(connector, reliability_folder / "tls" / "loopback.pem")
    async with open_fleet(tier_db, redis_server, fake_slack, folder, extra=extra) as opened:
        yield opened
