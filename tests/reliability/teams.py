"""Microsoft Teams as the reliability tier plays it, authentication on both ways.

Inbound: message activities POSTed to `/api/messages` with a Bot Framework JWT signed by a key of the
test's own, published by the fake connector's OpenID metadata (MICROSOFT_OPENID_METADATA_URL); a retry
is the same activity (same id) again. Outbound: the bot gets its tokens from the fake connector's login
service (MICROSOFT_LOGIN_URL, over HTTPS) and the fake refuses any post without one. Replies are read
from what the fake connector recorded: a reply names the activity it answers (`replyToId`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from handlers.core import SORRY
from handlers.decisions import decision_id_for
from tests.fakes.bot_connector import FakeBotConnector, Sent
from tests.reliability.slack import QUESTIONS, Tally

APP_ID = "7e1e1ab1-0000-4000-8000-000000000001"
APP_PASSWORD = "reliability-app-secret"
# a cloud of the tests' own: nothing falls back to the public cloud's values unnoticed
ISSUER = "https://api.botframework.test"
SCOPE = "https://api.botframework.test"
TENANT = "tenant-reliability-acme"  # the customer's tenant, bound to ORG
STAFF_CONVERSATION = "19:reliability-staff@thread.tacv2"
BOT = {"id": f"28:{APP_ID}", "name": "Supportbot"}
ACK_TIMEOUT = 15.0  # Bot Framework waits 15 s for /api/messages before it retries
KEY_ID = "reliability"
_SIGNER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_tokens: dict[str, tuple[str, float]] = {}  # service URL → token and when it expires
_numbers = itertools.count(1)
_run = random.randrange(1, 9_000_000)  # activity and conversation ids unique across runs too


def jwks() -> list[dict[str, Any]]:
    """The signing key as the fake connector publishes it (endorsed for the msteams channel)."""
    public = json.loads(RSAAlgorithm.to_jwk(_SIGNER.public_key()))
    return [{**public, "kid": KEY_ID, "use": "sig", "endorsements": ["msteams"]}]


def token(service_url: str) -> str:
    """What the Bot Framework channel sends in `Authorization`: valid for ten minutes, and reused meanwhile as
    the channel reuses its tokens (signing with the key object: parsing a PEM takes 40 ms, which stalls the
    test's event loop and spreads "5 ms apart" over seconds)."""
    cached = _tokens.get(service_url)
    if cached and cached[1] - time.time() > 60:
        return cached[0]
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "exp": now + 600}
    signed = jwt.encode(claims, _SIGNER, algorithm="RS256", headers={"kid": KEY_ID})
    _tokens[service_url] = (signed, now + 600)
    return signed


def customers() -> dict[str, dict[str, Any]]:
    """The connector's member records (the bot looks up each sender's home tenant)."""
    return {
        f"29:rel-customer-{n:02d}": {"id": f"29:rel-customer-{n:02d}", "name": f"Customer {n}", "tenantId": TENANT}
        for n in range(40)
    }


def bot_environment(connector: FakeBotConnector, ca_bundle: Path) -> dict[str, str]:
    """Teams for `supportbot run`, authentication on, every endpoint the fake connector."""
    return {
        "MICROSOFT_APP_ID": APP_ID,
        "MICROSOFT_APP_PASSWORD": APP_PASSWORD,
        "MICROSOFT_OPENID_METADATA_URL": connector.metadata_url,
        "MICROSOFT_TOKEN_ISSUER": ISSUER,
        "MICROSOFT_LOGIN_URL": connector.login_url,
        "MICROSOFT_OAUTH_SCOPE": SCOPE,
        "MICROSOFT_VALIDATE_AUTHORITY": "false",  # Microsoft's instance discovery does not know 127.0.0.1
        "REQUESTS_CA_BUNDLE": str(ca_bundle),  # MSAL trusts the fake login service's certificate
        "TEAMS_SERVICE_URL": connector.url,
        "TEAMS_STAFF_CONVERSATION": STAFF_CONVERSATION,
    }


@dataclass(frozen=True)
class Activity:
    """One customer message activity in a personal chat with the bot."""

    id: str
    conversation: str
    text: str
    body: str  # the JSON, identical on every retry

    @property
    def event_key(self) -> str:
        return f"{self.conversation}:{self.id}"

    @property
    def decision_id(self) -> str:
        return decision_id_for("teams", self.event_key)


