"""The Bot Framework `CloudAdapter`, configured from `Settings`: app id, secret or certificate, tenant."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import CertificateServiceClientCredentialsFactory

from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

APP_TYPES = {"multitenant": "MultiTenant", "singletenant": "SingleTenant", "userassignedmsi": "UserAssignedMSI"}


class _Configuration:
    """The attribute bag botbuilder reads its settings from (APP_ID, APP_PASSWORD, …)."""

    def __init__(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            setattr(self, name, value)


def adapter_configuration(settings: Settings, **extra: Any) -> dict[str, Any]:
    """What botbuilder needs; `extra` adds endpoint overrides (tests point the OpenID metadata at a fake)."""
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
        **extra,
    }


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
    factory = _certificate_factory(settings)
    needs_secret = factory is None and settings.microsoft_app_id and not settings.microsoft_app_password
    if needs_secret and configuration.APP_TYPE != "UserAssignedMSI":  # type: ignore[attr-defined]
        raise SettingsError("MICROSOFT_APP_PASSWORD (or a certificate) must be set with MICROSOFT_APP_ID")
    authentication = ConfigurationBotFrameworkAuthentication(configuration, credentials_factory=factory)
    return CloudAdapter(authentication)
