"""The fake Slack Web API answers the real slack_sdk clients the way Slack does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack, fake_slack

TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-token"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with fake_slack() as server:
        yield server


@pytest.fixture
async def client(fake: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    web = AsyncWebClient(token=TOKEN, base_url=fake.base_url)
    yield web
    if web.session is not None:
        await web.session.close()


async def test_post_message_with_blocks_is_recorded_and_answered_like_slack(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = await client.chat_postMessage(channel="C1", text="hi", blocks=blocks, thread_ts="1.000001")
    second = await client.chat_postMessage(channel="C1", text="again")
    assert first["channel"] == "C1"
    assert first["message"]["blocks"] == blocks
    assert first["message"]["thread_ts"] == "1.000001"
    assert first["message"]["bot_id"] == fake.bot_id
    assert float(second["ts"]) > float(first["ts"])
    call = fake.wait_for("chat.postMessage", count=2)[0]
    assert call.token == TOKEN
    assert call.params["blocks"] == blocks
    assert call.params["channel"] == "C1"


async def test_identity_lookups(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.usergroups = {"S123": ["U1", "U2"]}
    fake.users = {"U1": {"team_id": "T1", "real_name": "Ada Customer"}}
    fake.channels = {"C9": {"is_ext_shared": True, "shared_team_ids": ["T0HOME", "T1"]}}
    auth = await client.auth_test()
    assert (auth["team_id"], auth["user_id"], auth["bot_id"]) == (fake.team_id, fake.bot_user_id, fake.bot_id)
    assert (await client.usergroups_users_list(usergroup="S123"))["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError) as missing:
        await client.usergroups_users_list(usergroup="S404")
    assert missing.value.response["error"] == "no_such_subteam"
    user = (await client.users_info(user="U1"))["user"]
    assert (user["team_id"], user["real_name"]) == ("T1", "Ada Customer")
    assert (await client.users_info(user="U2"))["user"]["team_id"] == fake.team_id
    assert (await client.conversations_info(channel="C9"))["channel"]["is_ext_shared"] is True
    assert (await client.conversations_info(channel="C1"))["channel"]["is_ext_shared"] is False
    assert (await client.team_info())["team"]["id"] == fake.team_id


async def test_updates_ephemeral_permalinks_views_and_reactions(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="card")
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="decided")
    assert updated["ts"] == posted["ts"]
    assert (await client.chat_postEphemeral(channel="C1", user="U1", text="psst"))["message_ts"]
    link = await client.chat_getPermalink(channel="C1", message_ts=posted["ts"])
    assert link["permalink"].endswith(f"/archives/C1/p{posted['ts'].replace('.', '')}")
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Why"}, "blocks": []}
    opened = await client.views_open(trigger_id="1.2.abc", view=view)
    assert opened["view"]["type"] == "modal"
    again = await client.views_update(view_id=opened["view"]["id"], view=view)
    assert again["view"]["id"] == opened["view"]["id"]
    await client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await client.reactions_add(channel="C1", timestamp=posted["ts"], name="eyes")
    await client.reactions_remove(channel="C1", timestamp=posted["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client.api_call("chat.scheduleMessage", json={"channel": "C1"})
    assert fake.calls_to("chat.scheduleMessage")[0].error == "unknown_method"


async def test_files_upload_v2_takes_three_steps(fake: FakeSlack, client: AsyncWebClient) -> None:
    content = b"\x89PNG fake chart bytes"
    answer = await client.files_upload_v2(
        channel="C7", content=content, filename="digest.png", title="Digest", initial_comment="This week"
    )
    assert answer["file"]["id"] in fake.uploads
    assert fake.uploads[answer["file"]["id"]] == content
    complete = fake.calls_to("files.completeUploadExternal")[0]
    assert complete.params["channel_id"] == "C7"
    assert complete.params["initial_comment"] == "This week"
    assert json.loads(complete.params["files"])[0]["title"] == "Digest"


async def test_rate_limit_is_retried_after_retry_after_and_server_error_answered(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]
    statuses = [call.status for call in fake.calls_to("chat.postMessage")]
    assert statuses == [429, 200]

    fake.fail_next("chat.update", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as failed:
            await client.chat_update(channel="C1", ts="1.2", text="x")
        assert failed.value.response.status_code == 500
    assert (await client.chat_update(channel="C1", ts="1.2", text="x"))["ok"]

    fake.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(SlackApiError) as not_found:
        await client.chat_postMessage(channel="C404", text="hi")
    assert (not_found.value.response.status_code, not_found.value.response["error"]) == (200, "channel_not_found")


async def test_a_429_carries_retry_after(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("reactions.add", retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await client.reactions_add(channel="C1", timestamp="1.2", name="eyes")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"


async def test_tokens_are_checked_like_slack(fake: FakeSlack) -> None:
    anonymous = AsyncWebClient(base_url=fake.base_url)
    with pytest.raises(SlackApiError, match="not_authed"):
        await anonymous.auth_test()
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await anonymous.apps_connections_open(app_token=TOKEN)
    fake.valid_tokens = {TOKEN}
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-other", base_url=fake.base_url).auth_test()


async def test_socket_mode_client_connects_receives_an_envelope_and_acks(fake: FakeSlack) -> None:
    received: list[SocketModeRequest] = []

    async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    socket = SocketModeClient(app_token=APP_TOKEN, web_client=AsyncWebClient(base_url=fake.base_url))
    socket.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    try:
        await socket.connect()  # type: ignore[no-untyped-call]
        await fake.wait_for_socket_client_async()
        event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention", "text": "hi"}}
        envelope_id = fake.socket_send({"type": "events_api", "payload": event})
        ack = await fake.wait_for_ack_async(envelope_id)
        assert ack == {"envelope_id": envelope_id}
        assert received[0].payload == event
        assert fake.calls_to("apps.connections.open")[0].token == APP_TOKEN

        # Slack asks clients to reconnect now and then; the client opens a new connection
        fake.socket_disconnect()
        await fake.wait_for_async("apps.connections.open", count=2)
        for _ in range(200):
            if fake.socket_connections == 2 and await socket.is_connected():
                break
            await asyncio.sleep(0.02)
        second = fake.socket_send({"type": "slash_commands", "payload": {"command": "/support", "text": "status"}})
        await fake.wait_for_ack_async(second)
    finally:
        await socket.close()  # type: ignore[no-untyped-call]
