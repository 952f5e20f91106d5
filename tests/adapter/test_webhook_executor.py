"""The webhook executor against a local receiving server over real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from escalation import webhook
from escalation.errors import ExecutionFailed, UnknownAction
from escalation.executors import ActionRequest, Executor
from escalation.webhook import WebhookExecutor, sign, verify
from tests.fakes.webhook_server import SECRET, FakeWebhook, Reply

ACTIONS = frozenset({"refund", "cancel_order"})
REQUEST = ActionRequest(
    action="refund",
    params={"order_id": "A-1001", "amount": "40.00", "currency": "USD"},
    idempotency_key="appr-42:refund",
    org="acme",
    approval_id="appr-42",
)

MakeExecutor = Callable[..., WebhookExecutor]


@pytest.fixture
def fake() -> Iterator[FakeWebhook]:
    server = FakeWebhook().start()
    yield server
    server.stop()


@pytest.fixture
async def make_executor(fake: FakeWebhook) -> AsyncIterator[MakeExecutor]:
    made: list[WebhookExecutor] = []

    def make(**overrides: Any) -> WebhookExecutor:
        options: dict[str, Any] = {
            "url": fake.url,
            "secret": SECRET,
            "actions": ACTIONS,
            "timeout": 2.0,
            "max_attempts": 4,
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
        }
        options.update(overrides)
        executor = WebhookExecutor(**options)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        await executor.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_success_first_time_sends_a_signed_payload_and_parses_the_result(
    fake: FakeWebhook, make_executor: MakeExecutor
) -> None:
    executor = make_executor()
    before = time.time()
    result = await executor.execute(REQUEST)

    assert result.summary == "refunded 40.00"
    assert result.reverse_params == {"refund_id": "re_0", "amount": "40.00"}
    assert result.data == {"refund_id": "re_0", "action": "refund"}
    assert result.replayed is False

    assert len(fake.requests) == 1
    received = fake.requests[0]
    payload = received.json()
    assert set(payload) == {"action", "params", "idempotency_key", "org", "approval_id", "sent_at"}
    assert payload["action"] == "refund"
    assert payload["params"] == {"order_id": "A-1001", "amount": "40.00", "currency": "USD"}
    assert payload["idempotency_key"] == "appr-42:refund"
    assert payload["org"] == "acme"
    assert payload["approval_id"] == "appr-42"
    assert payload["sent_at"].endswith("+00:00")

    headers = received.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "appr-42:refund"
    timestamp = int(headers["X-Supportbot-Timestamp"])
    assert before - 1 <= timestamp <= time.time() + 1
    assert headers["X-Supportbot-Signature"] == sign(SECRET, timestamp, received.body)
    assert headers["X-Supportbot-Signature"].startswith("sha256=")
    assert received.signature_ok
    assert verify(
        SECRET, headers["X-Supportbot-Timestamp"], received.body, headers["X-Supportbot-Signature"], now=time.time()
    )
    assert fake.ran == {"appr-42:refund": 1}


async def test_it_satisfies_the_executor_port(make_executor: MakeExecutor) -> None:
    executor: Executor = make_executor()
    assert executor.actions() == frozenset({"refund", "cancel_order"})


async def test_server_errors_are_retried_with_the_same_key_and_body_and_fresh_signatures(
    fake: FakeWebhook, make_executor: MakeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = time.time()
    offsets = itertools.count()
    monkeypatch.setattr(webhook, "_clock", lambda: base + next(offsets))
    fake.respond(500, 500, 200)
    result = await make_executor().execute(REQUEST)

    assert result.summary == "refunded 40.00"
    assert len(fake.requests) == 3
    assert fake.ran == {"appr-42:refund": 1}
    assert fake.distinct_keys == 1
    assert len({r.body for r in fake.requests}) == 1  # byte-identical JSON, sent_at included
    timestamps = [r.headers["X-Supportbot-Timestamp"] for r in fake.requests]
    assert len(set(timestamps)) == 3
    assert len({r.headers["X-Supportbot-Signature"] for r in fake.requests}) == 3
    assert all(r.signature_ok for r in fake.requests)


async def test_429_honours_retry_after(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(Reply(429, headers={"Retry-After": "1"}))
    result = await make_executor(backoff_max=8.0).execute(REQUEST)

    assert result.summary == "refunded 40.00"
    assert len(fake.requests) == 2
    gap = fake.requests[1].at - fake.requests[0].at
    assert 0.9 <= gap < 3.0  # the backoff alone would have been at most 0.01 s
    assert fake.ran == {"appr-42:refund": 1}


async def test_retry_after_is_capped_by_backoff_max(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(Reply(429, headers={"Retry-After": "30"}))
    await make_executor(backoff_max=0.05).execute(REQUEST)

    assert len(fake.requests) == 2
    assert fake.requests[1].at - fake.requests[0].at < 1.0


async def test_a_client_error_is_final_after_one_attempt(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    detail = "order A-1001 is not refundable: " + "x" * 300
    fake.respond(Reply(400, body={"error": detail}))
    with pytest.raises(ExecutionFailed) as caught:
        await make_executor().execute(REQUEST)

    assert caught.value.retryable is False
    message = str(caught.value)
    assert "400" in message
    assert "order A-1001 is not refundable" in message
    assert "x" * 150 in message
    assert "x" * 200 not in message  # only the first 200 characters of the body
    assert len(fake.requests) == 1
    assert fake.ran == {}


async def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried(
    fake: FakeWebhook, make_executor: MakeExecutor
) -> None:
    with pytest.raises(ExecutionFailed, match="401") as caught:
        await make_executor(secret="not-the-secret").execute(REQUEST)

    assert caught.value.retryable is False
    assert "bad signature" in str(caught.value)
    assert [r.signature_ok for r in fake.requests] == [False]
    assert fake.ran == {}


async def test_always_503_fails_retryable_after_max_attempts(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(*[503] * 10)
    with pytest.raises(ExecutionFailed) as caught:
        await make_executor(max_attempts=3).execute(REQUEST)

    assert caught.value.retryable is True
    assert "after 3 attempts" in str(caught.value)
    assert "HTTP 503" in str(caught.value)
    assert len(fake.requests) == 3
    assert fake.ran == {}


async def test_a_slow_server_is_retried_then_fails_retryable(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(Reply(delay=0.6), Reply(delay=0.6))
    started = time.monotonic()
    with pytest.raises(ExecutionFailed) as caught:
        await make_executor(timeout=0.2, max_attempts=2).execute(REQUEST)

    assert time.monotonic() - started < 0.55  # each attempt gave up at its timeout
    assert caught.value.retryable is True
    assert "after 2 attempts" in str(caught.value)
    assert "no answer within 0.2s" in str(caught.value)
    assert len(fake.requests) == 2
    assert fake.distinct_keys == 1
    # the receiver still finishes the first (late) attempt: the key keeps it to a single run
    for _ in range(100):
        if fake.answered == 2:
            break
        await asyncio.sleep(0.02)
    assert fake.answered == 2
    assert fake.ran == {"appr-42:refund": 1}


async def test_a_server_that_is_down_fails_retryable(make_executor: MakeExecutor) -> None:
    executor = make_executor(url=f"http://127.0.0.1:{closed_port()}/hooks", max_attempts=2)
    with pytest.raises(ExecutionFailed) as caught:
        await executor.execute(REQUEST)

    assert caught.value.retryable is True
    assert "after 2 attempts" in str(caught.value)
    assert "ClientConnectorError" in str(caught.value)


async def test_a_repeated_key_is_replayed_and_runs_once(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    executor = make_executor()
    first = await executor.execute(REQUEST)
    second = await executor.execute(REQUEST)

    assert first.replayed is False
    assert second.replayed is True
    assert second.summary == first.summary == "refunded 40.00"
    assert second.reverse_params == first.reverse_params == {"refund_id": "re_0", "amount": "40.00"}
    assert len(fake.requests) == 2
    assert fake.ran == {"appr-42:refund": 1}


async def test_a_missing_summary_defaults_to_action_done(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(Reply(200, body={"data": {"ticket": 7}}), Reply(204, body=b""))
    executor = make_executor()
    result = await executor.execute(REQUEST)
    assert result.summary == "refund done"
    assert result.data == {"ticket": 7}
    assert result.reverse_params is None

    empty = await executor.execute(ActionRequest(action="cancel_order", params={}, idempotency_key="k-2"))
    assert empty.summary == "cancel_order done"
    assert empty.data == {}


@pytest.mark.parametrize("body", ["<html>ok</html>", ["not", "an", "object"], "42"])
async def test_a_non_json_or_non_object_body_is_a_final_failure(
    fake: FakeWebhook, make_executor: MakeExecutor, body: Any
) -> None:
    fake.respond(Reply(200, body=body))
    with pytest.raises(ExecutionFailed, match="non-JSON body") as caught:
        await make_executor().execute(REQUEST)
    assert caught.value.retryable is False
    assert len(fake.requests) == 1


async def test_a_malformed_result_field_is_a_final_failure(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    fake.respond(Reply(200, body={"summary": "ok", "reverse_params": "re_1"}))
    with pytest.raises(ExecutionFailed, match="'reverse_params' is not an object") as caught:
        await make_executor().execute(REQUEST)
    assert caught.value.retryable is False


async def test_an_action_it_does_not_handle_is_refused_without_a_request(
    fake: FakeWebhook, make_executor: MakeExecutor
) -> None:
    with pytest.raises(UnknownAction, match="change_email"):
        await make_executor().execute(ActionRequest(action="change_email", params={}, idempotency_key="k"))
    assert fake.requests == []


async def test_params_that_are_not_json_are_refused_without_a_request(
    fake: FakeWebhook, make_executor: MakeExecutor
) -> None:
    request = ActionRequest(action="refund", params={"amount": Decimal("40.00")}, idempotency_key="k")
    with pytest.raises(ExecutionFailed, match="cannot be sent as JSON") as caught:
        await make_executor().execute(request)
    assert caught.value.retryable is False
    assert fake.requests == []


async def test_one_lazy_session_per_executor_closed_by_close(fake: FakeWebhook, make_executor: MakeExecutor) -> None:
    sessions: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        sessions.append(aiohttp.ClientSession())
        return sessions[-1]

    executor = make_executor(session_factory=factory)
    assert sessions == []
    await executor.execute(REQUEST)
    await executor.execute(ActionRequest(action="cancel_order", params={}, idempotency_key="k-2"))
    assert len(sessions) == 1
    await executor.close()
    assert sessions[0].closed
    assert len(fake.requests) == 2


async def test_logs_name_the_attempts_but_never_the_secret_or_url_token(
    fake: FakeWebhook, make_executor: MakeExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="escalation.webhook")
    fake.respond(500)
    with pytest.raises(ExecutionFailed) as caught:
        await make_executor(url=fake.url + "?token=url-token-123", max_attempts=1).execute(REQUEST)

    assert "after 1 attempts" in str(caught.value)
    text = caplog.text + str(caught.value)
    assert "attempt" in caplog.text
    assert "appr-42:refund" in caplog.text
    assert SECRET not in text
    assert "url-token-123" not in text
    assert fake.requests[0].signature_ok


def test_verify_accepts_our_signature_and_rejects_forgeries() -> None:
    body = b'{"action":"refund","params":{"amount":"40.00"}}'
    now = 1_700_000_000.0
    good = sign(SECRET, 1_700_000_000, body)

    assert good.startswith("sha256=") and len(good) == len("sha256=") + 64
    assert sign(SECRET, "1700000000", body.decode()) == good
    assert verify(SECRET, "1700000000", body, good, now=now)
    assert verify(SECRET, 1_700_000_000, body, good, now=now + 299)

    assert not verify("wrong-secret", "1700000000", body, good, now=now)
    assert not verify(SECRET, "1700000000", body.replace(b"40.00", b"4000.00"), good, now=now)
    assert not verify(SECRET, "1700000001", body, good, now=now)  # the timestamp is signed too
    assert not verify(SECRET, "1700000000", body, good, now=now + 301)  # too old
    assert not verify(SECRET, "1700000000", body, good, now=now - 301)  # too far in the future
    assert not verify(SECRET, "1700000000", body, good, now=now + 61, tolerance=60)
    assert not verify(SECRET, "soon", body, good, now=now)
    assert not verify(SECRET, "1700000000", body, good.removeprefix("sha256="), now=now)
    assert not verify(SECRET, "1700000000", body, "sha256=é" + good[8:], now=now)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookExecutor(url="ftp://example.com/x", secret=SECRET, actions=ACTIONS)
    with pytest.raises(ValueError, match="secret"):
        WebhookExecutor(url="https://example.com/x", secret="", actions=ACTIONS)
    with pytest.raises(ValueError, match="max_attempts"):
        WebhookExecutor(url="https://example.com/x", secret=SECRET, actions=ACTIONS, max_attempts=0)
    assert SECRET not in repr(WebhookExecutor(url="https://example.com/x", secret=SECRET, actions=ACTIONS))
