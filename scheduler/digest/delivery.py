"""Posting a built digest: every configured publisher, the chart attached, and a copy kept in the outbox."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scheduler.digest.chart import render_chart
from scheduler.digest.model import Digest, DigestPublisher
from scheduler.digest.queries import DigestQueries
from scheduler.digest.render import headline

log = logging.getLogger(__name__)


class DigestError(Exception):
    """The digest could not be built or posted; the message says why."""


async def deliver(digest: Digest, publishers: Sequence[DigestPublisher], *, queries: DigestQueries, source: str) -> str:
    """Post to each publisher and keep the digest as an outbox row (kind `digest`). Returns a summary.

    One platform failing does not stop the others. Only when every publisher failed is it an error, so the
    scheduler retries the slot; retrying after a partial success would post twice where it worked."""
    chart = None
    if publishers:
        try:
            chart = render_chart(digest)
        except Exception:  # a chart is a nice-to-have; the digest goes out without it
            log.exception("chart for digest %s failed; posting without it", digest.week)
    posted: dict[str, str] = {}
    failed: dict[str, str] = {}
    for publisher in publishers:
        try:
            posted[publisher.platform] = await publisher.publish(digest, chart_png=chart)
        except Exception as exc:  # one platform down must not keep the digest from the others
            log.exception("digest %s not posted to %s", digest.week, publisher.platform)
            failed[publisher.platform] = f"{type(exc).__name__}: {exc}"[:500]
    payload = {"digest": digest.to_dict(), "posted": posted, "failed": failed}
    await queries.record(text=headline(digest), payload=payload, source=source, posted=bool(posted))
    count = digest.kpis.conversations
    scope = f"{digest.week}{f' ({digest.org})' if digest.org else ''}: {count} conversation{'s' if count != 1 else ''}"
    if failed and not posted:
        raise DigestError(f"digest {scope} was not posted: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    if not publishers:
        return f"{scope}; kept in the outbox (no chat platform configured)"
    result = f"{scope}; posted to {', '.join(sorted(posted))}"
    return result + (f"; failed on {', '.join(sorted(failed))}" if failed else "")
