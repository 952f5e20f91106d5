"""`/api/messages` at the edge: bad tokens are 401 (never 500) with authentication on; malformed input is 4xx."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from procrastinate import App
from pydantic import SecretStr

from bot.queue.runtime import mount_worker
from bot.server import build_app
from bot.services import Services
from bot.settings import Settings
from bot.storage import open_redis
from bot.teams import mount_teams
from handlers.core import Core
from tests.adapter.teams.conftest import CASEY, Teams
from tests.conftest import own_queue, turns_finished
from tests.fakes.bot_connector import FakeBotConnector

pytestmark = pytest.mark.integration
APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


TRUSTED, STRANGER = _key(), _key()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def token(key: rsa.RSAPrivateKey, *, kid: str = "trusted", service_url: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "exp": now + 600, **claims}
    return jwt.encode(body, _pem(key), algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def secured(
    services: Services, core: Core, settings: Settings, connector: FakeBotConnector, queue: App
) -> AsyncIterator[Teams]:
    jwk = json.loads(RSAAlgorithm.to_jwk(TRUSTED.public_key()))
    connector.jwks[:] = [{**jwk, "kid": "trusted", "use": "sig", "endorsements": ["msteams"]}]
    config = settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr("not-used"),
            "teams_service_url": connector.url,
        }
    )
    config, worker = own_queue(config)
    async with open_redis(services.settings) as redis:
        app = build_app(services, redis)
        mount_teams(
            app,
            services,
            redis,
            core=core,
            settings=config,
            drain=False,
            # the real validation path, with OpenID metadata and keys served by the fake connector
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=connector.metadata_url,
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=ISSUER,
            TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=ISSUER,
            TO_CHANNEL_FROM_BOT_LOGIN_URL="https://login.microsoftonline.com/botframework.com",
        )
        mount_worker(app, services, core, queue, config=worker)
        async with TestClient(TestServer(app)) as client:
            yield Teams(client, connector, services.pool)


async def test_bad_tokens_are_refused_with_401(secured: Teams) -> None:
    url = secured.connector.url
    message = secured.activity("message", CASEY, conversation="a:auth", text="How do I reset my password?")
    sent_before = len(secured.connector.sent)
    refused = {
        "no header": None,
        "garbage": "Bearer garbage",
        "not a bearer": "Basic dXNlcjpwYXNz",
        "signed by an unknown key": "Bearer " + token(STRANGER, kid="stranger", service_url=url),
        "known kid, wrong signature": "Bearer " + token(STRANGER, service_url=url),
        "wrong audience": "Bearer " + token(TRUSTED, service_url=url, aud="someone-else"),
        "expired": "Bearer " + token(TRUSTED, service_url=url, exp=int(time.time()) - 3600),
        "another service url": "Bearer " + token(TRUSTED, service_url="https://evil.example/"),
    }
    for case, header in refused.items():
        response = await secured.post(message, **({"Authorization": header} if header else {}))
        assert response.status == 401, case
        assert await response.json() == {"error": "unauthorized"}
    assert len(secured.connector.sent) == sent_before  # nothing was processed

    # the same path accepts a good token (a reaction: accepted, nothing to send)
    reaction = secured.activity("messageReaction", CASEY, conversation="a:auth")
    accepted = await secured.post(reaction, Authorization="Bearer " + token(TRUSTED, service_url=url))
    assert accepted.status == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"text": "no type"}', "application/json", 400),
        (b'{"type": "message", "from": "not an object"}', "application/json", 400),
        (b'{"type": "message", "text": "hi"}', "text/plain", 415),
    ],
)
async def test_malformed_bodies_are_4xx(teams: Teams, body: bytes, content_type: str, status: int) -> None:
    response = await teams.client.post("/api/messages", data=body, headers={"Content-Type": content_type})
    assert response.status == status


async def test_activities_missing_what_a_reply_needs_are_400(teams: Teams) -> None:
    base = teams.activity("message", CASEY, conversation="a:malformed", text="hello")
    for field in ("conversation", "from", "serviceUrl", "id"):
        broken = {k: v for k, v in base.items() if k != field}
        response = await teams.post(broken)
        assert response.status == 400, field
    assert teams.connector.posted("a:malformed") == []


async def test_malformed_invokes_get_an_error_response_not_a_500(teams: Teams) -> None:
    for value in ("just a string", {"action": "not an object"}, {"action": {"type": "Action.Execute"}}):
        body = teams.activity("invoke", CASEY, conversation="a:inv", name="adaptiveCard/action", value=value)
        response = await teams.post(body)
        assert response.status == 400
        assert (await response.json())["type"] == "application/vnd.microsoft.error"
    unknown = await teams.click(CASEY, "launch_rockets", {"x": 1}, conversation="a:inv")
    assert unknown["statusCode"] == 400 and "not understood" in unknown["value"]["message"]
    stale = await teams.click(CASEY, "approve", {"approval": "apr_does_not_exist"}, conversation="a:inv")
    assert stale["value"] == "There is no approval apr_does_not_exist."


async def test_deeply_nested_json_is_a_400_not_a_500(teams: Teams) -> None:
    body = '{"type": "message", "value": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = await teams.client.post("/api/messages", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400


async def test_text_postgresql_cannot_store_is_cleaned_and_the_message_answered(teams: Teams) -> None:
    chat = "a:unstorable"
    activity = teams.activity("message", CASEY, conversation=chat, text="TEXT")
    body = json.dumps(activity).replace('"TEXT"', '"How do I reset my\\u0000 password? \\ud800"')
    response = await teams.client.post("/api/messages", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 202
    await turns_finished(teams.pool)
    [reply] = teams.connector.posted(chat)
    assert "password" in (reply.card_text() + (reply.text or "")).lower()


async def test_a_redelivered_activity_is_answered_once_even_after_redis_forgot_it(
    teams: Teams, services: Services
) -> None:
    chat = "a:redelivered"
    activity = teams.activity("message", CASEY, conversation=chat, text="How do I reset my password?")
    assert (await teams.post(activity)).status == 202
    async with open_redis(services.settings) as redis:
        await redis.flushall()
    assert (await teams.post(activity)).status == 202
    assert len(teams.connector.posted(chat)) == 1
