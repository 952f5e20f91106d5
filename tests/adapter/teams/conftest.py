"""Teams adapter fixtures: the real aiohttp app with `CloudAdapter` (authentication off), a fake Bot Connector
as every activity's `serviceUrl`, the Acme knowledge base, and tenants bound to orgs."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from procrastinate import App

from bot.channels import ChannelStore
from bot.core_factory import build_core
from bot.queue.runtime import mount_worker
from bot.server import build_app
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_redis
from bot.teams import TEAMS, TeamsRuntime, mount_teams
from handlers.core import Core
from knowledge.ingest import IngestOptions
from tests.conftest import empty_queue, own_queue, turns_finished
from tests.fakes.bot_connector import FakeBotConnector

REPO = Path(__file__).resolve().parents[3]
STAFF_TENANT = "tenant-acme-staff"
INITECH_TENANT = "tenant-initech"
GLOBEX_TENANT = "tenant-globex"
UNBOUND_TENANT = "tenant-nobody"
STAFF_CHANNEL = "19:staff@thread.tacv2"
BOT_ID = "28:supportbot"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def teams_settings(settings: Settings, connector: FakeBotConnector) -> Settings:
    return settings.model_copy(
        update={
            "teams_service_url": connector.url,
            "teams_staff_conversation": STAFF_CHANNEL,
            "microsoft_app_tenant_id": STAFF_TENANT,
            "teams_groups": "support-leads=aad-lena,billing=aad-bea",
        }
    )


@pytest.fixture(scope="module")
async def core(services: Services) -> Core:
    await services.ingestor.ingest([REPO / "examples" / "acme"], IngestOptions())
    async with services.pool.connection() as conn:
        await conn.execute("TRUNCATE approvals, handoffs, autonomy_stages, policy_switches CASCADE")
    channels = ChannelStore(services.pool)
    await channels.bind("teams", INITECH_TENANT, "initech", bound_by="test")
    await channels.bind("teams", GLOBEX_TENANT, "globex", bound_by="test")
    await empty_queue(services)
    return await build_core(services)


@dataclass(frozen=True)
class Person:
    user_id: str
    aad: str
    name: str
    tenant: str

    def account(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "aadObjectId": self.aad}


CASEY = Person("29:casey", "aad-casey", "Casey Customer", INITECH_TENANT)
GINA = Person("29:gina", "aad-gina", "Gina Globex", GLOBEX_TENANT)
NOBODY = Person("29:nobody", "aad-nobody", "Nora Unbound", UNBOUND_TENANT)
BEA = Person("29:bea", "aad-bea", "Bea Billing", STAFF_TENANT)  # in the billing group: may approve refunds
LENA = Person("29:lena", "aad-lena", "Lena Lead", STAFF_TENANT)  # support-leads (LEAD_GROUP): a lead, may approve
SAM = Person("29:sam", "aad-sam", "Sam Staff", STAFF_TENANT)  # staff, in no approver group
# an initech user who is a guest in the staff tenant: writes from there, but the connector says initech is home
GUEST = Person("29:guest", "aad-guest", "Gus Guest", STAFF_TENANT)


class Teams:
    """Posts activities to `/api/messages` as Teams would, and waits for the bot to finish."""

    def __init__(self, client: TestClient, connector: FakeBotConnector, pool: Any) -> None:  # type: ignore[type-arg]
        self.client, self.connector, self.pool = client, connector, pool

    @property
    def runtime(self) -> TeamsRuntime:
        runtime = self.client.app[TEAMS].runtime
        assert runtime is not None
        return runtime

    def activity(
        self,
        kind: str,
        who: Person,
        *,
        conversation: str,
        conversation_type: str = "personal",
        tenant: str | None = None,
        activity_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        tenant = tenant or who.tenant
        return {
            "type": kind,
            "id": activity_id or f"in-{next(_ids)}",
            "timestamp": datetime.now(UTC).isoformat(),
            "serviceUrl": self.connector.url,
            "channelId": "msteams",
            "from": who.account(),
            "recipient": {"id": BOT_ID, "name": "Supportbot"},
            "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}},
            **fields,
        }

    async def post(self, body: Any, **headers: str) -> Any:
        response = await self.client.post("/api/messages", json=body, headers=headers)
        await turns_finished(self.pool)
        return response

    async def say(self, who: Person, text: str, *, conversation: str, mention: bool = False, **kw: Any) -> int:
        fields: dict[str, Any] = {"text": text}
        if mention:
            fields["text"] = f"<at>Supportbot</at> {text}"
            fields["entities"] = [
                {"type": "mention", "text": "<at>Supportbot</at>", "mentioned": {"id": BOT_ID, "name": "Supportbot"}}
            ]
        response = await self.post(self.activity("message", who, conversation=conversation, **fields, **kw))
        return int(response.status)

    async def click(
        self, who: Person, verb: str, data: dict[str, Any], *, conversation: str, activity_id: str | None = None
    ) -> dict[str, Any]:
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        body = self.activity(
            "invoke", who, conversation=conversation, activity_id=activity_id, name="adaptiveCard/action", value=value
        )
        response = await self.post(body)
        assert response.status == 200, await response.text()
        return dict(await response.json())


@pytest.fixture
async def teams(
    services: Services, core: Core, teams_settings: Settings, connector: FakeBotConnector, queue: App
) -> AsyncIterator[Teams]:
    for person in (CASEY, GINA, NOBODY, BEA, SAM, LENA):
        connector.members[person.user_id] = {**person.account(), "tenantId": person.tenant}
    connector.members[GUEST.user_id] = {**GUEST.account(), "tenantId": INITECH_TENANT}
    async with open_redis(services.settings) as redis:
        app = build_app(services, redis)
        config, worker = own_queue(teams_settings)
        mount_teams(app, services, redis, core=core, settings=config, drain=False)
        mount_worker(app, services, core, queue, config=worker)
        async with TestClient(TestServer(app)) as client:
            yield Teams(client, connector, services.pool)
