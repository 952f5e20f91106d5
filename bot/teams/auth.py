"""The Bot Framework `CloudAdapter`, configured from `Settings`: app id, secret or certificate, tenant, and
for sovereign clouds where tokens come from and go to."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botframework.connector.auth import (
    AppCredentials,
    AuthenticationConstants,
    CertificateAppCredentials,
    CertificateServiceClientCredentialsFactory,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from msal import ConfidentialClientApplication
from msrest.authentication import Authentication

from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}


class _Configuration:
    """The attribute bag botbuilder reads its settings from (APP_ID, APP_PASSWORD, …)."""

    def __init__(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, value)


def cloud_endpoints(settings: Settings) -> dict[str, Any]:
    """Where tokens come from and go to, when the bot is not in Microsoft's public cloud. botbuilder switches
    to these the moment any one is given, so the others keep their public-cloud values."""
    given = {
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": settings.microsoft_openid_metadata_url,
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": settings.microsoft_token_issuer,
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": settings.microsoft_login_url,
        "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": settings.microsoft_oauth_scope,
    }
    endpoints: dict[str, Any] = {"VALIDATE_AUTHORITY": settings.microsoft_validate_authority}
    if not any(given.values()):
        return endpoints  # botbuilder's built-in public cloud
    public = {
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER,
        "TO_CHANNEL_FROM_BOT_LOGIN_URL": AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
        "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        "OAUTH_URL": AuthenticationConstants.OAUTH_URL,
    }
    return endpoints | public | {name: value for name, value in given.items() if value}


def adapter_configuration(settings: Settings, **extra: Any) -> dict[str, Any]:
    """What botbuilder needs; `extra` overrides any of it (a test's own endpoints)."""
    app_type = APP_TYPES.get(settings.microsoft_app_type.lower())
    if app_type is None:
        raise SettingsError("MICROSOFT_APP_TYPE must be MultiTenant, SingleTenant or UserAssignedMSI")
    if settings.microsoft_app_id and app_type != "MultiTenant" and not settings.microsoft_app_tenant_id:
        raise SettingsError(f"MICROSOFT_APP_TENANT_ID must be set when MICROSOFT_APP_TYPE is {app_type}")
    password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else None
    return {
        "APP_ID": settings.microsoft_app_id or "",
        "APP_PASSWORD": password,
        "APP_TYPE": app_type,
        "APP_TENANTID": settings.microsoft_app_tenant_id,
        **cloud_endpoints(settings),
        **extra,
    }


class SharedCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """One set of credentials, so one MSAL app and one token cache, per app id, audience and login URL.

    botbuilder makes new credentials for every connector client, i.e. for every turn, and each new MSAL app
    starts with an empty cache: every turn logged in again, with blocking HTTP calls (MSAL uses `requests`)
    on the event loop. Here a token is got or refreshed in a thread before a connector client uses it, so
    the connector's synchronous `signed_session` finds it in the cache.

    botbuilder also drops `validate_authority` on its way to MSAL, which then asks Microsoft's instance
    discovery about any login host it does not know; with MICROSOFT_VALIDATE_AUTHORITY=false it does not.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self._inner = inner
        self._credentials: dict[tuple[str, str, str, bool], Authentication] = {}
        self._lock = asyncio.Lock()

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        key = (app_id or "", oauth_scope or "", login_endpoint or "", bool(validate_authority))
        async with self._lock:  # the first turns after a start would otherwise each log in
            credentials = self._credentials.get(key)
            if credentials is None:
                credentials = await self._inner.create_credentials(
                    app_id, oauth_scope, login_endpoint, validate_authority
                )
                if not validate_authority:
                    await asyncio.to_thread(_trust_authority, credentials)
                self._credentials[key] = credentials
            if isinstance(credentials, AppCredentials) and credentials.microsoft_app_id:
                try:  # from MSAL's cache unless the token expires soon
                    await asyncio.to_thread(credentials.get_access_token)
                except Exception as exc:  # the connector's own call tries again and fails as it always did
                    log.warning("could not get a Bot Framework token from %s: %s", login_endpoint, exc)
        return credentials


def _trust_authority(credentials: Authentication) -> None:
    """The MSAL app botbuilder would build, without instance discovery (the login URL is the operator's)."""
    if isinstance(credentials, MicrosoftAppCredentials) and credentials.microsoft_app_id:
        secret: Any = credentials.microsoft_app_password
    elif isinstance(credentials, CertificateAppCredentials) and credentials.microsoft_app_id:
        secret = {
            "thumbprint": credentials.certificate_thumbprint,
            "private_key": credentials.certificate_private_key,
            "public_certificate": credentials.certificate_public or None,
        }
    else:
        return  # no app id (authentication off) or a managed identity: nothing to log in to
    credentials.app = ConfidentialClientApplication(
        client_id=credentials.microsoft_app_id,
        client_credential=secret,
        authority=credentials.oauth_endpoint,
        validate_authority=False,
    )


def _certificate_factory(settings: Settings) -> CertificateServiceClientCredentialsFactory | None:
    thumbprint, key_file = settings.microsoft_app_certificate_thumbprint, settings.microsoft_app_certificate_key_file
    if not thumbprint and not key_file:
        return None
    if not (thumbprint and key_file):
        raise SettingsError(
            "MICROSOFT_APP_CERTIFICATE_THUMBPRINT and MICROSOFT_APP_CERTIFICATE_KEY_FILE must be set together"
        )
    try:
        private_key = key_file.read_text("utf-8")
    except OSError as exc:
        raise SettingsError(f"MICROSOFT_APP_CERTIFICATE_KEY_FILE cannot be read ({exc.strerror})") from None
    return CertificateServiceClientCredentialsFactory(
        thumbprint, private_key, settings.microsoft_app_id, settings.microsoft_app_tenant_id
    )


def build_adapter(settings: Settings, **extra: Any) -> CloudAdapter:
    """An empty app id disables authentication: only tests do that (`teams_enabled` is False then)."""
    configuration = _Configuration(adapter_configuration(settings, **extra))
    certificate = _certificate_factory(settings)
    needs_secret = certificate is None and settings.microsoft_app_id and not settings.microsoft_app_password
    if needs_secret and configuration.APP_TYPE != "UserAssignedMSI":  # type: ignore[attr-defined]
        raise SettingsError("MICROSOFT_APP_PASSWORD (or a certificate) must be set with MICROSOFT_APP_ID")
    factory = SharedCredentials(certificate or ConfigurationServiceClientCredentialFactory(configuration))
    authentication = ConfigurationBotFrameworkAuthentication(configuration, credentials_factory=factory)
    return CloudAdapter(authentication)
