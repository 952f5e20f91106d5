"""One customer's refund, from the Slack message to the executed action, seen the way an operator sees it: one
trace (the click joined by span links), its id on the decision record, the audit rows and in `explain`, and
the counts it left at `/metrics`, scraped by a real Prometheus server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.demo.backend import DemoBackend
from bot.server import build_app
from bot.services import Services
from bot.storage import open_redis
from escalation.models import ApprovalState
from handlers.decisions import DecisionRecord, DecisionStore
from handlers.explain.chain import DecisionExplainer
from tests.adapter.slack.harness import Rig
from tests.adapter.slack.refunds import refund_card
from tests.adapter.slack.waiting import until
from tests.fakes.spans import recorded_spans

pytestmark = pytest.mark.integration
APPROVER = "U0LEAD"
# what one refund asked for over two messages and approved with a click leaves in its trace, in order
CHAIN = (
    "slack receive",
    "queue wait",
    "turn",
    "route",
    "execute_tool refund",
    "policy evaluation",
    "approval request",
    "delivery slack",
    "decision click",
    "execution",
)


@dataclass(frozen=True)
class Refund:
    approval_id: str
    decision: DecisionRecord
    spans: tuple[ReadableSpan, ...]
    before: dict[str, float]  # /metrics samples before the refund

    def in_trace(self) -> list[ReadableSpan]:
        return [span for span in self.spans if trace.format_trace_id(span.context.trace_id) == self.decision.trace_id]

    def named(self, name: str) -> ReadableSpan:
        [found] = [span for span in self.in_trace() if span.name == name]
        return found


async def _samples(client: TestClient[object, object], **headers: str) -> dict[str, float]:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    return _parse(await response.text())


def _parse(text: str) -> dict[str, float]:
    """`name{label="value",…}` → value, labels sorted."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


@pytest.fixture(scope="module")
async def refund(rig: Rig, prepared: Services) -> Refund:
    await DemoBackend(prepared.pool).reset_demo_data()
    before = await _samples(rig.client)
    with recorded_spans() as exporter:
        _, approval_id, _ = await refund_card(rig)
        response = await rig.click("sb:approve", approval_id, user=APPROVER)
        assert response.status == 200
        # the click is handled after its ack: wait for its span to end
        await until(lambda: [span for span in exporter.get_finished_spans() if span.name == "decision click"])
        spans = exporter.get_finished_spans()
    approval = await prepared.escalation.approval(approval_id)
    assert approval is not None and approval.state is ApprovalState.EXECUTED
    decision = await DecisionStore(prepared.pool).for_approval(approval_id)
    assert decision is not None and decision.trace_id is not None
    return Refund(approval_id, decision, tuple(spans), before)


def test_the_refund_is_one_trace_from_the_message_to_the_executed_action(refund: Refund) -> None:
    names = [span.name for span in refund.in_trace()]
    assert set(CHAIN) <= set(names), f"missing from the turn's trace: {set(CHAIN) - set(names)}"
    by_id = {span.context.span_id: span for span in refund.in_trace()}

    def ancestors(span: ReadableSpan) -> list[str]:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span.name)
        return chain

    # the turn continues the request that stored the message, though it ran from the queue
    assert ancestors(refund.named("turn")) == ["slack receive"]
    assert ancestors(refund.named("approval request")) == ["execute_tool refund", "turn", "slack receive"]
    assert ancestors(refund.named("policy evaluation")) == ["execute_tool refund", "turn", "slack receive"]
    # the click that approved it, days later maybe, joins the turn that asked
    assert ancestors(refund.named("execution")) == ["decision click", "turn", "slack receive"]
    execution = refund.named("execution").attributes or {}
    assert execution["supportbot.executor"] == "demo" and execution["supportbot.attempt"] == 1
    assert str(execution["supportbot.idempotency_key"])
    assert refund.named("policy evaluation").attributes["supportbot.policy.rule"]  # type: ignore[index]


