"""Settings from environment variables: ZC_<SECTION>__<KEY> overrides that key of the file.

The variable's text is read as a TOML value when the key is not a string (so "8", "2.5",
"true" mean what they mean in the file) and then goes through schema.check_table, the one
validator: a bad value gets the file's message, prefixed with the variable's name. A ZC_
variable that names no section or key is a problem too, so a typo never goes unnoticed.
Source tables ([sources.<name>]) have no variables: see docs/environment.md for why.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from typing import Any

from consumer.settings.schema import Schema, check_table

PREFIX = "ZC_"
SEPARATOR = "__"
# Keys the environment sets through a variable of its own: the hint names it.
DEDICATED = {
    "zeeg": {"token": "ZEEG_API_TOKEN"},
    "alerts": {"webhook_url": "the variable [alerts] webhook_url_env names"},
}


def variable(section: str, key: str) -> str:
    """The environment variable that overrides [section] key."""
    return f"{PREFIX}{section.upper()}{SEPARATOR}{key.upper()}"


def section_overrides(
    env: Mapping[str, str], section: str, schema: Schema, problems: list[str]
) -> dict[str, Any]:
    """The valid values the environment gives for one section's keys."""
    values: dict[str, Any] = {}
    for key, spec in schema.keys.items():
        name = variable(section, key)
        if name not in env:
            continue
        text = env[name]
        value = text if spec.kind is str else _toml_value(text)
        values.update(
            check_table({key: value}, schema, f"environment: {name}: [{section}]", problems)
        )
    return values


def unknown_variables(
    env: Mapping[str, str], schemas: Mapping[str, Schema], problems: list[str]
) -> None:
    """A problem for every ZC_ variable that names no known section and key, with a hint."""
    known = {variable(s, k) for s, schema in schemas.items() for k in schema.keys}
    for name in sorted(env):
        if not name.startswith(PREFIX) or name in known:
            continue
        section, _, key = name[len(PREFIX) :].lower().partition(SEPARATOR)
        hint = _hint(section, key, schemas)
        problems.append(f"environment: {name}: not a setting ({hint})")


def _hint(section: str, key: str, schemas: Mapping[str, Schema]) -> str:
    """What the variable was probably meant to be."""
    dedicated = DEDICATED.get(section, {}).get(key)
    if dedicated:
        return f"set {dedicated} instead"
    if section == "sources":
        return "source tables are set in the file only; secrets come from their secret_env"
    if section not in schemas:
        close = difflib.get_close_matches(section, list(schemas), n=1)
        if close and key in schemas[close[0]].keys:
            return f"did you mean {variable(close[0], key)}?"
        return f"ZC_<SECTION>__<KEY>, section one of {', '.join(sorted(schemas))}"
    close = difflib.get_close_matches(key, list(schemas[section].keys), n=1)
    if close:
        return f"did you mean {variable(section, close[0])}?"
    return f"[{section}] keys: {', '.join(sorted(schemas[section].keys))}"


def _toml_value(text: str) -> Any:
    """text as a TOML value (8, 2.5, true, ["a"]); as given when it is not one, so that the
    validator's message says what kind was expected."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
