"""The [alerts] section with its webhook URL from the environment, checked without echoing it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from consumer.settings.model import AlertSettings

ALERT_FORMATS = ("slack", "json")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def alert_settings(
    alerts: AlertSettings, env: Mapping[str, str], origin: str, problems: list[str]
) -> AlertSettings:
    """[alerts] with the URL its webhook_url_env names; a problem for each thing wrong."""
    where = f"{origin}: [alerts]"
    if alerts.format not in ALERT_FORMATS:
        problems.append(f"{where} format: must be one of {', '.join(ALERT_FORMATS)}")
    name = alerts.webhook_url_env
    if not name:
        return alerts  # alerts are off
    if not _ENV_NAME.fullmatch(name):
        problems.append(f"{where} webhook_url_env: must be an environment variable name")
        return alerts
    url = env.get(name) or ""
    if not url:
        problems.append(f"environment: {name} (the alert webhook URL): is not set")
    elif not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
        # The URL is a secret: name the variable, never echo the value.
        problems.append(f"environment: {name}: must be an http(s) URL")
    return dataclasses.replace(alerts, webhook_url=url or None)
