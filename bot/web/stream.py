"""`/playground/events`: server-sent events with the playground's new posts, rendered. A card that changed is
sent again under the same element id and replaces the one on the page. EventSource reconnects by itself and
says the last post it had (`Last-Event-ID`), so nothing is missed across a dropped connection."""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from bot.web.access import EVERYONE, Person
from bot.web.pages import PageSet
from bot.web.playground import PLAYGROUND, channels_for
from bot.web.seat import seat_of
from bot.web.security import csrf_token

log = logging.getLogger(__name__)
pages = PageSet()
KEEPALIVE_SECONDS = 15.0  # a comment now and then, so proxies do not close a quiet stream


def _after(request: web.Request) -> int:
    for given in (request.headers.get("Last-Event-ID"), request.query.get("after")):
        if given and given.isdigit():
            return int(given)
    return 0


@pages.action("/playground/events", roles=EVERYONE, method="GET")
async def events(request: web.Request, person: Person) -> web.StreamResponse:
    seat = await seat_of(request, person)
    channels = channels_for(person, seat)
    ground = request.app[PLAYGROUND]
    csrf = await csrf_token(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    last, quiet_since = _after(request), time.monotonic()
    caught_up = False
    try:
        while not ground.feed.closing:
            mark = ground.feed.mark()
            for post in await ground.front.posts.after(channels, last):
                rendered = await ground.renderer.render(post, csrf=csrf, staff=person.is_staff)
                data = json.dumps({"pane": rendered.pane, "id": rendered.element_id, "html": rendered.html})
                await response.write(f"id: {post.id}\nevent: post\ndata: {data}\n\n".encode())
                last, quiet_since = post.id, time.monotonic()
            if not caught_up:  # the page knows it missed nothing and is live from here on
                await response.write(b"event: ready\ndata: {}\n\n")
                caught_up = True
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                await response.write(b": still here\n\n")
                quiet_since = time.monotonic()
            await ground.feed.wait(mark)
    except (ConnectionResetError, ConnectionError):
        log.debug("playground stream of %s closed by the browser", person.id)
    return response
