"""Settings from config/consumer.toml plus the environment: the only reader of os.environ."""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from consumer import signing
from consumer.errors import BadKey, ConfigError
from consumer.logs import FORMATS as LOG_FORMATS
from consumer.settings.alerts import alert_settings
from consumer.settings.model import Settings, ZeegSettings
from consumer.settings.schema import check_table, defaults_of, schema_of
from consumer.settings.sources import SANDBOX_SOURCE, parse_sources, sandbox_source
from consumer.signing import SigningKey

SIGNING_KEY_ENV = "AUDIT_SIGNING_KEY"
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "consumer.toml"


@cache
def sections() -> dict[str, type]:
    """The [sections] of the file: the fields of Settings whose type is a dataclass."""
    hints = typing.get_type_hints(Settings)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(Settings)
        if dataclasses.is_dataclass(hints[f.name])
    }


def section_defaults() -> dict[str, dict[str, Any]]:
    """Every key of every section with its default: what config/consumer.toml sets."""
    return {name: defaults_of(cls) for name, cls in sections().items()}


def load_settings(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file and the environment; raise ConfigError naming every problem."""
    env = os.environ if env is None else env
    path = Path(path or env.get("CONSUMER_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError([f"{path}: cannot read: {e.strerror}"]) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: not valid TOML: {e}"]) from e
    return settings_from_dict(raw, env, str(path))


def settings_from_dict(raw: Mapping[str, Any], env: Mapping[str, str], origin: str) -> Settings:
    """Validate a parsed configuration against the environment."""
    problems = [
        f"{origin}: [{key}]: unknown section"
        for key in raw
        if key not in sections() and key != "sources"
    ]
    values = {name: _section(raw, name, origin, problems) for name in sections()}
    values["zeeg"] = _zeeg(values["zeeg"], env, origin, problems)
    values["alerts"] = alert_settings(values["alerts"], env, origin, problems)
    sources = parse_sources(raw.get("sources", {}), env, origin, problems, values["intake"])
    sandbox = env.get("CONSUMER_SANDBOX") == "1"
    if sandbox and env.get("CONSUMER_SANDBOX_SECRET"):
        sources[SANDBOX_SOURCE] = sandbox_source(env["CONSUMER_SANDBOX_SECRET"])
    port = _check_environment(env, problems)
    signing_key = _signing_key(env, problems)
    if problems:
        raise ConfigError(problems)
    return Settings(
        **values,
        sources=sources,
        redis_url=env.get("REDIS_URL") or None,
        admin_token=env.get("CONSUMER_ADMIN_TOKEN") or None,
        signing_key=signing_key,
        port=int(port),
        sandbox=sandbox,
        config_path=origin,
    )


def _section(raw: Mapping[str, Any], name: str, origin: str, problems: list[str]) -> Any:
    """One [section] as its dataclass: the file's valid keys over the declared defaults."""
    cls = sections()[name]
    table = raw.get(name, {})
    if not isinstance(table, dict):
        problems.append(f"{origin}: [{name}]: must be a table")
        return cls()
    return cls(**check_table(table, schema_of(cls), f"{origin}: [{name}]", problems))


def _zeeg(
    zeeg: ZeegSettings, env: Mapping[str, str], origin: str, problems: list[str]
) -> ZeegSettings:
    """The [zeeg] section with the environment's base URL and token."""
    base_url = env.get("ZEEG_API_BASE_URL") or zeeg.base_url
    if not base_url.startswith(("http://", "https://")):
        problems.append(f"{origin}: [zeeg] base_url: must be an http(s) URL")
    token = env.get("ZEEG_API_TOKEN") or None
    return dataclasses.replace(zeeg, base_url=base_url, token=token)


def _signing_key(env: Mapping[str, str], problems: list[str]) -> SigningKey | None:
    """The audit signing key from AUDIT_SIGNING_KEY (None when unset); never echoed."""
    text = env.get(SIGNING_KEY_ENV) or ""
    if not text:
        return None
    try:
        return signing.load_private(text)
    except BadKey as e:
        problems.append(f"environment: {SIGNING_KEY_ENV}: {e} (see `zeeg-consumer keys generate`)")
        return None


def _check_environment(env: Mapping[str, str], problems: list[str]) -> str:
    """Name a malformed REDIS_URL or PORT (never echoing the URL); the port as given."""
    redis_url = env.get("REDIS_URL") or ""
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        # The value may hold a password: name the variable, never echo it.
        problems.append("environment: REDIS_URL: must start with redis://, rediss:// or unix://")
    if _log_format(env) is None:
        problems.append(_LOG_FORMAT_PROBLEM)
    port = env.get("PORT") or "8000"
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 0 < int(port) < 65536:
        problems.append("environment: PORT: must be a port number")
    return port


_LOG_FORMAT_PROBLEM = f"environment: LOG_FORMAT: must be one of {', '.join(LOG_FORMATS)}"


def _log_format(env: Mapping[str, str]) -> str | None:
    value = (env.get("LOG_FORMAT") or "text").strip().lower()
    return value if value in LOG_FORMATS else None


def log_format(env: Mapping[str, str] | None = None) -> str:
    """LOG_FORMAT: text (the default) or json; ConfigError naming the variable otherwise."""
    value = _log_format(os.environ if env is None else env)
    if value is None:
        raise ConfigError([_LOG_FORMAT_PROBLEM])
    return value
