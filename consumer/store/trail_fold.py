"""The folded trail: a done event's trail in about half the bytes (since 0.4.0).

When an event is done no run appends to its trail any more, so `mark_done` folds it: its
entries, one a line, each with the substrings entries repeat (`{"at":`,
`,"what":"outcome","object":"`, ...) replaced by one control character from TOKENS, go to
the event hash's `trail` field where that keeps the hash a listpack (the value fits the
server's hash-max-listpack-value: 256 at the project's Redis), else to the trail key as a
string. JSON text never holds a raw control character, so the substitution is exact both
ways; a trail holding one (a hand edit) stays a list. A later entry (a replay, an
operator's note) unfolds the trail into a list first: its folded text becomes the list's
first element, marked with CHUNK, and the next fold takes it as it is.

Five entries: about 410 bytes of JSON in a quicklist (658 bytes of used_memory) become
about 220 bytes in the hash (256 bytes of used_memory; 336 as a string). TOKENS is a stored
format: append to it, never change or reorder it.
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
CHUNK = "\x1f"  # starts a list element that holds folded lines (an unfolded trail)
FIELD = "trail"  # the event hash's field holding a folded trail that fits in it
_EXPAND = dict(TOKENS)
# Longest first, so a token inside another (`"}` in `,"detail":""}`) never splits it.
_ORDER = sorted(TOKENS, key=lambda code: -len(TOKENS[code]))


def expand(folded: str) -> list[str]:
    """The entries (JSON text) of folded lines, oldest first."""
    return [line.translate(_EXPAND) for line in folded.split("\n") if line]


def entries(stored: list[str]) -> list[str]:
    """The entries of a trail list, its folded chunk (if unfolded) expanded in place."""
    found: list[str] = []
    for element in stored:
        found += expand(element[1:]) if element.startswith(CHUNK) else [element]
    return found


def _lua_pattern(text: str) -> str:
    """text as a Lua long string holding a pattern that matches itself (TOKENS hold no
    `]]`; every punctuation character escaped)."""
    escaped = re.sub(r"([^A-Za-z0-9])", r"%\1", text)
    return f"[[{escaped}]]"


_COMPACT_ROWS = ", ".join(f"{{{_lua_pattern(TOKENS[c])}, string.char({c})}}" for c in _ORDER)
# Lua of the trail scripts (KEYS[1] the trail, KEYS[2] the event hash). UNFOLD: unfold()
# turns a folded trail back into a list (its folded text one CHUNK element) with the
# event's TTL. FOLD: fold() folds the list into the hash's field if the value leaves a
# listpack hash a listpack (tried as a hash on the trail key, deleted by then: a script
# cannot read hash-max-listpack-value), else into the trail key as a string.
UNFOLD = r"""
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
  redis.call('RPUSH', KEYS[1], 'CHUNK' .. text)
  if ms > 0 then redis.call('PEXPIRE', KEYS[1], ms) end
end
"""
FOLD = (
    f"local COMPACT = {{{_COMPACT_ROWS}}}\n"
    + r"""
local function fits(text)
  if redis.call('PTTL', KEYS[2]) < 0 then return false end
  if redis.call('OBJECT', 'ENCODING', KEYS[2]) == 'hashtable' then return true end
  redis.call('HSET', KEYS[1], 'x', text)
  local ok = redis.call('OBJECT', 'ENCODING', KEYS[1]) == 'listpack'
  redis.call('DEL', KEYS[1])
  return ok
end
local function fold()
  local lines = redis.call('LRANGE', KEYS[1], 0, -1)
  for i, line in ipairs(lines) do
    if string.sub(line, 1, 1) == 'CHUNK' then
      lines[i] = string.sub(line, 2)
    elseif line == '' or string.find(line, '[%z\1-\31]') then
      return 0
    else
      for _, sub in ipairs(COMPACT) do line = string.gsub(line, sub[1], sub[2]) end
      lines[i] = line
    end
  end
  local text, ms = table.concat(lines, '\n'), redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  if fits(text) then
    redis.call('HSET', KEYS[2], 'FIELD', text)
    return 2
  end
  redis.call('SET', KEYS[1], text)
  if ms > 0 then redis.call('PEXPIRE', KEYS[1], ms) end
  return 1
end
"""
)
UNFOLD, FOLD = (
    lua.replace("'FIELD'", f"'{FIELD}'").replace("'CHUNK'", "'\\031'") for lua in (UNFOLD, FOLD)
)
