"""Sovereign-cloud endpoints from settings: inbound tokens checked against the configured OpenID metadata and
issuer, outbound tokens got once from the configured login authority for the configured scope."""

from __future__ import annotations

import gc
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount, ConversationReference
from botframework.connector.auth import AuthenticationConstants
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from bot.settings import Settings, load_settings
from bot.teams.auth import adapter_configuration, build_adapter, cloud_endpoints
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.tls import loopback_certificate

APP_ID = "22222222-3333-4444-5555-666666666666"
SECRET = "cloud-secret"
ISSUER = SCOPE = "https://api.botframework.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_unset_endpoints_leave_botbuilder_on_the_public_cloud() -> None:
    assert cloud_endpoints(load_settings(microsoft_app_id=APP_ID)) == {"VALIDATE_AUTHORITY": True}


def test_one_endpoint_set_keeps_the_public_cloud_values_for_the_others() -> None:
    settings = load_settings(microsoft_app_id=APP_ID, microsoft_oauth_scope=SCOPE)
    configuration = adapter_configuration(settings)
    assert configuration["TO_CHANNEL_FROM_BOT_OAUTH_SCOPE"] == SCOPE
    assert configuration["TO_BOT_FROM_CHANNEL_TOKEN_ISSUER"] == AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    assert (
        configuration["TO_CHANNEL_FROM_BOT_LOGIN_URL"] == AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
    )
    assert (
        configuration["TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL"]
        == AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotConnector]:
    certificate = loopback_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate.cert_file))  # MSAL (requests) trusts the fake login
    fake = FakeBotConnector().start()
    jwk = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    fake.jwks[:] = [{**jwk, "kid": "cloud", "use": "sig", "endorsements": ["msteams"]}]
    fake.serve_login(certificate, app_id=APP_ID, app_password=SECRET, scope=SCOPE)
    try:
        yield fake
    finally:
        fake.stop()
        # MSAL keeps its connection to the login service for the credentials' lifetime (a process's, in the
        # bot); the test's adapter is gone now, and with it that connection
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def cloud_settings(fake: FakeBotConnector) -> Settings:
    return load_settings(
        microsoft_app_id=APP_ID,
        microsoft_app_password=SecretStr(SECRET),
        microsoft_openid_metadata_url=fake.metadata_url,
        microsoft_token_issuer=ISSUER,
        microsoft_login_url=fake.login_url,
        microsoft_oauth_scope=SCOPE,
        microsoft_validate_authority=False,
    )


async def say(context: TurnContext) -> None:
    try:
        await context.send_activity(Activity(type=ActivityTypes.message, text="hello"))
    finally:  # botbuilder leaves each turn's connector client (an aiohttp session) open
        await context.turn_state[BotAdapter.BOT_CONNECTOR_CLIENT_KEY].__aexit__(None, None, None)


def signed(service_url: str, *, issuer: str = ISSUER) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "aud": APP_ID, "serviceurl": service_url, "nbf": now - 10, "exp": now + 600}
    return "Bearer " + jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "cloud"})


async def test_inbound_tokens_are_checked_against_the_configured_issuer(cloud: FakeBotConnector) -> None:
    adapter = build_adapter(cloud_settings(cloud))
    activity = Activity(type=ActivityTypes.message, service_url=cloud.url, channel_id="msteams", text="hi")
    accepted = await adapter.bot_framework_authentication.authenticate_request(activity, signed(cloud.url))
    assert accepted.claims_identity.is_authenticated
    with pytest.raises(PermissionError):  # the public cloud's issuer is not this cloud's
        await adapter.bot_framework_authentication.authenticate_request(
            activity, signed(cloud.url, issuer=AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER)
        )


async def test_outbound_posts_carry_a_token_got_once_from_the_configured_login(cloud: FakeBotConnector) -> None:
    adapter = build_adapter(cloud_settings(cloud))
    reference = ConversationReference(
        service_url=cloud.url,
        channel_id="msteams",
        conversation=ConversationAccount(id="a:cloud"),
        bot=ChannelAccount(id=f"28:{APP_ID}"),
        user=ChannelAccount(id="29:someone"),
    )

    for _ in range(3):  # three turns, as a worker runs them: one login, not one per turn
        await adapter.continue_conversation(reference, say, APP_ID)
    assert [sent.text for sent in cloud.posted("a:cloud")] == ["hello"] * 3
    assert cloud.unauthorized == 0
    assert cloud.login_requests == {"discovery": 1, "token": 1}


async def test_a_wrong_secret_gets_no_token_and_posts_nothing(cloud: FakeBotConnector) -> None:
    settings = cloud_settings(cloud).model_copy(update={"microsoft_app_password": SecretStr("wrong")})
    adapter = build_adapter(settings)
    reference = ConversationReference(
        service_url=cloud.url,
        channel_id="msteams",
        conversation=ConversationAccount(id="a:cloud"),
        bot=ChannelAccount(id=f"28:{APP_ID}"),
        user=ChannelAccount(id="29:someone"),
    )

    with pytest.raises(PermissionError):
        await adapter.continue_conversation(reference, say, APP_ID)
    assert cloud.posted() == [] and cloud.login_requests["refused"] >= 1 and not cloud.issued