def test_the_click_and_the_turn_are_joined_by_span_links(refund: Refund) -> None:
    click = refund.named("decision click")
    [to_click] = click.links
    request_side = next(span for span in refund.spans if span.context.span_id == to_click.context.span_id)
    # in the click's own trace, under the request that brought it
    assert request_side.name == "approval click" and request_side.context.trace_id != click.context.trace_id
    receive = next(span for span in refund.spans if span.context.span_id == request_side.parent.span_id)  # type: ignore[union-attr]
    assert receive.name == "slack receive"
    [back] = request_side.links
    assert trace.format_trace_id(back.context.trace_id) == refund.decision.trace_id
    assert trace.format_span_id(back.context.span_id) == refund.decision.trace_span_id


async def test_the_trace_id_is_on_the_decision_the_audit_rows_and_in_explain(
    refund: Refund, prepared: Services
) -> None:
    rows = await prepared.escalation.audit.events(subject=("approval", refund.approval_id))
    assert {row.event for row in rows} >= {"approval_requested", "approved", "executed"}
    assert {row.trace_id for row in rows} == {refund.decision.trace_id}
    text = await DecisionExplainer(DecisionStore(prepared.pool), prepared.escalation).explain(refund.decision.id)
    assert f"Trace: {refund.decision.trace_id}" in text.splitlines()[1]


async def test_metrics_count_what_the_refund_did(refund: Refund, rig: Rig) -> None:
    after = await _samples(rig.client)

    def grew(sample: str) -> float:
        return after.get(sample, 0.0) - refund.before.get(sample, 0.0)

    assert grew('supportbot_events_received_total{platform="slack"}') >= 3  # two messages and a click
    assert grew('supportbot_events_acknowledged_total{platform="slack"}') >= 3
    assert grew('supportbot_ack_seconds_count{platform="slack"}') >= 3
    assert grew('supportbot_turn_seconds_count{outcome="proposed",workflow="refund"}') == 1
    assert grew('supportbot_approvals_total{state="requested"}') == 1
    assert grew('supportbot_approvals_total{state="approved"}') == 1
    assert grew('supportbot_approval_turnaround_seconds_count{state="approved"}') == 1
    assert grew('supportbot_executions_total{executor="demo",result="executed"}') == 1
    assert "supportbot_queue_waiting_turns{}" in after and "supportbot_queue_oldest_waiting_seconds{}" in after
    # bounded labels: no user, channel or conversation anywhere
    assert not [name for name in after if "U0" in name or "C0" in name or "msg:" in name]


async def test_metrics_need_the_bearer_token_when_one_is_set(prepared: Services, rig: Rig) -> None:
    config = prepared.settings.model_copy(update={"metrics_token": SecretStr("s3cret")})
    async with (
        open_redis(config) as redis,
        TestClient(TestServer(build_app(replace(prepared, settings=config), redis))) as client,
    ):
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
        assert "supportbot_events_received" in str(await _samples(client, Authorization="Bearer s3cret"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is not installed; `make prometheus` (run by `make test`) installs it in CI")
        pytest.skip("prometheus is not installed (`sudo apt-get install prometheus`, or `make prometheus` as root)")
    return found


@pytest.fixture
def prometheus(prometheus_binary: str, rig: Rig, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus server scraping the bot's /metrics every 200 ms; its HTTP API's base URL."""
    target = f"{rig.client.server.host}:{rig.client.server.port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 200ms, scrape_timeout: 150ms, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: supportbot\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = _free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        process = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


async def _query(session: aiohttp.ClientSession, base: str, query: str) -> list[dict[str, object]]:
    try:
        async with session.get(f"{base}/api/v1/query", params={"query": query}) as response:
            body = await response.json()
    except aiohttp.ClientError:
        return []  # still starting
    return list(body.get("data", {}).get("result", []))


async def test_a_real_prometheus_scrapes_what_the_refund_did(refund: Refund, prometheus: str) -> None:
    query = 'supportbot_executions_total{executor="demo",result="executed"}'
    async with aiohttp.ClientSession() as session:
        found = await until(lambda: _query(session, prometheus, query), timeout=30)
        [series] = found
        assert series["metric"]["job"] == "supportbot"  # type: ignore[index]
        assert float(series["value"][1]) >= 1  # type: ignore[index]
        # and the scrape itself succeeded
        [up] = await _query(session, prometheus, 'up{job="supportbot"}')
        assert up["value"][1] == "1"  # type: ignore[index]
