"""The digest's model lines from real decision rows: how many turns went without the model because it was
unreachable or slow (and how often the circuit opened), and a cost per task that says "price unknown" rather
than $0 when a model had no price; a free model (0/0) is $0."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from psycopg.types.json import Jsonb

from bot.services import Services
from bot.slack.digest_render import digest_render as digest_blocks
from bot.teams.digest_render import digest_render as digest_card
from handlers.llm_health import CIRCUIT_OPENED, SKIPPED_CALL
from scheduler.digest.build import DigestSources, build_digest
from scheduler.digest.format import cost_per_task, kpi_lines, model_endpoint
from scheduler.digest.kpis import Kpis
from scheduler.digest.model import MODEL_ERROR
from scheduler.digest.render import render_markdown, render_text
from scheduler.digest.weeks import IsoWeek
from tests.integration.digest_seed import Seeder, empty_tables

pytestmark = pytest.mark.integration
W47 = IsoWeek(2026, 47)
UTC_ZONE = ZoneInfo("UTC")
MONDAY_AFTER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_ids = iter(range(1, 1000))


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, 16, hour, tzinfo=UTC) + timedelta(days=day)


def call(step: str, outcome: str, detail: str | None = None, cost: float | None = 0.0) -> dict[str, Any]:
    return {"step": step, "model": "gpt-test", "outcome": outcome, "detail": detail, "cost_usd": cost}


@pytest.fixture
async def seed(kb: Services) -> AsyncIterator[Seeder]:
    await empty_tables(kb)
    yield Seeder(kb)
    await empty_tables(kb)


async def turn(
    seed: Seeder,
    when: datetime,
    calls: list[dict[str, Any]],
    *,
    cost: float = 0.0,
    cost_unknown: bool = False,
    notes: tuple[str, ...] = (),
) -> str:
    """A customer's question answered by the bot (settled, so the conversation is resolved), with its model calls."""
    number = next(_ids)
    decision = f"dec_model{number:04d}"
    await seed.message(
        f"m:{number}", "globex", when, decision=decision, outcome="answered", route="answer", cost=cost, notes=notes
    )
    async with seed.services.pool.connection() as conn:
        await conn.execute(
            "UPDATE decisions SET model_calls = %s, cost_unknown = %s WHERE id = %s",
            (Jsonb(calls), cost_unknown, decision),
        )
    return decision


async def test_turns_without_the_model_and_circuit_openings_are_counted(seed: Seeder) -> None:
    opened = f"could not connect to the LLM endpoint (1 attempt); {CIRCUIT_OPENED}: the endpoint is skipped for 30 s"
    # W47: 6 turns called the model (or meant to); 3 went without it; the circuit opened once
    await turn(seed, at(0, 9), [call("routing", "ok"), call("drafting", "ok")], cost=0.002)
    await turn(seed, at(0, 10), [call("routing", "ok"), call("drafting", "rejected")], cost=0.003)
    await turn(seed, at(1, 9), [call("routing", "timeout"), call("drafting", "timeout")])
    opening = await turn(
        seed,
        at(1, 10),
        [call("routing", "unavailable"), call("drafting", "unavailable", opened)],
        notes=(f"model draft not used (model error: {opened}); quoted the passages instead",),
    )
    skipped = f"{SKIPPED_CALL}: it failed 3 times in a row, so the circuit is open since 10:00:00 UTC"
    await turn(
        seed,
        at(1, 11),
        [call("routing", "skipped"), call("drafting", "skipped")],
        notes=(f"tool routing failed ({skipped}); the offline router decides",),
    )
    await turn(seed, at(2, 9), [call("routing", "failed", "HTTP 400"), call("drafting", "ok")], cost=0.001)
    await seed.message("m:offline", "globex", at(2, 10), decision="dec_offline", outcome="answered")  # no model
    # W46: 2 turns, none without the model
    await turn(seed, at(-6, 9), [call("routing", "ok")], cost=0.001)
    await turn(seed, at(-5, 9), [call("routing", "ok")], cost=0.001)

    digest = await build_digest(
        DigestSources.build(seed.services.pool, seed.services.escalation, seed.services.store),
        W47,
        zone=UTC_ZONE,
        now=MONDAY_AFTER,
    )
    kpis = digest.kpis
    assert (kpis.model_turns, kpis.offline_turns, kpis.circuit_opened, kpis.cost_unknown) == (6, 3, 1, 0)
    assert (digest.previous.model_turns, digest.previous.offline_turns) == (2, 0)
    expected = "3 of 6 turns answered offline (model unreachable or slow; circuit opened 1×)"
    [line] = [
        line for line in kpi_lines(kpis, digest.previous, minutes_per_ticket=12) if line.label == "Model endpoint"
    ]
    assert (line.value, line.previous, line.change) == (
        expected,
        "0 of 2 turns answered offline (model unreachable or slow)",
        "▲ 3",
    )
    assert expected in render_text(digest) and expected in render_markdown(digest)
    assert expected in json.dumps(digest_blocks(digest), ensure_ascii=False)
    assert expected in json.dumps(digest_card(digest), ensure_ascii=False)
    assert "price unknown" not in render_text(digest)  # every call was priced: the cost is known
    # the failure that opened the circuit is an exception to look at; each skipped turn is only counted above
    assert [item.ref for item in digest.exceptions_of(MODEL_ERROR)] == [opening]


async def test_an_unpriced_model_makes_the_cost_per_task_unknown_not_zero(seed: Seeder) -> None:
    await turn(seed, at(0, 9), [call("drafting", "ok", cost=None)], cost_unknown=True)
    await turn(seed, at(0, 10), [call("drafting", "ok", cost=None)], cost_unknown=True)
    digest = await build_digest(
        DigestSources.build(seed.services.pool, seed.services.escalation, seed.services.store),
        W47,
        zone=UTC_ZONE,
        now=MONDAY_AFTER,
    )
    assert (digest.kpis.cost_usd, digest.kpis.cost_unknown, digest.kpis.resolved) == (0.0, 2, 2)
    [line] = [
        line
        for line in kpi_lines(digest.kpis, digest.previous, minutes_per_ticket=12)
        if line.label == "Cost per completed task"
    ]
    assert (line.value, line.change) == ("price unknown", "")
    assert "$0.00" not in render_text(digest).split("Cost per completed task", 1)[1].splitlines()[0]


def test_cost_per_task_reads_as_known_free_unknown_or_a_lower_bound() -> None:
    assert cost_per_task(Kpis(resolved=4, cost_usd=0.02)) == "$0.0050"
    assert cost_per_task(Kpis(resolved=4, cost_usd=0.0)) == "$0.00"  # a free model (0/0): known to be nothing
    assert cost_per_task(Kpis(resolved=4, cost_usd=0.0, cost_unknown=3)) == "price unknown"
    assert cost_per_task(Kpis(resolved=4, cost_usd=0.02, cost_unknown=1)) == "≥ $0.0050 (some prices unknown)"
    assert cost_per_task(Kpis(resolved=0, cost_unknown=1)) == "—"  # nothing resolved: no per-task figure at all


def test_without_a_model_there_is_no_model_line() -> None:
    assert model_endpoint(Kpis()) == "—"
    labels = [line.label for line in kpi_lines(Kpis(conversations=3), Kpis(), minutes_per_ticket=12)]
    assert "Model endpoint" not in labels
