"""Settings from config/consumer.toml plus the environment: the only reader of os.environ."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumer.errors import ConfigError
from consumer.models import OBJECT_SLUG, SOURCE_NAME
from consumer.presets import (
    DEFAULT_EVENT_IDS,
    DEFAULT_HEADERS,
    PRESETS,
    SCHEMES,
    apply,
    option_problems,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "consumer.toml"
DEFAULT_BASE_URL = "https://api.zeeg.me/v2"
SANDBOX_SOURCE = "sandbox"
_RESOLVER = re.compile(r"^(store|payload:[\w.-]+|header:[\w-]+|assert:[\w.-]+)\Z")


@dataclass(frozen=True)
class Target:
    """A Zeeg object whose records are erased, and how their UUIDs are resolved."""

    object: str
    resolve: tuple[str, ...] = ("store",)


@dataclass(frozen=True)
class SourceConfig:
    """One upstream sender: how to verify its webhooks and read its events."""

    name: str
    scheme: str
    secrets: tuple[str, ...] = field(repr=False)
    signature_header: str | None
    event_types: tuple[str, ...]
    event_id: str
    event_type: str
    external_id: str
    occurred_at: str | None
    targets: tuple[Target, ...]
    tolerance_seconds: int
    insecure_allow_unsigned: bool = False
    preset: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


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

_SOURCE_KEYS = {
    "scheme": str,
    "preset": str,
    "secret_env": str,
    "signature_header": str,
    "event_types": list,
    "event_id": str,
    "event_type": str,
    "external_id": str,
    "occurred_at": str,
    "targets": list,
    "tolerance_seconds": int,
    "insecure_allow_unsigned": bool,
    "options": dict,
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
    sources = _sources(raw.get("sources", {}), env, origin, problems, sections["intake"])
    sandbox = env.get("CONSUMER_SANDBOX") == "1"
    if sandbox and env.get("CONSUMER_SANDBOX_SECRET"):
        sources[SANDBOX_SOURCE] = sandbox_source(env["CONSUMER_SANDBOX_SECRET"])
    redis_url = env.get("REDIS_URL") or ""
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        # The value may hold a password: name the variable, never echo it.
        problems.append("environment: REDIS_URL: must start with redis://, rediss:// or unix://")
    port = env.get("PORT") or "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
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
    },
    "retention": {"audit_retention_days": 400.0, "tombstone_days": 35.0},
}


def _typed(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


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
        elif not _typed(value, kind):
            problems.append(f"{origin}: [{name}] {key}: must be {kind.__name__}")
        elif kind in (int, float) and value < 0:
            problems.append(f"{origin}: [{name}] {key}: must not be negative")
        elif kind in (int, float) and value == 0 and key not in _ZERO_OK:
            problems.append(f"{origin}: [{name}] {key}: must be greater than 0")
        else:
            values[key] = float(value) if kind is float else value
    return values


def _sources(
    table: Any,
    env: Mapping[str, str],
    origin: str,
    problems: list[str],
    intake: Mapping[str, Any],
) -> dict[str, SourceConfig]:
    if not isinstance(table, dict):
        problems.append(f"{origin}: [sources]: must be a table of sources")
        return {}
    sources = {}
    for name, body in table.items():
        where = f"{origin}: [sources.{name}]"
        if not SOURCE_NAME.fullmatch(name):
            problems.append(f"{where}: name must match {SOURCE_NAME.pattern}")
            continue
        if not isinstance(body, dict):
            problems.append(f"{where}: must be a table")
            continue
        source = _source(name, body, env, where, problems, intake)
        if source is not None:
            sources[name] = source
    return sources


def _source(
    name: str,
    body: Mapping[str, Any],
    env: Mapping[str, str],
    where: str,
    problems: list[str],
    intake: Mapping[str, Any],
) -> SourceConfig | None:
    before = len(problems)
    for key, value in body.items():
        kind = _SOURCE_KEYS.get(key)
        if kind is None:
            problems.append(f"{where} {key}: unknown key")
        elif not _typed(value, kind):
            problems.append(f"{where} {key}: must be {kind.__name__}")
    preset_name = body.get("preset")
    preset: dict[str, Any] = {}
    if preset_name is not None:
        if preset_name not in PRESETS:
            problems.append(f"{where} preset: unknown preset {preset_name!r}")
        preset = PRESETS.get(preset_name, {})
    merged = apply(preset, body)
    problems.extend(f"{where} {p}" for p in option_problems(merged.get("options", {})))
    scheme = merged.get("scheme")
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        problems.append(f"{where} scheme: must be one of {', '.join(SCHEMES)}")
    secrets = _secrets(merged, env, where, problems)
    if not merged.get("event_id") and isinstance(scheme, str):
        merged["event_id"] = DEFAULT_EVENT_IDS.get(scheme)
    if scheme == "none" and not merged.get("insecure_allow_unsigned"):
        problems.append(f"{where} scheme: 'none' requires insecure_allow_unsigned = true")
    for key in ("event_id", "external_id"):
        if not merged.get(key):
            problems.append(f"{where} {key}: required (a dotted path or header:<Name>)")
    types = merged.get("event_types", [])
    if not types or not all(isinstance(t, str) for t in types):
        problems.append(f"{where} event_types: a non-empty list of strings is required")
    targets = _targets(merged.get("targets"), where, problems)
    if len(problems) > before or not isinstance(scheme, str):
        return None
    return SourceConfig(
        name=name,
        scheme=scheme,
        secrets=secrets,
        signature_header=merged.get("signature_header") or DEFAULT_HEADERS.get(scheme),
        event_types=tuple(types),
        event_id=merged["event_id"],
        event_type=merged.get("event_type", "type"),
        external_id=merged["external_id"],
        occurred_at=merged.get("occurred_at"),
        targets=targets,
        tolerance_seconds=merged.get("tolerance_seconds", intake["tolerance_seconds"]),
        insecure_allow_unsigned=bool(merged.get("insecure_allow_unsigned", False)),
        preset=preset_name,
        options=merged.get("options", {}),
    )


def _secrets(
    merged: Mapping[str, Any], env: Mapping[str, str], where: str, problems: list[str]
) -> tuple[str, ...]:
    if merged.get("scheme") == "none":
        return ()
    var = merged.get("secret_env")
    if not var:
        problems.append(f"{where} secret_env: required (the variable holding the secret)")
        return ()
    value = env.get(var, "")
    # Several secrets may be active during a rotation: separated by spaces or commas.
    secrets = tuple(s for s in re.split(r"[\s,]+", value) if s)
    if not secrets:
        problems.append(f"{where} secret_env: environment variable {var} is not set")
    return secrets


def _targets(value: Any, where: str, problems: list[str]) -> tuple[Target, ...]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where} targets: a non-empty list of {{ object = ... }} is required")
        return ()
    targets = []
    for i, item in enumerate(value):
        obj = item.get("object") if isinstance(item, dict) else None
        if not isinstance(obj, str) or not OBJECT_SLUG.fullmatch(obj):
            problems.append(f"{where} targets[{i}].object: must match {OBJECT_SLUG.pattern}")
            continue
        resolve = item.get("resolve", ["store"])
        if not isinstance(resolve, list) or not resolve:
            problems.append(f"{where} targets[{i}].resolve: must be a non-empty list")
            continue
        bad = [r for r in resolve if not isinstance(r, str) or not _RESOLVER.match(r)]
        if bad:
            problems.append(f"{where} targets[{i}].resolve: unknown resolver(s) {bad}")
            continue
        targets.append(Target(object=obj, resolve=tuple(resolve)))
    return tuple(targets)


def sandbox_source(secret: str) -> SourceConfig:
    """The built-in source `zeeg-consumer run --sandbox` adds for send-test-event."""
    return SourceConfig(
        name=SANDBOX_SOURCE,
        scheme="standard-webhooks",
        secrets=(secret,),
        signature_header=None,
        event_types=("contact.deleted",),
        event_id="header:webhook-id",
        event_type="type",
        external_id="data.id",
        occurred_at="timestamp",
        targets=(Target("contacts", ("payload:data.zeeg_id", "store")),),
        tolerance_seconds=300,
    )