def message(text: str, *, service_url: str, conversation: str | None = None) -> Activity:
    """A message in `conversation` (a new chat when None), stamped now to the microsecond: the channel's
    time orders a conversation's turns."""
    number = next(_numbers)
    chat = conversation or f"a:rel-{_run}-{number}"
    user = f"29:rel-customer-{number % 40:02d}"
    body = {
        "type": "message",
        "id": f"rel-{_run}-{number}",
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": user, "name": f"Customer {number % 40}", "aadObjectId": f"aad-rel-{number % 40}"},
        "recipient": BOT,
        "conversation": {"id": chat, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "text": text,
    }
    return Activity(str(body["id"]), chat, text, json.dumps(body))


def new_conversations(count: int, *, seed: int, service_url: str) -> list[Activity]:
    rng = random.Random(seed)
    return [message(f"{rng.choice(QUESTIONS)} (chat {n})", service_url=service_url) for n in range(count)]


@dataclass
class Attempt:
    url: str
    status: int | None  # None: no HTTP answer (refused, reset, or none within ACK_TIMEOUT)


@dataclass
class TeamsClient:
    """Sends activities as the Bot Framework channel does, and keeps every attempt and its answer."""

    session: aiohttp.ClientSession
    service_url: str
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)  # activity id → every request for it

    async def send(self, url: str, activity: Activity) -> int | None:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token(self.service_url)}"}
        status: int | None = None
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with self.session.post(
                url, data=activity.body.encode(), headers=headers, timeout=aiohttp.ClientTimeout(total=ACK_TIMEOUT)
            ) as response:
                await response.read()
                status = response.status
        self.attempts.setdefault(activity.id, []).append(Attempt(url, status))
        return status

    async def deliver(
        self, activity: Activity, urls: Callable[[int], str], *, pause: float = 0.5, limit: float = 90.0
    ) -> None:
        """Until acknowledged (2xx); attempt n goes to `urls(n)`."""
        deadline = time.monotonic() + limit
        attempt = 0
        while not _accepted(await self.send(urls(attempt), activity)):
            if time.monotonic() > deadline:
                raise AssertionError(f"activity {activity.id} was never acknowledged: {self.attempts[activity.id]}")
            attempt += 1
            await asyncio.sleep(pause)

    def acked(self, activity: Activity) -> bool:
        return any(_accepted(attempt.status) for attempt in self.attempts.get(activity.id, []))

    def statuses(self) -> Counter[int | None]:
        return Counter(attempt.status for attempts in self.attempts.values() for attempt in attempts)


def _accepted(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


async def paced(
    activities: Iterable[Activity], rate: float, send: Callable[[Activity], Any]
) -> list[asyncio.Task[Any]]:
    """Open loop: activity i leaves at start + i / rate whatever became of the ones before it."""
    tasks = []
    start = time.monotonic()
    for number, activity in enumerate(activities):
        delay = start + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(activity)))
    return tasks


# --- what the bot posted --------------------------------------------------------------------------


def posts(connector: FakeBotConnector) -> int:
    """How many activities the connector has recorded so far: a test counts only what comes after."""
    return len(connector.sent)


def replies(connector: FakeBotConnector, conversations: set[str], *, since: int = 0) -> dict[str, list[Sent]]:
    """Messages the bot posted into these conversations after the first `since` records, by conversation, in
    the order the connector received them."""
    found: dict[str, list[Sent]] = {}
    for sent in connector.sent[since:]:
        if sent.method == "POST" and sent.type == "message" and sent.conversation_id in conversations:
            found.setdefault(sent.conversation_id, []).append(sent)
    return found


def tally(
    connector: FakeBotConnector, activities: list[Activity], apology_handoffs: set[str], *, since: int = 0
) -> Tally:
    """Match every reply to the activity it answers (`replyToId`); an apology counts when its activity's
    decision opened a hand-off (`ledger.apology_handoffs`). Replies to no activity of ours are stray."""
    ours = {activity.id: activity for activity in activities}
    by_conversation: dict[str, list[Activity]] = {}
    for activity in activities:
        by_conversation.setdefault(activity.conversation, []).append(activity)
    counts: Counter[str] = Counter({activity.id: 0 for activity in activities})
    stray = apologies = 0
    unbacked: list[str] = []
    out_of_order: list[str] = []
    stray_places: list[str] = []
    for conversation, sent in replies(connector, set(by_conversation), since=since).items():
        position = {activity.id: index for index, activity in enumerate(by_conversation[conversation])}
        sequence: list[int] = []
        for reply in sent:
            owner = ours.get(reply.reply_to or "")
            if owner is None or owner.conversation != conversation:
                stray += 1
                stray_places.append(f"{conversation} → {reply.reply_to}")
                continue
            if reply.text.startswith(SORRY[:40]):
                apologies += 1
                if owner.decision_id not in apology_handoffs:
                    unbacked.append(owner.id)
            counts[owner.id] += 1
            sequence.append(position[owner.id])
        if sequence != sorted(sequence):
            out_of_order.append(conversation)
    return Tally(
        events=len(activities),
        answered_once=sum(1 for count in counts.values() if count == 1),
        lost=[key for key, count in counts.items() if count == 0],
        doubled=[key for key, count in counts.items() if count > 1],
        stray=stray,
        apologies=apologies,
        apologies_without_handoff=unbacked,
        out_of_order=out_of_order,
        replies_by_event=dict(counts),
        stray_threads=stray_places[:5],
        unmatched=0,  # every Teams reply names the activity it answers
    )


async def settled(
    connector: FakeBotConnector,
    activities: list[Activity],
    waiting: Callable[[], Any],
    *,
    limit: float = 120.0,
    quiet: float = 2.0,
    since: int = 0,
) -> None:
    """Until every activity has a reply in its conversation, nothing waits in PostgreSQL (`waiting()` →
    count) and the connector recorded nothing new for `quiet` seconds (a double would come late)."""
    deadline = time.monotonic() + limit
    conversations = {activity.conversation for activity in activities}
    seen, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = len(connector.sent)
        if total != seen:
            seen, last_change = total, time.monotonic()
        answered = sum(len(sent) for sent in replies(connector, conversations, since=since).values())
        if answered >= len(activities) and time.monotonic() - last_change >= quiet and not await waiting():
            return
        await asyncio.sleep(0.2)
