"""The folded trail: a done event's trail as one string instead of a list (since 0.4.0).

When an event is done no run appends to its trail any more, so `mark_done` folds it: the
same key `zc:trail:<source>:<event_id>` becomes a string of the entries, one a line, each
with the substrings every entry repeats (`{"at":`, `,"what":"outcome","object":"`, ...)
replaced by one control character from TOKENS. JSON text never holds a raw control
character, so the substitution is exact both ways; a trail holding one (a hand edit) stays
a list. A later entry (a replay, an operator's note) unfolds it into a list first.

Five entries: about 410 bytes of JSON in a quicklist (658 bytes of used_memory) become a
string of about 220 (about 380 bytes). TOKENS is a stored format: append to it, never
change or reorder it.
"""

from __future__ import annotations

import re

# Code point -> the text it stands for; "\n" (10) separates the entries.
TOKENS = {
    1: '{"at":',
    2: ',"what":"run","job_id":"',
    3: '{"what":"attempt","object":"',
    4: '","record_id":"',
    5: ',"what":"outcome","object":"',
    6: '","outcome":"',
    7: ',"http_status":',
    8: ',"detail":""}',
    9: ',"what":"done"}',
    11: '","at":',
    12: ',"status":',
    13: "deleted",
    14: ',"job_id":"',
    15: ',"what":"',
    16: ',"retry_in":',
    17: ',"previous_job_id":"',
    18: "not_found",
    19: "not_mapped",
    20: ',"verified":',
    21: '"}',
}
_EXPAND = dict(TOKENS)
# Longest first, so a token inside another (`"}` in `,"detail":""}`) never splits it.
_ORDER = sorted(TOKENS, key=lambda code: -len(TOKENS[code]))


def expand(folded: str) -> list[str]:
    """The entries (JSON text) of a folded trail, oldest first."""
    return [line.translate(_EXPAND) for line in folded.split("\n") if line]


def _lua_string(text: str) -> str:
    """text as a Lua long string (no escapes: TOKENS hold no `]]`)."""
    return f"[[{text}]]"


def _lua_pattern(text: str) -> str:
    """text as a Lua pattern matching itself (every punctuation character escaped)."""
    return _lua_string(re.sub(r"([^A-Za-z0-9])", r"%\1", text))


def _lua_tables() -> str:
    expand_rows = ", ".join(f"[{c}] = {_lua_string(TOKENS[c])}" for c in sorted(TOKENS))
    compact_rows = ", ".join(f"{{{_lua_pattern(TOKENS[c])}, string.char({c})}}" for c in _ORDER)
    return f"local EXPAND = {{{expand_rows}}}\nlocal COMPACT = {{{compact_rows}}}\n"


FIELD = "trail"  # the event hash's field holding a folded trail that fits in it
# Lua functions the trail scripts share (KEYS[1] the trail, KEYS[2] the event hash): unfold()
# turns a folded trail back into a list with the event's TTL; fold(probe) folds the list,
# unless an entry holds a control character, into the hash's trail field if the value
# leaves a listpack hash a listpack (tried on the scratch key probe: the limit is the
# server's hash-max-listpack-value, which a script cannot read), else into the trail key.
LUA = (
    _lua_tables()
    + r"""
local function expand(line)
  return (string.gsub(line, '[\1-\31]', function(c) return EXPAND[string.byte(c)] end))
end
local function unfold()
  local text = redis.call('HGET', KEYS[2], 'FIELD')
  local ms = redis.call('PTTL', KEYS[2])
  if text then
    redis.call('HDEL', KEYS[2], 'FIELD')
  elseif redis.call('TYPE', KEYS[1]).ok == 'string' then
    text, ms = redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])
    redis.call('DEL', KEYS[1])
  else
    return
  end
  for line in string.gmatch(text, '[^\n]+') do redis.call('RPUSH', KEYS[1], expand(line)) end
  if ms > 0 then redis.call('PEXPIRE', KEYS[1], ms) end
end
local function fits(probe, text)
  if redis.call('PTTL', KEYS[2]) < 0 then return false end
  if redis.call('OBJECT', 'ENCODING', KEYS[2]) == 'hashtable' then return true end
  redis.call('HSET', probe, 'x', text)
  local ok = redis.call('OBJECT', 'ENCODING', probe) == 'listpack'
  redis.call('DEL', probe)
  return ok
end
local function fold(probe)
  local lines = redis.call('LRANGE', KEYS[1], 0, -1)
  for i, line in ipairs(lines) do
    if line == '' or string.find(line, '[%z\1-\31]') then return 0 end
    for _, sub in ipairs(COMPACT) do line = string.gsub(line, sub[1], sub[2]) end
    lines[i] = line
  end
  local text, ms = table.concat(lines, '\n'), redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  if fits(probe, text) then
    redis.call('HSET', KEYS[2], 'FIELD', text)
    return 2
  end
  redis.call('SET', KEYS[1], text)
  if ms > 0 then redis.call('PEXPIRE', KEYS[1], ms) end
  return 1
end
""".replace("FIELD", FIELD)
)
