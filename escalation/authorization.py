"""Who may decide an approval, which edits are allowed, and what the clicker is told. Pure functions."""

from __future__ import annotations

from escalation.formatting import AMOUNT
from escalation.models import Actor, Approval, ApprovalState, Role
from escalation.policy import WorkflowPolicy


def refusal_reason(workflow: WorkflowPolicy | None, approval: Approval, actor: Actor) -> str | None:
    """Why `actor` may not decide `approval`, or None if they may."""
    if actor.role is Role.CUSTOMER:
        return "Customers cannot approve or deny actions."
    approvers = workflow.approvers if workflow else []
    if approvers:
        allowed = actor.id in approvers or any(f"group:{group}" in approvers for group in actor.groups)
        if not allowed:
            return f"You are not an approver for {approval.workflow}."
    elif actor.role is not Role.LEAD:
        return f"{approval.workflow} names no approvers, so only team leads may decide."
    if workflow and workflow.must_differ and actor.id == approval.requested_by:
        return "This is a high-risk action: someone other than the requester must decide."
    return None


def amount_problem(workflow: WorkflowPolicy | None, approval: Approval, amount: int | None) -> str | None:
    """An edited amount must stay between 1 cent and the workflow's limit (or the proposed amount)."""
    proposed = approval.proposed_params.get(AMOUNT)
    upper = workflow.max_amount_cents if workflow and workflow.max_amount_cents is not None else proposed
    if upper is None:
        return "This action has no amount to change."
    if amount is None or amount < 1 or amount > int(upper):
        return f"The amount must be between 1 and {upper} cents."
    return None


def outcome_message(approval: Approval, actor: Actor) -> str:
    who = f"Approved by {actor.label}" + (" with changes" if approval.edited else "")
    if approval.state is ApprovalState.EXECUTED:
        return f"{who}. {(approval.result or {}).get('summary', 'Done.')}"
    if approval.state is ApprovalState.FAILED:
        return f"{who}, but the action failed: {approval.last_error}. A person will follow up."
    return f"{who}; the action is {approval.state.value}."
