"""How outcomes are stored on the event hash: each record's outcome once, under
`o:<object>:<record>`, and a done target's list `t:<object>` pointing to them.

`o:` values (0.3.0 on) leave out what the field name says (object, record id) and what is
empty (no detail, no HTTP status): `{"outcome":"deleted","http_status":200}`. A `t:` list
holds, for each outcome, the record id (a string; "" for the target's `o:<object>:`) when
that field holds the same outcome, else the outcome itself as an object. Values written
before 0.3.0 (every outcome whole, in both places) read the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from consumer.models import Outcome

TARGET, RECORD, CREATED = "t:", "o:", "a:"  # prefixes of the per-target and per-record fields


def record_field(obj: str, record_id: str) -> str:
    """The field of one record's outcome ("" record id: the target's not_mapped)."""
    return f"{RECORD}{obj}:{record_id}"


def pack(outcome: Outcome) -> str:
    """An outcome as stored under its record field: without its object and record id."""
    fields = {
        k: v
        for k, v in outcome.to_dict().items()
        if k not in ("object", "record_id") and v not in ("", None)
    }
    return json.dumps(fields, separators=(",", ":"))


def unpack(obj: str, record_id: str, text: str) -> Outcome:
    """The outcome stored under record_field(obj, record_id), in either format."""
    fields: dict[str, Any] = json.loads(text)
    fields.setdefault("object", obj)
    fields.setdefault("record_id", record_id or None)
    return Outcome(**fields)


# KEYS: the event hash. ARGV: the target's field, then per outcome its record field, its
# packed value, and the JSON of a reference and of the whole outcome. A reference only where
# the record field holds that very outcome (the first run's, which this run returned).
TARGET_SCRIPT = """
local parts = {}
for i = 2, #ARGV, 4 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    parts[#parts + 1] = ARGV[i + 2]
  else
    parts[#parts + 1] = ARGV[i + 3]
  end
end
redis.call('HSET', KEYS[1], ARGV[1], '[' .. table.concat(parts, ',') .. ']')
"""


def target_args(obj: str, outcomes: list[Outcome]) -> list[str]:
    """TARGET_SCRIPT's ARGV for a target's outcomes."""
    args = [f"{TARGET}{obj}"]
    for o in outcomes:
        rid = o.record_id or ""
        whole = json.dumps(o.to_dict(), separators=(",", ":"))
        args += [record_field(obj, rid), pack(o), json.dumps(rid), whole]
    return args


def target_outcomes(obj: str, value: str, data: Mapping[str, str]) -> list[Outcome]:
    """A stored `t:` list's outcomes, references resolved in data (the whole event hash).

    Raises ValueError, TypeError or KeyError for a value no version wrote (a hand edit).
    """
    found = []
    for item in json.loads(value):
        if isinstance(item, str):
            found.append(unpack(obj, item, data[record_field(obj, item)]))
        else:
            found.append(Outcome(**item))
    return found
