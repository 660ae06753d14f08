"""The dedupe window: how the intake script tells a redelivery from a new event.

Since 0.4.0 the event hash itself is the duplicate marker while it outlives the window
(`[intake] dedupe_ttl_days` shorter than `event_log_retention_days` by CLOCK_SLACK or more,
the defaults 7 and 30): an event hash whose `received_at` lies inside the window answers
the redelivery. Only a window longer than that writes the `zc:dedupe:<source>:<event_id>`
key (its value the first job id), as every 0.3.0 acceptance did; the script reads such a
key first, so those keys keep deduping after an upgrade.

The duplicate's answer names the first delivery's job. The hash's `job_id` moves on (a
retry, a replay, a requeue gives the event a new job): the first move keeps the one before
it in `first_job_id`, which is what the hash answers a duplicate with.
"""

from __future__ import annotations

from redis.client import Pipeline

DAY = 86400
# The hash must outlive the window by this much to stand for the dedupe key: its TTL runs
# on Redis's clock and the window on the caller's, which may lag Redis's a little.
CLOCK_SLACK = 3600
FIRST_JOB = "first_job_id"

# The intake script's dedupe check, a Lua fragment setting `existing` (the earlier job id,
# or false). KEYS[1]: the dedupe key, KEYS[2]: the event hash. ARGV[3]: the window in
# seconds when the hash dedupes, else "0"; ARGV[4]: now (epoch seconds). A hash without
# `external_id` is not an event (a stray write after it expired) and dedupes nothing.
CHECK = f"""
local existing = redis.call('GET', KEYS[1])
if not existing and ARGV[3] ~= '0' then
  local got = redis.call('HMGET', KEYS[2], 'received_at', 'external_id', 'job_id', '{FIRST_JOB}')
  local at = tonumber(got[1])
  if at and got[2] and at + tonumber(ARGV[3]) > tonumber(ARGV[4]) then
    existing = got[4] or got[3]
  end
end
"""

# Give an event a new job: KEYS[1] the event hash, ARGV[1] the job id, then field, value
# pairs set with it. The first time the job id changes, the one before stays first_job_id.
_SET_JOB = f"""
local old = redis.call('HGET', KEYS[1], 'job_id')
if old and old ~= ARGV[1] then redis.call('HSETNX', KEYS[1], '{FIRST_JOB}', old) end
redis.call('HSET', KEYS[1], 'job_id', unpack(ARGV))
"""


def window(dedupe_ttl_days: float, retention_days: float) -> int:
    """The window in seconds the event hash answers for, 0 if it does not outlive it."""
    seconds = int(dedupe_ttl_days * DAY)
    return seconds if int(retention_days * DAY) - seconds >= CLOCK_SLACK else 0


def set_job(pipe: Pipeline, key: str, job_id: str, **fields: str | int) -> None:
    """Queue the write of an event's new job id (and fields) on pipe, the first kept."""
    args = [job_id]
    for name, value in fields.items():
        args += [name, str(value)]
    pipe.eval(_SET_JOB, 1, key, *args)
