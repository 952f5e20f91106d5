"""The HTTP edge: signatures, malformed bodies, unknown events, url_verification, health, Socket Mode."""

from __future__ import annotations

import json
import time

import pytest
from procrastinate import App
from pydantic import SecretStr

from bot.services import Services
from bot.settings import Settings
from tests.adapter.slack.conftest import serve_slack, slack_settings
from tests.adapter.slack.harness import Rig, event_body, next_ts, signed_headers
from tests.adapter.slack.waiting import thread, until
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.integration


async def test_forged_and_stale_signatures_get_401_and_do_nothing(rig: Rig) -> None:
    before = len(rig.fake.calls)
    body = json.dumps(event_body({"type": "message", "channel": "C0ACME", "user": "U1", "text": "hi", "ts": next_ts()}))
    forged = await rig.client.post(
        "/slack/events", data=body, headers={"Content-Type": "application/json", **signed_headers(body, secret="wrong")}
    )
    stale = await rig.client.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/json", **signed_headers(body, timestamp=int(time.time()) - 3600)},
    )
    unsigned = await rig.client.post("/slack/events", data=body, headers={"Content-Type": "application/json"})
    assert [forged.status, stale.status, unsigned.status] == [401, 401, 401]
    assert len(rig.fake.calls) == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"no_type": 1}', "application/json"),
        ("[1, 2]", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ('payload={"actions": []}', "application/x-www-form-urlencoded"),
        ("hello=world", "application/x-www-form-urlencoded"),
        ("", "application/json"),
    ],
)
async def test_signed_but_malformed_bodies_get_400_not_a_crash(rig: Rig, body: str, content_type: str) -> None:
    response = await rig.client.post(
        "/slack/events", data=body, headers={"Content-Type": content_type, **signed_headers(body)}
    )
    assert response.status == 400
    assert "error" in await response.json()


async def test_unknown_event_types_are_acknowledged_and_ignored(rig: Rig) -> None:
    before = len(rig.fake.calls_to("chat.postMessage"))
    response = await rig.post_json(event_body({"type": "reaction_added", "user": "U1", "reaction": "tada"}))
    assert response.status == 200
    unknown_action = await rig.click("some_other_app_button", "x", user="U0STAFF")
    assert unknown_action.status == 200
    assert len(rig.fake.calls_to("chat.postMessage")) == before


async def test_url_verification_is_answered(rig: Rig) -> None:
    response = await rig.post_json({"type": "url_verification", "challenge": "abc123", "token": "t"})
    assert response.status == 200
    assert "abc123" in await response.text()


async def test_healthz_reports_slack(rig: Rig) -> None:
    body = await (await rig.client.get("/healthz")).json()
    assert {name: body["checks"][name] for name in ("postgres", "redis", "slack")} == dict.fromkeys(
        ("postgres", "redis", "slack"), "ok"
    )
    assert body["ok"] is True


async def test_healthz_says_when_slack_refuses_the_token(prepared: Services, settings: Settings, queue: App) -> None:
    with FakeSlack(valid_tokens={"xoxb-other"}) as fake:
        async with serve_slack(prepared, slack_settings(settings, fake), fake, queue) as rig:
            response = await rig.client.get("/healthz")
            body = await response.json()
    assert response.status == 503 and body["checks"]["slack"] == "error: invalid_auth"


async def test_socket_mode_receives_events_and_acks_them(prepared: Services, settings: Settings, queue: App) -> None:
    with FakeSlack() as fake:
        config = slack_settings(settings, fake, slack_app_token=SecretStr("xapp-test"), slack_signing_secret=None)
        async with serve_slack(prepared, config, fake, queue) as rig:
            assert rig.adapter.socket_mode
            await fake.wait_for_socket_client_async(timeout=10)
            ts = next_ts()
            event = {
                "type": "message",
                "channel": "C0ACME",
                "user": "U0CUST",
                "user_team": "T0ACME",
                "text": "How do I reset my password?",
                "ts": ts,
            }
            received = 'supportbot_events_received_total{platform="slack"}'
            before = await _sample(rig, received)
            envelope_id = fake.socket_send({"type": "events_api", "payload": event_body(event)})
            await fake.wait_for_ack_async(envelope_id, timeout=10)
            [answer] = await thread(rig, "C0ACME", ts, timeout=10)
            assert "password" in answer.params["text"].lower()
            assert await _sample(rig, received) == before + 1  # counted like an event over HTTP
            assert await until(lambda: fake.calls_to("apps.connections.open"))


async def _sample(rig: Rig, line_start: str) -> float:
    text = await (await rig.client.get("/metrics")).text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start))
