"""The demo's scripted conversations with the sample company: who writes what, when, and what staff do about it.

`plan()` is deterministic for a seed: the same weeks, volume and seed give the same conversations. The
outcomes are not scripted (the real core decides them); the script only says what people do next, and a
step that would lie in the future is left undone, so the latest approvals and hand-offs stay pending.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

KEY_PREFIX = "demo:"

# Questions the sample help centre (examples/acme) answers, from its development set.
QUESTIONS = (
    "What does error E118 mean?",
    "My plug setup failed with E103, what now?",
    "The app shows E116 on my smart plug",
    "What should I do about error E120?",
    "I get E107 during setup",
    "What is error code E114?",
    "Camera shows E119",
    "What does E109 mean on the hub?",
    "How long does a refund to PayPal take to show up?",
    "How long should the Motion Sensor battery last?",
    "How much is shipping to Canada?",
    "How much does a change of mind return label cost in the UK?",
    "How long does a firmware update take on a Smart Plug?",
    "What does the order status Packed mean?",
    "How much is the Acme Plus annual plan in the US?",
    "My smart plug LED is solid amber, what does that mean?",
    "How long do I have to return something?",
    "How long is the password reset link valid?",
    "How long is the 2FA code valid?",
    "How many backup codes do I get for two-factor authentication?",
    "When is a parcel considered lost?",
    "How soon do I have to report a damaged parcel?",
    "Can I pause my Acme Plus membership?",
    "What is the order cut-off time for same-day dispatch?",
    "What order amounts can I pay with Klarna?",
    "How do I reset my password?",
    "How do I turn on two-factor authentication?",
    "How do I start a return?",
    "Where can I download my invoice?",
    "How do I factory reset the Acme Hub 2?",
    "What is the maximum load for the smart plug in the US?",
    "How long does standard delivery take in the EU?",
)
# Questions business customers ask about their contract (their org's private documents).
BUSINESS_QUESTIONS = (
    "What is the first response time for a P1 ticket?",
    "Can a Developer role create API keys on a business account?",
    "What does the API error order_not_cancellable mean?",
    "Our API calls fail with 403 ip_not_allowed",
    "How long are idempotency keys remembered?",
    "How often do you retry a failed webhook delivery?",
)
# Questions the help centre does not answer: they become knowledge gaps.
UNANSWERED = (
    "Do you sell gift cards?",
    "Can I pay with bitcoin?",
    "Is there a student discount?",
    "Do you have a store in Berlin I can visit?",
    "Can I get the smart plug in pink?",
    "Does the hub work with Zigbee 3.0 light switches from other brands?",
)
OUT_OF_SCOPE = ("Tell me a joke", "What's the weather like tomorrow?", "Write me a poem about cats")
COMPLAINTS = (
    "That didn't answer my question",
    "Too vague, I needed the exact steps",
    "The page it quotes is out of date",
    "I asked about the hub, not the plug",
)
REFUND_REASONS = (
    "the plug arrived broken",
    "the camera doesn't work",
    "I was charged twice for it",
    "one sensor was missing from the kit",
    "the parcel arrived damaged",
)
HUMAN_ASKS = ("Can I talk to a human?", "I want to speak to a real person", "Connect me with an agent please")


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    email: str
    org: str | None
    platform: Literal["slack", "teams", "web"]
    orders: tuple[str, ...]  # orders whose payment was captured (refundable, trackable)
    open_orders: tuple[str, ...] = ()  # placed or packed: cancellable


# The demo back end's seed (bot/demo/backend/seed.sql): business customers write from Slack Connect (globex) and
# Teams (initech); consumers from the web chat.
CUSTOMERS = (
    Customer(
        "cus_1010", "Marcus Webb", "marcus.webb@globex.example", "globex", "slack", ("A-10223", "A-10232"), ("A-10239",)
    ),
    Customer("cus_1011", "Carla Jensen", "carla.jensen@globex.example", "globex", "slack", ("A-10232",)),
    Customer("cus_1012", "Peter Gibbons", "peter.gibbons@initech.example", "initech", "teams", ("A-10228", "A-10243")),
    Customer("cus_1001", "Jane Cooper", "jane.cooper@example.com", None, "web", ("A-10220", "A-10231"), ("A-10240",)),
    Customer(
        "cus_1003", "Priya Natarajan", "priya.natarajan@example.net", None, "web", ("A-10222", "A-10234"), ("A-10244",)
    ),
    Customer("cus_1006", "Diego Alvarez", "diego.alvarez@example.com", None, "web", ("A-10226",), ("A-10236",)),
    Customer("cus_1008", "Tom Becker", "tom.becker@example.org", None, "web", ("A-10229",), ("A-10241",)),
    Customer("cus_1005", "Grace Kim", "grace.kim@example.com", None, "web", ("A-10235",)),
)
# What each captured order can still refund, per the seed, in cents: the plan never asks for more in total.
REFUNDABLE = {
    "A-10220": 19900, "A-10222": 17900, "A-10223": 642900, "A-10226": 21900, "A-10228": 129000,
    "A-10229": 8900, "A-10231": 16800, "A-10232": 1180800, "A-10234": 12900, "A-10235": 7800, "A-10243": 64500,
}  # fmt: skip


# -- what people do ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """The customer writes."""

    text: str


@dataclass(frozen=True)
class Feedback:
    """The customer clicks Helpful / Not helpful on the bot's last answer."""

    helpful: bool
    comment: str | None = None


