"""A generic HTTP webhook executor: approved actions are POSTed, signed, to a URL you run.

The request
-----------
``POST <url>`` with a JSON object body::

    {"action": "refund", "params": {...}, "idempotency_key": "...",
     "org": "acme" | null, "approval_id": "..." | null, "sent_at": "2025-01-31T12:00:00+00:00"}

and the headers::

    Content-Type: application/json
    Idempotency-Key: <the request's idempotency key>
    X-Supportbot-Timestamp: <unix seconds, an integer>
    X-Supportbot-Signature: sha256=<hex HMAC-SHA256>

Every retry of one ``execute`` call sends the same body byte for byte (``sent_at`` included)
and the same ``Idempotency-Key``; only the timestamp and the signature are fresh per attempt.

Dry runs (``supportbot doctor --drill``)
----------------------------------------
A drill sends each action, then its rollback, with ``"dry_run": true`` in the (signed) body and the
header ``X-Supportbot-Dry-Run: true``. Trust the body field, not the header (headers are not signed).
A back end that honours it validates the request as usual, performs nothing, stores nothing under the
idempotency key, and answers as it would have, ``reverse_params`` included, so the rollback can be
drilled too. A back end that does not know the flag would act for real: do not drill against it.

Verifying the signature (receivers)
-----------------------------------
The signature is HMAC-SHA256, keyed with the shared secret (UTF-8), over the bytes
``f"{timestamp}."`` followed by the raw request body exactly as received (do not re-serialise
the JSON), written as ``"sha256=" + lowercase hex``. A receiver should:

1. read the raw body and the two headers;
2. recompute the signature and compare it in constant time (``hmac.compare_digest``);
3. reject timestamps more than a few minutes away from its own clock (replay protection);
4. treat ``Idempotency-Key`` as the identity of the action: a key it has already completed
   must not run again, and should answer with the stored result and ``"replayed": true``.

``verify()`` below does steps 2 and 3; a Python receiver may simply import it.

The answer
----------
Any 2xx completes the action. Its body may be a JSON object
``{"summary": str, "data": {...}, "reverse_params": {...}, "replayed": bool}``, every field
optional (``summary`` defaults to ``"<action> done"``); an empty body counts as ``{}``.
A non-empty body that is not a JSON object is an error that is not retried.
5xx, 429 (``Retry-After`` seconds are honoured, capped by ``backoff_max``), connection errors
and timeouts are retried with exponential backoff and full jitter; any other status is final.
Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from escalation.errors import ExecutionFailed, UnknownAction
from escalation.executors import ActionRequest, ActionResult

__all__ = [
    "DRY_RUN_HEADER",
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookExecutor",
    "sign",
    "verify",
]

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Supportbot-Timestamp"
SIGNATURE_HEADER = "X-Supportbot-Signature"
DRY_RUN_HEADER = "X-Supportbot-Dry-Run"
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "supportbot-webhook/1"
EXCERPT_CHARS = 200

# the clock used for X-Supportbot-Timestamp; a module attribute so tests can move it
_clock: Callable[[], float] = time.time


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The value of X-Supportbot-Signature for this timestamp and raw body: ``sha256=<hex>``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    secret: str, timestamp: int | str, body: bytes | str, signature: str, *, now: float, tolerance: float = 300
) -> bool:
    """True when `signature` is ours for this timestamp and body, and the timestamp is fresh.

    `now` is the receiver's clock in unix seconds; timestamps more than `tolerance` seconds
    from it, in either direction, are refused, as are timestamps that are not integers.
    """
    text = str(timestamp).strip()
    if not text.isdigit():
        return False
    if abs(now - int(text)) > tolerance:
        return False
    expected = sign(secret, text, body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace"))


class _Transient(Exception):
    """One attempt failed in a way another attempt might not."""

    def __init__(self, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Outcome:
    status: int
    body: bytes
    retry_after: float | None


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta-seconds; None when absent or not a usable number (HTTP dates are ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _excerpt(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _redacted(url: str) -> str:
    """The URL without credentials, query or fragment (they often carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _valid_header_value(value: str) -> bool:
    return bool(value) and len(value) <= 255 and all(32 < ord(ch) < 127 for ch in value)


class WebhookExecutor:
    """Performs actions by POSTing them, signed, to one webhook URL. See the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        actions: frozenset[str],
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        dry_run: bool = False,
    ) -> None:
        """`session_factory` builds the executor's one ClientSession; the executor owns and closes it.
        `dry_run` marks every request as a drill the back end must not perform (see the module docstring)."""
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ValueError(f"webhook url must be an absolute http(s) URL, got {_redacted(url)!r}")
        if not secret:
            raise ValueError("webhook secret must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if backoff_initial < 0 or backoff_max < 0:
            raise ValueError("backoff_initial and backoff_max must not be negative")
        self._url = url
        self._where = _redacted(url)
        self._secret = secret
        self._actions = frozenset(actions)
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_max = backoff_max
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self._dry_run = dry_run

    def __repr__(self) -> str:
        return f"WebhookExecutor(url={self._where!r}, actions={sorted(self._actions)!r})"

    name = "webhook"

    def actions(self) -> frozenset[str]:
        return self._actions

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._session_factory() if self._session_factory else aiohttp.ClientSession()
        return self._session

    async def execute(self, request: ActionRequest) -> ActionResult:
        if request.action not in self._actions:
            raise UnknownAction(f"the webhook executor at {self._where} does not handle action '{request.action}'")
        if not _valid_header_value(request.idempotency_key):
            raise ExecutionFailed(
                f"webhook {request.action}: the idempotency key must be 1-255 visible ASCII characters", retryable=False
            )
        body = self._body(request)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: self._log_retry(request, state),
            reraise=True,
        )
        attempts = 0
        outcome: _Outcome | None = None
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    outcome = await self._attempt(request, body)
        except _Transient as exc:
            logger.warning(
                "webhook %s (key %s) at %s gave up after %s attempts: %s",
                request.action,
                request.idempotency_key,
                self._where,
                attempts,
                exc.description,
            )
            raise ExecutionFailed(
                f"webhook {request.action} at {self._where} failed after {attempts} attempts; "
                f"last error: {exc.description}",
                retryable=True,
            ) from exc
        assert outcome is not None  # the loop only ends without raising after a successful attempt
        result = self._result(request, outcome)
        logger.info(
            "webhook %s (key %s) at %s done after %s attempt(s)%s",
            request.action,
            request.idempotency_key,
            self._where,
            attempts,
            " (replayed)" if result.replayed else "",
        )
        return result

    def _body(self, request: ActionRequest) -> bytes:
        payload: dict[str, Any] = {
            "action": request.action,
            "params": request.params,
            "idempotency_key": request.idempotency_key,
            "org": request.org,
            "approval_id": request.approval_id,
            "sent_at": datetime.now(UTC).isoformat(),
        }
        if self._dry_run:
            payload["dry_run"] = True
        try:
            return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ExecutionFailed(
                f"webhook {request.action}: params cannot be sent as JSON ({exc})", retryable=False
            ) from exc

    async def _attempt(self, request: ActionRequest, body: bytes) -> _Outcome:
        """One POST. Returns a 2xx; raises _Transient to retry, ExecutionFailed when final."""
        timestamp = str(int(_clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            IDEMPOTENCY_HEADER: request.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        if self._dry_run:
            headers[DRY_RUN_HEADER] = "true"
        try:
            async with self._client().post(
                self._url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                allow_redirects=False,
            ) as response:
                outcome = _Outcome(
                    status=response.status,
                    body=await response.read(),
                    retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
                )
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutError subclasses
            raise _Transient(f"no answer within {self._timeout:g}s") from exc
        except aiohttp.InvalidURL as exc:
            raise ExecutionFailed(f"webhook {request.action}: invalid URL {self._where}", retryable=False) from exc
        except aiohttp.ClientError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= outcome.status < 300:
            return outcome
        if outcome.status == 429 or outcome.status >= 500:
            raise _Transient(f"HTTP {outcome.status}: {_excerpt(outcome.body)}", retry_after=outcome.retry_after)
        raise ExecutionFailed(
            f"webhook {request.action} at {self._where} refused it with HTTP {outcome.status}: "
            f"{_excerpt(outcome.body)}",
            retryable=False,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return min(error.retry_after, self._backoff_max)
        return float(self._backoff(state))

    def _log_retry(self, request: ActionRequest, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        logger.warning(
            "webhook %s (key %s) at %s attempt %s/%s failed (%s); retrying in %.2fs",
            request.action,
            request.idempotency_key,
            self._where,
            state.attempt_number,
            self._max_attempts,
            error.description if isinstance(error, _Transient) else error,
            state.upcoming_sleep,
        )

    def _result(self, request: ActionRequest, outcome: _Outcome) -> ActionResult:
        def malformed(why: str) -> ExecutionFailed:
            return ExecutionFailed(
                f"webhook {request.action} at {self._where} answered HTTP {outcome.status} but {why}: "
                f"{_excerpt(outcome.body)}",
                retryable=False,
            )

        if not outcome.body.strip():
            document: Any = {}
        else:
            try:
                document = json.loads(outcome.body)
            except ValueError:
                raise malformed("returned a non-JSON body") from None
        if not isinstance(document, dict):
            raise malformed("returned a non-JSON body (not a JSON object)")
        summary = document.get("summary")
        data = document.get("data")
        reverse_params = document.get("reverse_params")
        replayed = document.get("replayed", False)
        if summary is not None and not isinstance(summary, str):
            raise malformed("'summary' is not a string")
        if data is not None and not isinstance(data, dict):
            raise malformed("'data' is not an object")
        if reverse_params is not None and not isinstance(reverse_params, dict):
            raise malformed("'reverse_params' is not an object")
        if not isinstance(replayed, bool):
            raise malformed("'replayed' is not a boolean")
        return ActionResult(
            summary=summary.strip() if summary and summary.strip() else f"{request.action} done",
            data=data or {},
            reverse_params=reverse_params,
            replayed=replayed,
        )
