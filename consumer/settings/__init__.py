"""Settings from config/consumer.toml plus the environment: the only reader of os.environ."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumer.errors import ConfigError
from consumer.settings.sources import (
    SANDBOX_SOURCE,
    SourceConfig,
    Target,
    parse_sources,
    sandbox_source,
    typed,
)

# Re-exported: the rest of the package reads every setting from this module.
__all__ = [
    "SANDBOX_SOURCE",
    "DeliverySettings",
    "IntakeSettings",
    "RetentionSettings",
    "Settings",
    "SourceConfig",
    "Target",
    "ZeegSettings",
    "load_settings",
    "sandbox_source",
    "settings_from_dict",
]

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "consumer.toml"
DEFAULT_BASE_URL = "https://api.zeeg.me/v2"


@dataclass(frozen=True)
class ZeegSettings:
    """How to reach Zeeg."""

    base_url: str
    token: str | None = field(repr=False)
    connect_timeout_seconds: float
    read_timeout_seconds: float
    rate_limit_per_second: float
    burst: int
    dry_run: bool


@dataclass(frozen=True)
class DeliverySettings:
    """Retry, pause and recovery policy of the erasure jobs."""

    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    sla_hours: float
    auth_probe_seconds: float
    maintenance_interval_seconds: int
    job_timeout_seconds: int
    job_heartbeat_seconds: int = 10
    heartbeat_grace_seconds: int = 20
    max_wait_in_job_seconds: float = 1.5


@dataclass(frozen=True)
class IntakeSettings:
    """Webhook intake limits."""

    dedupe_ttl_days: float
    max_body_bytes: int
    tolerance_seconds: int
    event_log_retention_days: float
    # Record ids one event may carry (payload:<path> resolvers): one job deletes them all in
    # turn, so a huge list would hold up every other deletion queued behind it.
    max_record_ids_per_event: int = 100


@dataclass(frozen=True)
class RetentionSettings:
    """How long audit entries and tombstones are kept."""

    audit_retention_days: float
    tombstone_days: float


@dataclass(frozen=True)
class Settings:
    """Everything the service needs, validated."""

    zeeg: ZeegSettings
    delivery: DeliverySettings
    intake: IntakeSettings
    retention: RetentionSettings
    sources: Mapping[str, SourceConfig]
    redis_url: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    port: int = 8000
    sandbox: bool = False
    config_path: str = ""


_SECTIONS: dict[str, dict[str, type]] = {
    "zeeg": {
        "base_url": str,
        "connect_timeout_seconds": float,
        "read_timeout_seconds": float,
        "rate_limit_per_second": float,
        "burst": int,
        "dry_run": bool,
    },
    "delivery": {
        "max_attempts": int,
        "backoff_base_seconds": float,
        "backoff_max_seconds": float,
        "sla_hours": float,
        "auth_probe_seconds": float,
        "maintenance_interval_seconds": int,
        "job_timeout_seconds": int,
        "job_heartbeat_seconds": int,
        "heartbeat_grace_seconds": int,
        "max_wait_in_job_seconds": float,
    },
    "intake": {
        "dedupe_ttl_days": float,
        "max_body_bytes": int,
        "tolerance_seconds": int,
        "event_log_retention_days": float,
        "max_record_ids_per_event": int,
    },
    "retention": {"audit_retention_days": float, "tombstone_days": float},
}
# Numbers for which 0 means something (no limit, no backoff, no wait, no grace); every other
# number must be positive: a zero TTL, timeout or burst would break delivery at run time.
_ZERO_OK = {
    "rate_limit_per_second",
    "backoff_base_seconds",
    "backoff_max_seconds",
    "heartbeat_grace_seconds",
    "max_wait_in_job_seconds",
    "tolerance_seconds",
}


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
    problems: list[str] = []
    for key in raw:
        if key not in _SECTIONS and key != "sources":
            problems.append(f"{origin}: [{key}]: unknown section")
    sections = {name: _section(raw, name, origin, problems) for name in _SECTIONS}
    zeeg_raw = dict(sections["zeeg"])
    zeeg_raw["base_url"] = env.get("ZEEG_API_BASE_URL") or zeeg_raw["base_url"]
    if not str(zeeg_raw["base_url"]).startswith(("http://", "https://")):
        problems.append(f"{origin}: [zeeg] base_url: must be an http(s) URL")
    sources = parse_sources(raw.get("sources", {}), env, origin, problems, sections["intake"])
    sandbox = env.get("CONSUMER_SANDBOX") == "1"
    if sandbox and env.get("CONSUMER_SANDBOX_SECRET"):
        sources[SANDBOX_SOURCE] = sandbox_source(env["CONSUMER_SANDBOX_SECRET"])
    redis_url = env.get("REDIS_URL") or ""
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        # The value may hold a password: name the variable, never echo it.
        problems.append("environment: REDIS_URL: must start with redis://, rediss:// or unix://")
    port = env.get("PORT") or "8000"
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 0 < int(port) < 65536:
        problems.append("environment: PORT: must be a port number")
    if problems:
        raise ConfigError(problems)
    return Settings(
        zeeg=ZeegSettings(token=env.get("ZEEG_API_TOKEN") or None, **zeeg_raw),
        delivery=DeliverySettings(**sections["delivery"]),
        intake=IntakeSettings(**sections["intake"]),
        retention=RetentionSettings(**sections["retention"]),
        sources=sources,
        redis_url=env.get("REDIS_URL") or None,
        admin_token=env.get("CONSUMER_ADMIN_TOKEN") or None,
        port=int(port),
        sandbox=sandbox,
        config_path=origin,
    )


_DEFAULTS: dict[str, dict[str, Any]] = {
    "zeeg": {
        "base_url": DEFAULT_BASE_URL,
        "connect_timeout_seconds": 5.0,
        "read_timeout_seconds": 30.0,
        "rate_limit_per_second": 5.0,
        "burst": 5,
        "dry_run": False,
    },
    "delivery": {
        "max_attempts": 8,
        "backoff_base_seconds": 1.0,
        "backoff_max_seconds": 60.0,
        "sla_hours": 72.0,
        "auth_probe_seconds": 60.0,
        "maintenance_interval_seconds": 30,
        "job_timeout_seconds": 300,
        "job_heartbeat_seconds": 10,
        "heartbeat_grace_seconds": 20,
        "max_wait_in_job_seconds": 1.5,
    },
    "intake": {
        "dedupe_ttl_days": 7.0,
        "max_body_bytes": 1048576,
        "tolerance_seconds": 300,
        "event_log_retention_days": 30.0,
        "max_record_ids_per_event": 100,
    },
    "retention": {"audit_retention_days": 400.0, "tombstone_days": 35.0},
}


def _section(raw: Mapping[str, Any], name: str, origin: str, problems: list[str]) -> dict[str, Any]:
    values = dict(_DEFAULTS[name])
    table = raw.get(name, {})
    if not isinstance(table, dict):
        problems.append(f"{origin}: [{name}]: must be a table")
        return values
    for key, value in table.items():
        kind = _SECTIONS[name].get(key)
        if kind is None:
            problems.append(f"{origin}: [{name}] {key}: unknown key")
        elif not typed(value, kind):
            problems.append(f"{origin}: [{name}] {key}: must be {kind.__name__}")
        elif kind in (int, float) and value < 0:
            problems.append(f"{origin}: [{name}] {key}: must not be negative")
        elif kind in (int, float) and value == 0 and key not in _ZERO_OK:
            problems.append(f"{origin}: [{name}] {key}: must be greater than 0")
        else:
            values[key] = float(value) if kind is float else value
    return values