@dataclass(frozen=True)
class AskForPerson:
    """The customer clicks Talk to a human under the bot's last answer."""


@dataclass(frozen=True)
class Decide:
    """A staff member approves (optionally with a new amount) or denies the conversation's pending approval.
    `through_webhook`: the action goes to a webhook where nothing listens, so it fails as in an outage."""

    approve: bool
    amount_cents: int | None = None
    reason: str | None = None
    through_webhook: bool = False


@dataclass(frozen=True)
class Expire:
    """Nobody decided: the approval expires at its expiry time."""


@dataclass(frozen=True)
class Undo:
    """A lead asks to undo the executed action (the undo is itself an approval: a later `Decide` decides it)."""


@dataclass(frozen=True)
class Claim:
    """A staff member takes the open hand-off."""


@dataclass(frozen=True)
class Close:
    """The staff member who took it closes the hand-off."""


Act = Say | Feedback | AskForPerson | Decide | Expire | Undo | Claim | Close


@dataclass(frozen=True)
class Step:
    at: datetime  # `Expire` happens at the approval's own expiry; `at` is then the earliest it may
    act: Act


@dataclass(frozen=True)
class ScriptedConversation:
    key: str
    kind: str  # answer, gap, out_of_scope, order_status, refund, cancel_order, change_email, talk_to_human
    customer: Customer
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def start(self) -> datetime:
        return self.steps[0].at


# -- the plan ------------------------------------------------------------------------------------------------

KINDS = (
    ("answer", 44),
    ("gap", 8),
    ("out_of_scope", 3),
    ("order_status", 12),
    ("refund", 20),
    ("cancel_order", 3),
    ("change_email", 3),
    ("talk_to_human", 7),
)


