"""What a scenario file says: a conversation (customer turns, staff clicks) and what must be true after each step
and at the end. Validated by pydantic; `handlers.scenario_load` turns its errors into file:line:field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Outcome = Literal["answered", "asked", "acted", "proposed", "refused", "handed_off", "not_sure", "silent"]
PolicyKind = Literal["act", "needs_approval", "handoff", "refuse"]
StageName = Literal["shadow", "approve", "auto"]
Param = str | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyExpect(_Strict):
    outcome: PolicyKind
    rule: str | None = None  # the rule that fired, e.g. max_amount or autonomy_approve


class ActionExpect(_Strict):
    name: str  # the executor action, e.g. refund or reverse_refund
    params: dict[str, Param] = Field(default_factory=dict)  # these must match; others may be present


class Expect(_Strict):
    """Checked after one step, in this order; the first that does not hold is the scenario's failure."""

    route: str | None = None  # the workflow the turn was routed to (answer, refund, out_of_scope, …)
    outcome: Outcome | None = None
    asks_for: str | None = None  # the input the bot asks for next (order_id, amount_cents, reason, …)
    inputs: dict[str, Param] | None = None  # inputs gathered so far (or proposed this turn): these must match
    policy: PolicyExpect | None = None
    approval_card: bool | None = None  # an approval request went to staff in this step
    executed: bool | None = None  # an action ran in this step
    action: ActionExpect | None = None  # the action that ran in this step, and its inputs
    handoff: bool | None = None  # a hand-off was opened in this step
    cites: list[str] | None = None  # document ids the reply must cite (each of them)
    says: list[str] = Field(default_factory=list)  # phrases the reply must contain (case-insensitive)
    never_says: list[str] = Field(default_factory=list)  # phrases it must not contain


class CustomerStep(_Strict):
    customer: str = Field(min_length=1)
    expect: Expect = Expect()


class StaffSays(_Strict):
    """A staff member writes in the customer's conversation (which takes it over)."""

    staff_says: str = Field(min_length=1)
    expect: Expect = Expect()


StaffVerb = Literal["approve", "deny", "take_over", "hand_back", "expire", "undo"]


class StaffStep(_Strict):
    """A click: approve (with `amount_cents`: approve with changes), deny (with a reason), take over, hand back,
    undo the last executed action, or let the pending approval expire unanswered."""

    staff: StaffVerb
    by: Literal["lead", "staff", "customer"] = "lead"
    amount_cents: int | None = Field(None, gt=0)
    reason: str | None = None
    expect: Expect = Expect()

    @model_validator(mode="after")
    def _fits_the_verb(self) -> StaffStep:
        if self.amount_cents is not None and self.staff != "approve":
            raise ValueError("amount_cents goes only with approve (approve with changes)")
        if self.staff == "deny" and not self.reason:
            raise ValueError("deny needs a reason")
        return self


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((key for key in ("customer", "staff_says", "staff") if key in value), None)
    return next((key for key in ("customer", "staff_says", "staff") if hasattr(value, key)), None)


Step = Annotated[
    Annotated[CustomerStep, Tag("customer")]
    | Annotated[StaffSays, Tag("staff_says")]
    | Annotated[StaffStep, Tag("staff")],
    Discriminator(
        _step_kind, custom_error_type="step", custom_error_message="a step has `customer`, `staff_says` or `staff`"
    ),
]


class OrderState(_Strict):
    status: str | None = None
    refunded_cents: int | None = None  # issued refunds, reversed ones not counted
    refunds: list[int] | None = None  # every refund of the order that is issued now, in cents, oldest first


class CustomerState(_Strict):
    email: str | None = None


class BackendExpect(_Strict):
    """The demo back end's data after the conversation (it is reset to its seed before each scenario)."""

    orders: dict[str, OrderState] = Field(default_factory=dict)
    customers: dict[str, CustomerState] = Field(default_factory=dict)


class EndExpect(_Strict):
    executed: list[ActionExpect] | None = None  # every action that ran, in order; [] = none did
    approvals: int | None = None  # approval cards raised in the whole conversation
    handoff: bool | None = None  # a hand-off was opened at some point
    backend: BackendExpect | None = None


class Setup(_Strict):
    stages: dict[str, StageName] = Field(default_factory=dict)  # autonomy stages other than the policy file's
    kill_switch: bool = False


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,80}$")
    description: str = ""
    kind: Literal["workflow", "knowledge", "out_of_scope", "handoff", "injection"] = "workflow"
    org: str | None = None  # the customer's org (globex, initech); none for a consumer
    customer: str = "U-customer"
    # the workflows whose promotion this scenario vouches for; by default those its steps expect as route
    workflows: list[str] = Field(default_factory=list)
    setup: Setup = Setup()
    turns: list[Step] = Field(min_length=1)
    end: EndExpect = EndExpect()

    def covered_workflows(self) -> list[str]:
        if self.workflows:
            return list(self.workflows)
        routes = [step.expect.route for step in self.turns if step.expect.route]
        return list(dict.fromkeys(routes))


class ScenarioFile(_Strict):
    """A file holds one scenario, or several under `scenarios:`."""

    scenarios: list[Scenario] = Field(min_length=1)
