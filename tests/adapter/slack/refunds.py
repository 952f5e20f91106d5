"""A globex customer's refund over two turns in its Slack Connect channel, up to the staff card: shared by the
tests of staff clicks and of card versions."""

from __future__ import annotations

import json

from tests.adapter.slack.harness import STAFF_CHANNEL, Rig, blocks_text
from tests.adapter.slack.waiting import thread, until
from tests.fakes.slack_api import Call

REFUND = "I want a refund for order A-10232, one monitor arrived broken"
CHANNEL, TEAM = "C0GLOBEX", "T0GLOBEX"  # a Slack Connect channel bound to globex, whose order A-10232 is


async def refund_card(rig: Rig, amount: str = "$30") -> tuple[str, str, Call]:
    """A globex customer asks for a refund in their shared channel; returns (thread ts, approval id, the staff card)."""
    ts, _ = await rig.message(REFUND, channel=CHANNEL, team=TEAM)
    await thread(rig, CHANNEL, ts)
    cards_before = len(rig.posts_to(STAFF_CHANNEL))
    await rig.message(amount, channel=CHANNEL, team=TEAM, thread_ts=ts)
    await thread(rig, CHANNEL, ts, count=2)
    cards = await until(lambda: rig.posts_to(STAFF_CHANNEL)[cards_before:])
    [card] = [c for c in cards if "Approval needed" in c.params.get("text", "")]
    approval_id = value_of(card, "sb:approve")
    return ts, approval_id, card


def value_of(call: Call, action_id: str) -> str:
    for block in json.loads(blocks_text(call)):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button on {call.params.get('text')}")