class _Planner:
    def __init__(self, rng: random.Random, weeks: int) -> None:
        self.rng = rng
        self.weeks = weeks
        self.refundable = dict(REFUNDABLE)
        self.first_unclaimed = True
        self.first_feedback = [0.0, 0.3]  # the first answers get a complaint and a thumbs-up
        self.first_refunds = ["approve", "edit", "webhook", "deny", "expire", "undo"]
        self.refunds_since_outage = 0

    def minutes(self, low: int, high: int) -> timedelta:
        return timedelta(minutes=self.rng.randint(low, high))

    def conversation(self, number: int, start: datetime, week: int, *, kind: str | None = None) -> ScriptedConversation:
        """`week` counts from 0 (the oldest): later weeks go better, as a team that fixes its gaps would see."""
        progress = week / max(1, self.weeks - 1)
        forced = kind is not None
        kind = kind or self.rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        tries = 20 if forced else 1  # a request the script needs finds a customer who can make it
        for _ in range(tries):
            customer = self.rng.choice(CUSTOMERS)
            steps: list[tuple[timedelta, Act]] | None = getattr(self, f"_{kind}")(customer, progress)
            if steps is not None:
                break
        if steps is None:  # nothing of that kind this customer can ask for (no open order, no refund left)
            kind, steps = "answer", self._answer(customer, progress)
        key = f"{KEY_PREFIX}{customer.platform}:{number:04d}"
        return ScriptedConversation(key, kind, customer, tuple(Step(start + after, act) for after, act in steps))

    def _answer(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        pool = QUESTIONS + (BUSINESS_QUESTIONS if customer.org else ())
        steps: list[tuple[timedelta, Act]] = [(timedelta(), Say(self.rng.choice(pool)))]
        roll = self.first_feedback.pop(0) if self.first_feedback else self.rng.random()
        if roll < 0.16 - 0.1 * progress:
            steps.append((self.minutes(1, 4), Feedback(False, self.rng.choice(COMPLAINTS))))
        elif roll < 0.5:
            steps.append((self.minutes(1, 4), Feedback(True)))
        return steps

    def _gap(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        steps: list[tuple[timedelta, Act]] = [
            (timedelta(), Say(self.rng.choice(UNANSWERED))),
            # when the bot answers anyway, the customer says it missed (a click only if there was an answer)
            (self.minutes(1, 2), Feedback(False, "That's not what I asked")),
        ]
        if self.rng.random() < 0.5:
            steps += [(self.minutes(2, 4), AskForPerson()), *self._handled(close=self.rng.random() < 0.8)]
        return steps

    def _out_of_scope(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        return [(timedelta(), Say(self.rng.choice(OUT_OF_SCOPE)))]

    def _order_status(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        order = self.rng.choice(customer.orders + customer.open_orders)
        text = self.rng.choice(("Where is my order {}?", "Can you track order {} for me?", "Has my order {} shipped?"))
        return [(timedelta(), Say(text.format(order)))]

    def _refund(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]] | None:
        amount = self.rng.randint(10, 45) * 100
        orders = [order for order in customer.orders if self.refundable.get(order, 0) >= amount]
        if not orders:
            return None
        order = self.rng.choice(orders)
        reason = self.rng.choice(REFUND_REASONS)
        steps: list[tuple[timedelta, Act]] = [
            (timedelta(), Say(f"I want a refund for order {order}, {reason}")),
            (self.minutes(1, 3), Say(f"${amount / 100:.2f}")),
        ]
        decided = steps[-1][0] + self.minutes(5, 120 - int(70 * progress))  # after the amount is given
        outcome = self._refund_outcome(progress)
        if outcome == "webhook":  # the back end is down: the action fails and goes to a person
            return [*steps, (decided, Decide(True, through_webhook=True)), *self._handled(close=True, after=decided)]
        if outcome == "deny":
            return [*steps, (decided, Decide(False, reason="Outside the return window; offered store credit"))]
        if outcome == "expire":
            return [*steps, (timedelta(), Expire()), *self._handled(close=True, after=timedelta(hours=24))]
        granted = amount // 2 if outcome == "edit" else amount
        self.refundable[order] -= granted
        steps.append((decided, Decide(True, amount_cents=granted if outcome == "edit" else None)))
        if outcome == "undo":  # a lead undoes it, and someone from billing approves the undo a little later
            undone = decided + self.minutes(30, 300)
            steps += [(undone, Undo()), (undone + self.minutes(10, 60), Decide(True))]
        return steps

    def _refund_outcome(self, progress: float) -> str:
        """The first refunds show every outcome once; later, denials, expiries and edits get rarer each week."""
        if self.first_refunds:
            return self.first_refunds.pop(0)
        self.refunds_since_outage += 1
        if self.refunds_since_outage >= 12:
            self.refunds_since_outage = 0
            return "webhook"
        roll = self.rng.random()
        for outcome, share in (("deny", 0.12 - 0.06 * progress), ("expire", 0.08), ("edit", 0.18 - 0.08 * progress)):
            if roll < share:
                return outcome
            roll -= share
        return "undo" if roll < 0.04 else "approve"

    def _cancel_order(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]] | None:
        if not customer.open_orders:
            return None
        order = self.rng.choice(customer.open_orders)
        steps: list[tuple[timedelta, Act]] = [(timedelta(), Say(f"Please cancel my order {order}"))]
        # the demo back end's few open orders stay open: cancellations are denied (already packed) or left
        if self.rng.random() < 0.8:
            steps.append((self.minutes(10, 90), Decide(False, reason="Already with the carrier; offered a return")))
        else:
            steps += [(timedelta(), Expire()), *self._handled(close=True, after=timedelta(hours=24))]
        return steps

    def _change_email(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        user, domain = customer.email.split("@")
        new = f"{user}.{self.rng.randint(2, 99)}@{domain}"
        steps: list[tuple[timedelta, Act]] = [(timedelta(), Say(f"Change my email from {customer.email} to {new}"))]
        # the account data stays as seeded: e-mail changes are denied (identity not verified) or time out
        if self.rng.random() < 0.75:
            steps.append((self.minutes(15, 200), Decide(False, reason="Could not verify the account holder")))
        else:
            steps += [(timedelta(), Expire()), *self._handled(close=False, after=timedelta(hours=4))]
        return steps

    def _talk_to_human(self, customer: Customer, progress: float) -> list[tuple[timedelta, Act]]:
        return [(timedelta(), Say(self.rng.choice(HUMAN_ASKS))), *self._handled(close=self.rng.random() < 0.85)]

    def _handled(self, *, close: bool, after: timedelta = timedelta()) -> list[tuple[timedelta, Act]]:
        """A person picks the hand-off up (most of the time), and usually closes it."""
        if self.first_unclaimed or self.rng.random() < 0.15:
            self.first_unclaimed = False
            return []  # nobody claims it: the digest lists it
        claimed = after + self.minutes(8, 45)
        steps: list[tuple[timedelta, Act]] = [(claimed, Claim())]
        if close:
            steps.append((claimed + self.minutes(20, 180), Close()))
        return steps


# The latest requests nobody has decided yet, so the console has pending approvals to act on: how long ago each
# was asked (well inside the workflows' 24-hour approval expiry).
LEFT_PENDING = (("refund", timedelta(hours=3)), ("cancel_order", timedelta(hours=2)), ("refund", timedelta(minutes=70)))


def plan(*, now: datetime, weeks: int, per_week: int, seed: int = 7) -> list[ScriptedConversation]:
    """`per_week` conversations on average (fewer in the oldest weeks, more lately), spread over the last `weeks`
    weeks up to an hour ago, in the order they start; then a few requests of the last hours nobody has decided yet."""
    rng = random.Random(seed)
    planner = _Planner(rng, weeks)
    latest = now - timedelta(hours=1)
    conversations: list[ScriptedConversation] = []
    for week in range(weeks):
        growth = 0.7 + 0.6 * week / (weeks - 1) if weeks > 1 else 1.0
        count = round(per_week * growth)
        week_start = latest - timedelta(weeks=weeks - week)
        starts = sorted(week_start + timedelta(days=rng.random() * 7, hours=rng.gauss(0, 2)) for _ in range(count))
        for start in starts:
            conversations.append(planner.conversation(len(conversations) + 1, min(start, latest), week))
    for kind, ago in LEFT_PENDING:
        asked = planner.conversation(len(conversations) + 1, now - ago, weeks - 1, kind=kind)
        steps = tuple(step for step in asked.steps if isinstance(step.act, Say))  # nobody has decided yet
        conversations.append(ScriptedConversation(asked.key, asked.kind, asked.customer, steps))
    conversations.sort(key=lambda c: c.start)
    return conversations


def said(conversations: list[ScriptedConversation]) -> list[str]:
    """Every message customers write in these conversations, as the core reads it (whitespace collapsed)."""
    return [" ".join(step.act.text.split()) for c in conversations for step in c.steps if isinstance(step.act, Say)]
