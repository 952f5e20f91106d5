"""The weekly digest on a seeded week with known answers, scheduled once per slot, across DST, and empty."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from matplotlib.image import imread

from bot.services import Services
from escalation.errors import NotAuthorized
from escalation.models import Actor, Role, Stage
from escalation.stage_change import DEMOTE, PROMOTE, change_stage, digest_button, parse_value
from knowledge.ingest import IngestOptions
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.chart import render_chart
from scheduler.digest.kpis import Kpis
from scheduler.digest.model import FAILED_ACTION, UNCLAIMED_HANDOFF, Digest, StageSuggestion
from scheduler.digest.render import render_text
from scheduler.digest.weeks import IsoWeek
from scheduler.jobs import JobContext
from scheduler.outbox import Outbox
from scheduler.runner import Scheduler, default_jobs, latest_slot
from scheduler.slots import SlotLedger
from tests.integration.digest_seed import Seeder, empty_tables, scenarios_passed
from tests.integration.helpers import write_doc

pytestmark = pytest.mark.integration
W47 = IsoWeek(2026, 47)  # Monday 16 November 2026
UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_AFTER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """`day` 0 is Monday of W47; negative days are the week before."""
    return datetime(2026, 11, 16, hour, minute, second, tzinfo=UTC) + timedelta(days=day)


@pytest.fixture
async def seed(kb: Services) -> AsyncIterator[Seeder]:
    await empty_tables(kb)
    yield Seeder(kb)
    await empty_tables(kb)  # other tests truncate `outbox` alone, which our delivery rows would block


def sources(services: Services) -> DigestSources:
    return DigestSources.build(services.pool, services.escalation, services.store, gaps=services.gaps)


async def seed_previous_week(seed: Seeder) -> None:
    """W46: three conversations, one resolved by the bot, one handed off, one refund approved by a person."""
    await seed.message(
        "s:p1",
        "globex",
        at(-6, 10),
        decision="dec_p1",
        outcome="answered",
        route="answer",
        after=timedelta(minutes=3),
        cost=0.003,
        top=("returns/policy", "Return policy"),
    )
    await seed.message(
        "s:p2",
        "globex",
        at(-6, 11),
        decision="dec_p2",
        outcome="answered",
        route="answer",
        cost=0.003,
        top=("hub/wifi", "Wi-Fi"),
    )
    await seed.handoff(
        "hnd_p2",
        key="s:p2",
        org="globex",
        created=at(-6, 11, 4),
        reason="asked for a person",
        decision_id="dec_p2",
        claimed_at=at(-6, 11, 10),
        state="claimed",
    )
    await seed.message(
        "s:p3",
        "globex",
        at(-5, 9, 55),
        decision="dec_p3",
        outcome="proposed",
        route="refund",
        after=timedelta(minutes=5),
        cost=0.004,
        approval_id="apr_a6",
    )
    await seed.approval(
        "apr_a6",
        workflow="refund",
        org="globex",
        key="s:p3",
        created=at(-5, 10),
        state="rolled_back",
        decision_id="dec_p3",
        decided_by="U-billing",
        decided_at=at(-5, 10, 20),
        executed_at=at(-5, 10, 30),
        rolled_back_at=at(2, 9),
    )  # undone in W47
    await seed.failed_job("digest", at(-7, 9), error="too early: not counted in W47")
    await seed.gap("Do you sell gift cards?", at(-3, 13), reason="no_answer")


async def seed_week(seed: Seeder) -> None:
    await seed_previous_week(seed)
    # c1: answered, helpful → resolved without a human in 60 s
    await seed.message(
        "s:c1",
        "globex",
        at(0, 10),
        decision="dec_c1",
        outcome="answered",
        route="answer",
        cost=0.004,
        top=("returns/policy", "Return policy"),
    )
    await seed.feedback("dec_c1", at(0, 10, 3), helpful=True)
    # c2: the model failed, the answer missed (same document asked about again 8 min later), the second landed
    await seed.message(
        "s:c2",
        "globex",
        at(0, 11),
        decision="dec_c2a",
        outcome="answered",
        route="answer",
        after=timedelta(minutes=2),
        cost=0.006,
        top=("shipping/times", "Shipping times"),
        notes=("model draft not used (model error: timed out); quoted the passages instead",),
    )
    await seed.message(
        "s:c2",
        "globex",
        at(0, 11, 9),
        decision="dec_c2b",
        outcome="answered",
        route="answer",
        cost=0.002,
        top=("shipping/times", "Shipping times"),
    )
    # c3: answered but marked not helpful → unresolved, negative feedback
    await seed.message(
        "s:c3",
        "globex",
        at(0, 12),
        decision="dec_c3",
        outcome="answered",
        route="answer",
        cost=0.003,
        top=("hub/reset", "Resetting the hub"),
        text="How do I factory reset the hub?",
    )
    await seed.feedback("dec_c3", at(0, 12, 5), helpful=False, comment="Steps are for the old hub")
    # c4: refund approved unchanged by a person after 30 min, executed → resolved with a human in 36 min
    await seed.message(
        "s:c4",
        "initech",
        at(1, 9),
        decision="dec_c4",
        outcome="proposed",
        route="refund",
        after=timedelta(minutes=5),
        cost=0.005,
        approval_id="apr_a1",
    )
    await seed.approval(
        "apr_a1",
        workflow="refund",
        org="initech",
        key="s:c4",
        created=at(1, 9, 5),
        state="executed",
        decision_id="dec_c4",
        decided_by="U-billing",
        decided_at=at(1, 9, 35),
        executed_at=at(1, 9, 36),
    )
    # c5: refund approved with changes after 60 min, the action failed → hand-off nobody claimed
    await seed.message(
        "s:c5",
        "initech",
        at(1, 10),
        decision="dec_c5",
        outcome="proposed",
        route="refund",
        after=timedelta(minutes=2),
        cost=0.005,
        approval_id="apr_a2",
    )
    await seed.approval(
        "apr_a2",
        workflow="refund",
        org="initech",
        key="s:c5",
        created=at(1, 10, 2),
        state="failed",
        decision_id="dec_c5",
        decided_by="U-billing",
        decided_at=at(1, 11, 2),
        edited=True,
        updated=at(1, 11, 3),
        last_error="HTTP 502 from the payment provider",
    )
    await seed.handoff(
        "hnd_h5",
        key="s:c5",
        org="initech",
        created=at(1, 11, 3),
        workflow="refund",
        reason="the action failed: HTTP 502 from the payment provider",
        decision_id="dec_c5",
    )
    # c6: asked for a person, claimed, a staff reply, closed an hour after the first message
    await seed.message("s:c6", "globex", at(2, 14), decision="dec_c6", outcome="handed_off", route="talk_to_human")
    await seed.handoff(
        "hnd_h6",
        key="s:c6",
        org="globex",
        created=at(2, 14, 1),
        reason="asked for a person",
        state="closed",
        decision_id="dec_c6",
        claimed_at=at(2, 14, 5),
        closed_at=at(2, 15),
    )
    await seed.staff_turn("s:c6", "globex", at(2, 14, 10), decision="dec_c6s")
    # c7: email change denied by a person after 20 min → unresolved
    await seed.message(
        "s:c7",
        "globex",
        at(2, 16),
        decision="dec_c7",
        outcome="proposed",
        route="change_email",
        cost=0.004,
        approval_id="apr_a3",
    )
    await seed.approval(
        "apr_a3",
        workflow="change_email",
        org="globex",
        key="s:c7",
        created=at(2, 16, 1),
        state="denied",
        decision_id="dec_c7",
        decided_by="U-sec",
        decided_at=at(2, 16, 21),
    )
    # c8: order status acted on by policy in 30 s → resolved without a human
    await seed.message(
        "s:c8",
        "initech",
        at(3, 8),
        decision="dec_c8",
        outcome="acted",
        route="order_status",
        after=timedelta(seconds=30),
        cost=0.001,
        approval_id="apr_a4",
    )
    await seed.approval(
        "apr_a4",
        workflow="order_status",
        org="initech",
        key="s:c8",
        created=at(3, 8, 0, 30),
        state="executed",
        decision_id="dec_c8",
        decided_by="policy:auto",
        decided_at=at(3, 8, 0, 30),
        executed_at=at(3, 8, 0, 30),
    )
    # c9: refund nobody approved in time → expired, hand-off unclaimed
    await seed.message(
        "s:c9",
        "globex",
        at(3, 9),
        decision="dec_c9",
        outcome="proposed",
        route="refund",
        cost=0.005,
        approval_id="apr_a5",
    )
    await seed.approval(
        "apr_a5",
        workflow="refund",
        org="globex",
        key="s:c9",
        created=at(3, 9, 1),
        state="expired",
        decision_id="dec_c9",
        expires=at(4, 9, 1),
        updated=at(4, 9, 5),
    )
    await seed.handoff(
        "hnd_h9",
        key="s:c9",
        org="globex",
        created=at(4, 9, 5),
        workflow="refund",
        reason="approval expired before anyone decided",
        decision_id="dec_c9",
    )
    # c10: the bot crashed → hand-off, claimed but not closed
    await seed.message(
        "s:c10",
        "globex",
        at(4, 10),
        decision="dec_c10",
        outcome="error",
        after=timedelta(seconds=5),
        notes=("error: RuntimeError: boom",),
    )
    await seed.handoff(
        "hnd_h10",
        key="s:c10",
        org="globex",
        created=at(4, 10, 0, 5),
        reason="the bot hit an error",
        state="claimed",
        decision_id="dec_c10",
        claimed_at=at(4, 10, 20),
    )
    await seed.failed_delivery(at(2, 12), text="Reminder: refund waiting", error="channel_not_found")
    await seed.failed_job("knowledge_freshness", at(3, 8), error="OperationalError: server closed the connection")
    for question, day, reason in [
        ("Do you sell gift cards?", 0, "no_answer"),
        ("do you sell gift cards", 1, "low_confidence"),
        ("Do you sell gift cards??", 2, "no_answer"),
        ("Is there a student discount?", 3, "low_confidence"),
        ("How do I factory reset the hub?", 0, "negative_feedback"),  # listed as feedback, not as a gap
        ("Do you sell gift cards?", 8, "no_answer"),  # the week after
    ]:
        await seed.gap(question, at(day, 13), reason=reason)


async def ingest_documents(services: Services, folder: Path) -> None:
    write_doc(
        folder, "old.md", "# Old prices\n\nPlus costs $5.99.\n", owner="billing@acme.example", review_by="2026-01-01"
    )
    write_doc(folder, "orphan.md", "# Orphan\n\nNobody owns this.\n", owner=None, review_by="2099-01-01")
    write_doc(folder, "fresh.md", "# Fresh\n\nAll good.\n", owner="docs@acme.example", review_by="2099-01-01")
    await services.ingestor.ingest([folder], IngestOptions())


async def test_every_kpi_of_a_seeded_week(seed: Seeder, tmp_path: Path) -> None:
    await seed_week(seed)
    await ingest_documents(seed.services, tmp_path)
    digest = await build_digest(sources(seed.services), W47, zone=UTC_ZONE, minutes_per_ticket=12, now=MONDAY_AFTER)

    assert (digest.week, digest.start, digest.end) == ("2026-W47", at(0, 0), at(7, 0))
    assert digest.kpis == Kpis(
        conversations=10,
        resolved=5,  # c1, c2, c4, c6, c8
        resolved_without_human=3,  # c1, c2, c8
        escalated=4,  # c5, c6, c9, c10
        cycle_p50_s=600.0,  # of 30, 60, 600, 2160, 3600 s
        cycle_p90_s=3024.0,  # 2160 + 0.6 × 1440
        answers=4,
        first_pass_answers=2,  # c1 and c2's second answer; c2's first was asked again, c3 got a thumbs down
        approved=1,
        approved_with_changes=1,
        denied=1,
        expired=1,
        auto_approved=1,
        pending=0,
        approval_p50_s=1800.0,  # of 1200, 1800, 3600 s
        approval_p90_s=3240.0,
        failed_actions=1,
        rollbacks=1,  # W46's refund, undone on Wednesday
        decisions=12,
        tokens=3500,
        cost_usd=0.035,
        rework_hours_avoided=0.6,  # 3 × 12 min
    )
    assert (digest.kpis.automation_rate, digest.kpis.escalation_rate, digest.kpis.first_pass_quality) == (0.3, 0.4, 0.5)
    assert digest.kpis.cost_per_task == pytest.approx(0.007)
    previous = digest.previous
    assert (previous.conversations, previous.resolved, previous.resolved_without_human, previous.escalated) == (
        3,
        2,
        1,
        1,
    )
    assert (previous.cycle_p50_s, previous.answers, previous.first_pass_answers, previous.approved) == (1140.0, 2, 1, 1)

    orgs = {row.name: row.kpis for row in digest.by_org}
    assert set(orgs) == {"globex", "initech"}
    assert (orgs["globex"].conversations, orgs["globex"].resolved_without_human, orgs["globex"].escalated) == (7, 2, 3)
    assert (orgs["initech"].conversations, orgs["initech"].resolved, orgs["initech"].failed_actions) == (3, 2, 1)
    workflows = {row.name: row.kpis for row in digest.by_workflow}
    assert set(workflows) == {"answer", "refund", "talk_to_human", "change_email", "order_status"}
    refund = workflows["refund"]
    assert (refund.conversations, refund.escalated, refund.resolved, refund.resolved_without_human) == (3, 2, 1, 0)
    assert (refund.approved, refund.approved_with_changes, refund.expired, refund.failed_actions) == (1, 1, 1, 1)
    assert refund.rollbacks == 1
    assert (workflows["answer"].answers, workflows["answer"].first_pass_answers) == (4, 2)

    assert [(item.kind, item.ref, item.decision_id) for item in digest.exceptions] == [
        ("model_error", "dec_c2a", "dec_c2a"),
        ("failed_action", "apr_a2", "dec_c5"),
        ("unclaimed_handoff", "hnd_h5", "dec_c5"),
        ("failed_delivery", "outbox:1", None),
        ("failed_job", f"knowledge_freshness:{at(3, 8).isoformat()}", None),
        ("expired_approval", "apr_a5", "dec_c9"),
        ("unclaimed_handoff", "hnd_h9", "dec_c9"),
        ("bot_error", "dec_c10", "dec_c10"),
    ]
    assert digest.exceptions_of(FAILED_ACTION)[0].detail == "refund: HTTP 502 from the payment provider"
    assert "model error: timed out" in digest.exceptions[0].detail
    assert [(gap.example, gap.count, gap.reasons) for gap in digest.gaps] == [
        ("Do you sell gift cards?", 3, {"no_answer": 2, "low_confidence": 1}),
        ("Is there a student discount?", 1, {"low_confidence": 1}),
    ]
    [feedback] = digest.negative_feedback
    assert (feedback.decision_id, feedback.question, feedback.comment, feedback.document) == (
        "dec_c3",
        "How do I factory reset the hub?",
        "Steps are for the old hub",
        "Resetting the hub",
    )
    assert sorted((doc.title, doc.owner, doc.stale) for doc in digest.documents) == [
        ("Old prices", "billing@acme.example", True),
        ("Orphan", None, False),
    ]
    assert digest.promotions == ()
    [demote] = digest.demotions
    assert (demote.workflow, demote.stage, demote.target) == ("refund", "approve", "shadow")
    assert demote.reasons[0] == "1 failed action"
    assert [point.week for point in digest.history] == [f"2026-W{week}" for week in range(40, 48)]
    assert [point.conversations for point in digest.history] == [0, 0, 0, 0, 0, 0, 3, 10]

    text = render_text(digest)
    assert "Resolved without a human" in text and "3 (30%)" in text and "▼ 3 pts" in text  # 33% → 30%
    assert "supportbot explain dec_c5" in text
    assert json.loads(json.dumps(digest.to_dict()))["kpis"]["automation_rate"] == 0.3


async def test_scoped_to_one_org(seed: Seeder) -> None:
    await seed_week(seed)
    digest = await build_digest(sources(seed.services), W47, zone=UTC_ZONE, org="initech", now=MONDAY_AFTER)
    assert (digest.kpis.conversations, digest.kpis.resolved, digest.kpis.escalated) == (3, 2, 1)
    assert digest.by_org == ()
    assert {item.kind for item in digest.exceptions} == {FAILED_ACTION, UNCLAIMED_HANDOFF}  # no jobs, no outbox


async def test_an_empty_week_says_so(seed: Seeder) -> None:
    digest = await build_digest(sources(seed.services), W47, zone=UTC_ZONE, now=MONDAY_AFTER)
    assert digest.empty
    assert digest.kpis == Kpis()
    assert (digest.kpis.automation_rate, digest.kpis.cost_per_task, digest.kpis.first_pass_quality) == (
        None,
        None,
        None,
    )
    text = render_text(digest)
    assert "No conversations this week" in text
    assert "No exceptions this week." in text
    png = render_chart(digest)  # all-empty history: no rates, no division, still a chart
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


async def test_a_week_across_the_dst_change_is_counted_in_local_time(seed: Seeder) -> None:
    week = IsoWeek(2026, 43)  # Europe/Berlin leaves summer time on Sunday 25 October
    start, end = week.start(BERLIN), week.end(BERLIN)
    assert start.astimezone(UTC) == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)  # CEST
    assert end.astimezone(UTC) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # CET
    inside = [datetime(2026, 10, 19, 0, 30, tzinfo=BERLIN), datetime(2026, 10, 25, 23, 30, tzinfo=BERLIN)]
    outside = [datetime(2026, 10, 18, 23, 30, tzinfo=BERLIN), datetime(2026, 10, 26, 0, 30, tzinfo=BERLIN)]
    for number, moment in enumerate(inside + outside):
        await seed.message(
            f"s:dst{number}",
            "globex",
            moment,
            decision=f"dec_dst{number}",
            outcome="answered",
            route="answer",
            after=timedelta(minutes=1),
        )
    digest = await build_digest(sources(seed.services), week, zone=BERLIN, now=datetime(2026, 10, 26, 9, tzinfo=BERLIN))
    assert digest.end.astimezone(UTC) - digest.start.astimezone(UTC) == timedelta(days=7, hours=1)
    assert (digest.kpis.conversations, digest.kpis.resolved_without_human) == (2, 2)
    assert digest.previous.conversations == 1 and digest.history[-1].conversations == 2
    in_utc = await build_digest(sources(seed.services), week, zone=UTC_ZONE, now=datetime(2026, 10, 26, 9, tzinfo=UTC))
    # UTC weeks would count other conversations: Monday 00:30 CEST falls in the week before
    assert (in_utc.kpis.conversations, in_utc.previous.conversations) == (2, 2)


async def test_promotion_after_two_stable_weeks_and_the_buttons_change_the_stage(seed: Seeder) -> None:
    for week_start in (at(-7, 0), at(0, 0)):
        for number in range(10):
            created = week_start + timedelta(days=1, minutes=10 * number)
            await seed.approval(
                f"apr_{week_start:%d}_{number}",
                workflow="refund",
                org="globex",
                key=None,
                created=created,
                state="executed",
                decided_by="U-billing",
                decided_at=created + timedelta(minutes=5),
                executed_at=created + timedelta(minutes=6),
            )
    await scenarios_passed(seed.services, "refund")  # promotion also needs the workflow's scenarios to pass
    digest = await build_digest(sources(seed.services), W47, zone=UTC_ZONE, now=MONDAY_AFTER)
    assert [(s.workflow, s.stage, s.target) for s in digest.promotions] == [("refund", "approve", "auto")]
    assert digest.promotions[0].action_value == {"workflow": "refund", "stage": "auto", "org": None}

    autonomy = seed.services.escalation.autonomy
    workflow, stage, org = parse_value(json.dumps(digest.promotions[0].action_value))
    with pytest.raises(NotAuthorized, match="Only team leads"):
        await change_stage(autonomy, Actor("U-agent", Role.STAFF), verb=PROMOTE, workflow=workflow, stage=stage)
    lead = Actor("U-lead", Role.LEAD, display_name="Lena Lead")
    done = await change_stage(autonomy, lead, verb=PROMOTE, workflow=workflow, stage=stage, org=org)
    assert (done.changed, done.message) == (True, "Lena Lead moved refund from approve to auto.")
    stale = await change_stage(autonomy, lead, verb=PROMOTE, workflow=workflow, stage=stage)
    assert (stale.changed, stale.message) == (False, "refund is already at auto; nothing changed.")
    back = await change_stage(autonomy, lead, verb=DEMOTE, workflow="refund", stage=Stage.APPROVE)
    assert back.changed and await autonomy.stage("refund") is Stage.APPROVE
    # what the adapters call: the direction follows from the stage now; a two-step jump is a stale button
    two_steps = '{"workflow": "refund", "stage": "shadow", "org": null}'
    await change_stage(autonomy, lead, verb=PROMOTE, workflow="refund", stage=Stage.AUTO)
    assert await digest_button(autonomy, lead, two_steps) == (
        "refund is at auto now, so this button (to shadow) is out of date; nothing changed."
    )
    assert await digest_button(autonomy, lead, {"workflow": "refund", "stage": "approve", "org": "globex"}) == (
        "Lena Lead moved refund from auto to approve."
    )
    events = await seed.services.escalation.audit.events(workflow="refund")
    assert [(e.event, e.actor, e.after) for e in events] == [
        ("autonomy_changed", "U-lead", {"stage": "auto"}),
        ("autonomy_changed", "U-lead", {"stage": "approve"}),
        ("autonomy_changed", "U-lead", {"stage": "auto"}),
        ("autonomy_changed", "U-lead", {"stage": "approve"}),
    ]
    assert events[0].detail["reason"] == "promoted from the weekly digest"
    assert events[-1].detail["reason"] == "demoted from the weekly digest (globex)"


class RecordingPublisher:
    platform = "slack"

    def __init__(self) -> None:
        self.posted: list[tuple[str, int]] = []

    async def publish(self, digest: Digest, *, chart_png: bytes | None) -> str:
        await asyncio.sleep(0.05)  # long enough for racing replicas to overlap
        self.posted.append((digest.week, len(chart_png or b"")))
        return "1700000000.000100"


def digest_replica(ctx: JobContext, services: Services, name: str, now: datetime) -> Scheduler:
    specs = [spec for spec in default_jobs(BERLIN, digest_schedule="mon 09:00") if spec.id == "digest"]
    return Scheduler(specs, ctx, SlotLedger(services.pool), zone=BERLIN, owner=name, clock=lambda: now)


async def outbox_digests(services: Services) -> list[dict[str, object]]:
    async with services.pool.connection() as conn:
        rows = await (
            await conn.execute("SELECT payload, delivered_at IS NOT NULL FROM outbox WHERE kind = 'digest' ORDER BY id")
        ).fetchall()
    return [{"payload": row[0], "posted": row[1]} for row in rows]


async def test_two_schedulers_post_one_digest(seed: Seeder) -> None:
    services = seed.services
    await seed.message(
        "s:c1",
        "globex",
        datetime(2026, 11, 18, 10, tzinfo=BERLIN),
        decision="dec_c1",
        outcome="answered",
        route="answer",
    )
    publisher = RecordingPublisher()
    ctx = JobContext(
        services.escalation,
        services.store,
        Outbox(services.pool),
        pool=services.pool,
        gaps=services.gaps,
        publishers=(publisher,),
        zone=BERLIN,
    )
    now = datetime(2026, 11, 23, 9, 0, 5, tzinfo=BERLIN)
    slot = datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)
    a, b = digest_replica(ctx, services, "a", now), digest_replica(ctx, services, "b", now)
    results = await asyncio.gather(a.run_slot("digest", slot), b.run_slot("digest", slot))
    assert sorted(result or "" for result in results) == ["", "2026-W47: 1 conversation; posted to slack"]
    [(week, chart_bytes)] = publisher.posted
    assert week == "2026-W47" and chart_bytes > 10_000
    [kept] = await outbox_digests(services)
    assert kept["posted"] is True


async def test_a_missed_monday_is_caught_up_once_without_a_publisher(seed: Seeder) -> None:
    services = seed.services
    await seed.failed_job("approvals", datetime(2026, 11, 20, 10, tzinfo=BERLIN), error="RuntimeError: db down")
    ctx = JobContext(services.escalation, services.store, Outbox(services.pool), pool=services.pool, zone=BERLIN)
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=BERLIN)
    assert latest_slot(default_jobs(BERLIN)[-1].trigger, wednesday, lookback=timedelta(days=6)) == datetime(
        2026, 11, 23, 9, 0, tzinfo=BERLIN
    )
    assert await digest_replica(ctx, services, "a", wednesday).catch_up() == [
        ("digest", datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN))
    ]
    assert await digest_replica(ctx, services, "b", wednesday).catch_up() == []
    [kept] = await outbox_digests(services)
    payload = kept["payload"]
    assert isinstance(payload, dict) and kept["posted"] is False  # nobody posted it: left for the outbox drains
    assert payload["digest"]["week"] == "2026-W47" and payload["digest"]["empty"] is True
    assert [item["kind"] for item in payload["digest"]["exceptions"]] == ["failed_job"]  # listed in the next digest
    [run] = await SlotLedger(services.pool).runs(job="digest")
    assert run.summary == "2026-W47: 0 conversations; kept in the outbox (no chat platform configured)"


def test_the_chart_is_a_readable_png() -> None:
    from scheduler.digest.model import WeekPoint

    history = tuple(WeekPoint(f"2026-W{40 + i}", 10 * i, None if i == 0 else 0.5 + i / 40, 0.2, 0.8) for i in range(8))
    digest = Digest("2026-W47", at(0, 0), at(7, 0), "UTC", None, MONDAY_AFTER, 12, Kpis(), Kpis(), history=history)
    png = render_chart(digest)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(io.BytesIO(png), format="png")
    assert image.shape[:2] == (500, 1000)


def test_a_stage_suggestion_carries_what_the_button_needs() -> None:
    suggestion = StageSuggestion("refund", "approve", "shadow", ("1 failed action",), "globex")
    assert parse_value(json.dumps(suggestion.action_value)) == ("refund", Stage.SHADOW, "globex")
