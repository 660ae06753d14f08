"""Source tables of the configuration: one upstream sender each, validated with its preset."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from consumer.models import OBJECT_SLUG, SOURCE_NAME
from consumer.paths import path_problem
from consumer.settings.model import IntakeSettings, SourceConfig, Target
from consumer.settings.presets import (
    BATCH_ARRAY,
    DEFAULT_EVENT_IDS,
    DEFAULT_HEADERS,
    OPTIONS,
    PRESETS,
    SCHEMES,
    apply,
)
from consumer.settings.schema import Key, Schema, check_table
from consumer.settings.secrets import secret_problem

SANDBOX_SOURCE = "sandbox"
_RESOLVER = re.compile(r"^(store|payload:[\w.-]+|header:[\w-]+|assert:[\w.-]+)\Z")

# The keys of a [sources.<name>] table. Their defaults come from the preset and the scheme,
# so no dataclass declares them; an `object` key has a shape of its own, checked by its reader.
SOURCE_KEYS = Schema(
    {
        "scheme": Key(str),
        "preset": Key(str),
        "secret_env": Key(object),  # a variable name or a list of them: _secret_vars
        "signature_header": Key(str),
        "event_types": Key(list),
        "event_id": Key(str),
        "event_type": Key(str),
        "external_id": Key(object),  # a path, or a table of paths by event type: _external_ids
        "occurred_at": Key(str),
        "targets": Key(list),
        "tolerance_seconds": Key(int),
        "insecure_allow_unsigned": Key(bool),
        "options": Key(dict),
    }
)


def parse_sources(
    table: Any,
    env: Mapping[str, str],
    origin: str,
    problems: list[str],
    intake: IntakeSettings,
) -> dict[str, SourceConfig]:
    """The [sources] tables as SourceConfigs; a problem for everything wrong in them."""
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
    intake: IntakeSettings,
) -> SourceConfig | None:
    """One source table checked and completed from its preset, or None if anything is wrong."""
    before = len(problems)
    check_table(body, SOURCE_KEYS, where, problems)
    merged = _merged(body, where, problems)
    scheme = _scheme(merged, where, problems)
    secrets = _secrets(merged, env, where, problems)
    _required(merged, scheme, where, problems)
    targets = _targets(merged.get("targets"), where, problems)
    external_ids = _external_ids(merged, merged.get("event_types"), where, problems)
    problems.extend(f"{where} {p}" for p in _path_problems(merged))
    if len(problems) > before or scheme is None:
        return None
    return _config(
        name, merged, intake, scheme=scheme, secrets=secrets, targets=targets, ids=external_ids
    )


def _config(
    name: str,
    merged: Mapping[str, Any],
    intake: IntakeSettings,
    *,
    scheme: str,
    secrets: tuple[str, ...],
    targets: tuple[Target, ...],
    ids: dict[str, str],
) -> SourceConfig:
    """The SourceConfig of a source table found valid, from its checked parts."""
    types = merged["event_types"]
    return SourceConfig(
        name=name,
        scheme=scheme,
        secrets=secrets,
        signature_header=merged.get("signature_header") or DEFAULT_HEADERS.get(scheme),
        event_types=tuple(types),
        event_id=merged["event_id"],
        event_type=merged.get("event_type", "type"),
        external_id=ids.get(types[0], merged["external_id"]),
        occurred_at=merged.get("occurred_at"),
        targets=targets,
        tolerance_seconds=merged.get("tolerance_seconds", intake.tolerance_seconds),
        max_record_ids=intake.max_record_ids_per_event,
        insecure_allow_unsigned=bool(merged.get("insecure_allow_unsigned", False)),
        preset=merged.get("preset"),
        options=merged.get("options", {}),
        external_ids=ids,
    )


def _merged(body: Mapping[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """The source table with its preset filled in, and its options checked."""
    preset_name = body.get("preset")
    preset: dict[str, Any] = {}
    if preset_name is not None:
        if preset_name not in PRESETS:
            problems.append(f"{where} preset: unknown preset {preset_name!r}")
        preset = PRESETS.get(preset_name, {})
    merged = apply(preset, body)
    options = merged.get("options", {})
    if not isinstance(options, Mapping):
        # Already named by check_table ("options: must be dict"): read as no options.
        merged["options"] = options = {}
    check_table(options, OPTIONS, where, problems)
    return merged


def _scheme(merged: Mapping[str, Any], where: str, problems: list[str]) -> str | None:
    """The source's scheme as given (with a problem unless we know it); None if not a string."""
    scheme = merged.get("scheme")
    if isinstance(scheme, str) and scheme in SCHEMES:
        return scheme
    problems.append(f"{where} scheme: must be one of {', '.join(SCHEMES)}")
    return scheme if isinstance(scheme, str) else None


def _required(merged: dict[str, Any], scheme: str | None, where: str, problems: list[str]) -> None:
    """Fill event_id from the scheme's default; name what is missing or unsafe."""
    if not merged.get("event_id") and scheme is not None:
        merged["event_id"] = DEFAULT_EVENT_IDS.get(scheme)
    if scheme == "none" and not merged.get("insecure_allow_unsigned"):
        problems.append(f"{where} scheme: 'none' requires insecure_allow_unsigned = true")
    for key in ("event_id", "external_id"):
        if not merged.get(key):
            problems.append(f"{where} {key}: required (a dotted path or header:<Name>)")
    types = merged.get("event_types", [])
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        problems.append(f"{where} event_types: a non-empty list of strings is required")


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
