"""Source tables of the configuration: one upstream sender each, validated with its preset."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consumer.models import OBJECT_SLUG, SOURCE_NAME
from consumer.paths import path_problem
from consumer.settings.presets import (
    BATCH_ARRAY,
    DEFAULT_EVENT_IDS,
    DEFAULT_HEADERS,
    PRESETS,
    SCHEMES,
    apply,
    option_problems,
)
from consumer.settings.secrets import secret_problem

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
    # external_id given as a table: the path per event type (external_id is then the first's).
    external_ids: Mapping[str, str] = field(default_factory=dict)
    max_record_ids: int = 100  # [intake] max_record_ids_per_event

    def external_id_path(self, event_type: str) -> str:
        """The field path of the external id in an event of this type."""
        return self.external_ids.get(event_type, self.external_id)

    def external_id_prefix(self, event_type: str) -> str:
        """The prefix options.external_id_prefix strips for this event type ("" for none)."""
        prefix = self.options.get("external_id_prefix") or ""
        if isinstance(prefix, Mapping):
            prefix = prefix.get(event_type, "")
        return prefix if isinstance(prefix, str) else ""


_SOURCE_KEYS = {
    "scheme": str,
    "preset": str,
    "secret_env": object,  # a variable name or a list of them: checked by _secret_vars
    "signature_header": str,
    "event_types": list,
    "event_id": str,
    "event_type": str,
    "external_id": object,  # a path, or a table of paths by event type: _external_ids checks
    "occurred_at": str,
    "targets": list,
    "tolerance_seconds": int,
    "insecure_allow_unsigned": bool,
    "options": dict,
}


def typed(value: Any, kind: type) -> bool:
    """Whether a TOML value has the kind a key asks for (bools are not numbers)."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_sources(
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
        elif not typed(value, kind):
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
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        problems.append(f"{where} event_types: a non-empty list of strings is required")
    targets = _targets(merged.get("targets"), where, problems)
    external_ids = _external_ids(merged, types, where, problems)
    problems.extend(f"{where} {p}" for p in _path_problems(merged))
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
        external_id=external_ids.get(types[0], merged["external_id"]),
        occurred_at=merged.get("occurred_at"),
        targets=targets,
        tolerance_seconds=merged.get("tolerance_seconds", intake["tolerance_seconds"]),
        insecure_allow_unsigned=bool(merged.get("insecure_allow_unsigned", False)),
        preset=preset_name,
        options=merged.get("options", {}),
        external_ids=external_ids,
        max_record_ids=intake["max_record_ids_per_event"],
    )


def _external_ids(
    merged: Mapping[str, Any], types: Any, where: str, problems: list[str]
) -> dict[str, str]:
    """external_id as a table of paths by event type; every deletion type needs one."""
    value = merged.get("external_id")
    if isinstance(value, str) or value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        problems.append(
            f"{where} external_id: must be a path or a table of event type = path strings"
        )
        return {}
    listed = types if isinstance(types, list) else []
    missing = [t for t in listed if isinstance(t, str) and t not in value] if value else []
    if missing:
        problems.append(f"{where} external_id: no path for event type(s) {missing}")
    return dict(value)


def _path_problems(merged: Mapping[str, Any]) -> list[str]:
    """Malformed field paths of a source, found at load rather than on the first webhook."""
    paths = {k: merged.get(k) for k in ("event_id", "event_type", "occurred_at")}
    external = merged.get("external_id")
    if isinstance(external, dict):
        paths.update({f"external_id.{t!r}": p for t, p in external.items()})
    else:
        paths["external_id"] = external
    batch = merged.get("options", {}).get("batch")
    if batch != BATCH_ARRAY:
        paths["options.batch"] = batch
    found = ((k, path_problem(p)) for k, p in paths.items() if isinstance(p, str) and p)
    return [f"{key}: {problem}" for key, problem in found if problem]


def _secrets(
    merged: Mapping[str, Any], env: Mapping[str, str], where: str, problems: list[str]
) -> tuple[str, ...]:
    scheme = merged.get("scheme")
    if scheme == "none":
        return ()
    secrets = []
    # Each variable holds one secret, whole: a rotation lists a second variable. Splitting a
    # value would turn "Basic <b64>" or a passphrase into short words each accepted alone.
    for var in _secret_vars(merged.get("secret_env"), where, problems):
        secret = env.get(var, "").strip()
        problem = "is not set" if not secret else secret_problem(str(scheme), secret)
        if problem:
            problems.append(f"{where} secret_env: environment variable {var} {problem}")
        else:
            secrets.append(secret)
    return tuple(secrets)


def _secret_vars(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """The variable names secret_env lists: one string, or a non-empty list of distinct ones."""
    if value is None or value == "":
        problems.append(f"{where} secret_env: required (the variable holding the secret)")
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        problems.append(f"{where} secret_env: must be a variable name or a list of them")
        return ()
    if len(set(names)) < len(names):
        problems.append(f"{where} secret_env: a variable is listed twice")
        return ()
    return tuple(names)


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
