"""The weekly digest in Slack: Block Kit in the digest channel, the chart uploaded, Promote/Demote for leads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services import Services
from bot.slack.app import make_client
from bot.slack.digest import SlackDigestPublisher
from escalation.models import Actor, Role, Stage
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.chart import render_chart
from scheduler.digest.weeks import last_complete_week
from tests.adapter.slack.conftest import slack_settings
from tests.adapter.slack.harness import Rig
from tests.adapter.slack.waiting import until
from tests.integration.digest_seed import scenarios_passed

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n"


async def test_the_digest_is_posted_with_its_chart(rig: Rig, prepared: Services) -> None:
    now = datetime.now(UTC)
    sources = DigestSources.build(prepared.pool, prepared.escalation, prepared.store, gaps=prepared.gaps)
    digest = await build_digest(
        sources, last_complete_week(now, ZoneInfo("UTC")), zone=ZoneInfo("UTC"), minutes_per_ticket=12, now=now
    )
    client = make_client(slack_settings(prepared.settings, rig.fake))
    publisher = SlackDigestPublisher(client, channel="C0DIGEST")
    ts = await publisher.publish(digest, chart_png=render_chart(digest))
    [post] = [c for c in rig.fake.calls_to("chat.postMessage") if c.params.get("channel") == "C0DIGEST"]
    assert post.params["text"] == digest.title and ts
    blocks = json.dumps(post.params["blocks"])
    assert digest.week in blocks
    [done] = rig.fake.calls_to("files.completeUploadExternal")[-1:]
    assert done.params["channel_id"] == "C0DIGEST" and done.params["thread_ts"] == ts
    [uploaded] = [data for data in rig.fake.uploads.values() if data.startswith(PNG)][-1:]
    assert len(uploaded) > 10_000  # a real chart, not a placeholder


async def test_promote_and_demote_from_the_digest_are_for_leads_only(rig: Rig, prepared: Services) -> None:
    autonomy = prepared.escalation.autonomy
    await autonomy.set_stage("cancel_order", Stage.APPROVE, by=Actor("test", Role.LEAD), reason="test set-up")
    value = json.dumps({"workflow": "cancel_order", "stage": "auto", "org": None})
    before = len(rig.fake.calls_to("chat.postEphemeral"))
    await rig.click("digest_promote", value, user="U0STAFF", channel="C0DIGEST")
    refused = (await rig.fake.wait_for_async("chat.postEphemeral", count=before + 1))[-1]
    assert refused.params["user"] == "U0STAFF" and "lead" in refused.params["text"].lower()
    assert await autonomy.stage("cancel_order") is Stage.APPROVE

    await scenarios_passed(prepared, "cancel_order")  # promotion needs the workflow's scenarios to pass (issue 16)
    await rig.click("digest_promote", value, user="U0LEAD", channel="C0DIGEST")
    assert await until(lambda: _is_auto(prepared))
    demote = json.dumps({"workflow": "cancel_order", "stage": "approve", "org": None})
    await rig.click("digest_demote", demote, user="U0LEAD", channel="C0DIGEST")
    assert await until(lambda: _is_approve(prepared))
    events = await prepared.escalation.audit.events(workflow="cancel_order")
    assert [e.actor for e in events if e.event.startswith("autonomy")][-2:] == ["U0LEAD", "U0LEAD"]


async def _is_auto(services: Services) -> bool:
    return await services.escalation.autonomy.stage("cancel_order") is Stage.AUTO


async def _is_approve(services: Services) -> bool:
    return await services.escalation.autonomy.stage("cancel_order") is Stage.APPROVE
