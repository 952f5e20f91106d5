"""Signed Slack requests into the real aiohttp app and Bolt, with replies captured by the fake Web API."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient
from psycopg_pool import AsyncConnectionPool
from slack_sdk.signature import SignatureVerifier

from bot.queue.runtime import WORKER
from bot.slack.app import SlackAdapter
from handlers.turns import TurnRunner
from tests.fakes.slack_api import Call, FakeSlack

SECRET = "test-signing-secret"
HOME = "T0HOME"  # the installing team: its members are staff
STAFF_CHANNEL = "C0STAFF"
_ids = itertools.count(1)


def next_ts() -> str:
    return f"{1_800_000_000 + next(_ids)}.000100"


def signed_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


@dataclass
class Rig:
    client: TestClient[Any, Any]
    fake: FakeSlack
    adapter: SlackAdapter
    pool: AsyncConnectionPool[Any]

    @property
    def runner(self) -> TurnRunner:
        worker = self.client.app[WORKER].worker
        assert worker is not None, "no turn worker is running"
        return worker.runner

    async def post_json(self, body: dict[str, Any], **headers: str) -> Any:
        text = json.dumps(body)
        return await self.client.post(
            "/slack/events", data=text, headers={"Content-Type": "application/json", **signed_headers(text), **headers}
        )

    async def post_form(self, fields: dict[str, str]) -> Any:
        text = urlencode(fields)
        return await self.client.post(
            "/slack/events",
            data=text,
            headers={"Content-Type": "application/x-www-form-urlencoded", **signed_headers(text)},
        )

    async def message(
        self,
        text: str,
        *,
        channel: str,
        user: str = "U0CUST",
        team: str = "T0ACME",
        thread_ts: str | None = None,
        event_id: str | None = None,
        retry: int | None = None,
        **extra: Any,
    ) -> tuple[str, Any]:
        """A customer (or staff, with team=HOME) message; returns its ts and the HTTP response."""
        ts = extra.pop("ts", None) or next_ts()
        event = {"type": "message", "channel": channel, "user": user, "user_team": team, "text": text, "ts": ts}
        if thread_ts:
            event["thread_ts"] = thread_ts
        event.update(extra)
        body = event_body(event, event_id=event_id)
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return ts, await self.post_json(body, **headers)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        team: str = HOME,
        channel: str = STAFF_CHANNEL,
        message_ts: str = "1.0",
        thread_ts: str | None = None,
    ) -> Any:
        container = {"type": "message", "channel_id": channel, "message_ts": message_ts}
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": team},
            "team": {"id": HOME},
            "api_app_id": "A0APP",
            "trigger_id": f"trigger-{next(_ids)}",
            "container": container,
            "channel": {"id": channel},
            "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b"}],
        }
        return await self.post_form({"payload": json.dumps(payload)})

    async def submit_view(self, view: dict[str, Any], values: dict[str, str], *, user: str, team: str = HOME) -> Any:
        state = {block: {"value": {"type": "plain_text_input", "value": value}} for block, value in values.items()}
        payload = {
            "type": "view_submission",
            "user": {"id": user, "team_id": team},
            "team": {"id": HOME},
            "api_app_id": "A0APP",
            "view": {**view, "id": "V1", "state": {"values": state}},
        }
        return await self.post_form({"payload": json.dumps(payload)})

    async def command(self, text: str, *, user: str, team: str = HOME, channel: str = "C0ACME") -> Any:
        return await self.post_form(
            {
                "command": "/support",
                "text": text,
                "user_id": user,
                "team_id": team,
                "user_team": team,
                "channel_id": channel,
                "trigger_id": "t",
                "response_url": f"{self.fake.base_url}response",
            }
        )

    def posts_to(self, channel: str) -> list[Call]:
        return [call for call in self.fake.calls_to("chat.postMessage") if call.params.get("channel") == channel]


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": HOME,
        "api_app_id": "A0APP",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": HOME, "user_id": "U0BOT", "is_bot": True}],
        "is_ext_shared_channel": True,
    }


def blocks_text(call: Call) -> str:
    """Every text inside a message's blocks, flattened, for content assertions."""
    raw = call.params.get("blocks")
    blocks = json.loads(raw) if isinstance(raw, str) else raw or []
    return json.dumps(blocks)
