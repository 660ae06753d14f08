"""Where Redis is: REDIS_URL, or a primary that Sentinel names (REDIS_SENTINELS).

Values are never echoed in a problem: a URL or a password may be in them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from consumer.settings.model import RedisSentinel

URL_SCHEMES = ("redis://", "rediss://", "unix://")
# Every variable that only means something with REDIS_SENTINELS.
SENTINEL_ONLY = (
    "REDIS_SENTINEL_MASTER",
    "REDIS_SENTINEL_USERNAME",
    "REDIS_SENTINEL_PASSWORD",
    "REDIS_SENTINEL_TLS",
    "REDIS_MASTER_USERNAME",
    "REDIS_MASTER_PASSWORD",
    "REDIS_MASTER_TLS",
    "REDIS_MASTER_DB",
    "REDIS_MASTER_WAIT_REPLICAS",
    "REDIS_TLS_CA_FILE",
)
FLAGS = {"1": True, "true": True, "0": False, "false": False}


def redis_target(
    env: Mapping[str, str], problems: list[str]
) -> tuple[str | None, RedisSentinel | None]:
    """REDIS_URL (checked) or the Sentinel settings; a problem for each malformed variable."""
    url = env.get("REDIS_URL") or None
    if url and not url.startswith(URL_SCHEMES):
        # The value may hold a password: name the variable, never echo it.
        problems.append("environment: REDIS_URL: must start with redis://, rediss:// or unix://")
    if not env.get("REDIS_SENTINELS"):
        problems.extend(
            f"environment: {name}: only means something with REDIS_SENTINELS"
            for name in SENTINEL_ONLY
            if env.get(name)
        )
        return url, None
    if url:
        problems.append("environment: REDIS_URL and REDIS_SENTINELS are both set: set one")
    return None, _sentinel(env, problems)


def _sentinel(env: Mapping[str, str], problems: list[str]) -> RedisSentinel | None:
    """The Sentinel settings, or None with the problems found."""
    before = len(problems)
    sentinels = _addresses(env["REDIS_SENTINELS"], problems)
    master = env.get("REDIS_SENTINEL_MASTER", "")
    if not master:
        problems.append("environment: REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS")
    elif not (master.isascii() and master.isprintable()) or " " in master or len(master) > 100:
        problems.append("environment: REDIS_SENTINEL_MASTER: must be a Sentinel master name")
    db = env.get("REDIS_MASTER_DB") or "0"
    if not (db.isascii() and db.isdigit() and len(db) <= 5):
        problems.append("environment: REDIS_MASTER_DB: must be a database number")
    wait = env.get("REDIS_MASTER_WAIT_REPLICAS") or "1"
    if not (wait.isascii() and wait.isdigit() and len(wait) <= 3):
        problems.append("environment: REDIS_MASTER_WAIT_REPLICAS: must be a number of replicas")
    ca_file = env.get("REDIS_TLS_CA_FILE") or None
    if ca_file is not None and not os.path.isfile(ca_file):
        problems.append("environment: REDIS_TLS_CA_FILE: not a readable file")
    sentinel_tls, tls = (
        _flag(env, "REDIS_SENTINEL_TLS", problems),
        _flag(env, "REDIS_MASTER_TLS", problems),
    )
    if len(problems) > before:
        return None
    return RedisSentinel(
        sentinels=sentinels,
        master=master,
        sentinel_username=env.get("REDIS_SENTINEL_USERNAME") or None,
        sentinel_password=env.get("REDIS_SENTINEL_PASSWORD") or None,
        sentinel_tls=sentinel_tls,
        username=env.get("REDIS_MASTER_USERNAME") or None,
        password=env.get("REDIS_MASTER_PASSWORD") or None,
        tls=tls,
        db=int(db),
        tls_ca_file=ca_file,
        wait_replicas=int(wait),
    )


def _addresses(text: str, problems: list[str]) -> tuple[tuple[str, int], ...]:
    """host:port,host:port (an IPv6 host in brackets) as pairs."""
    found = []
    for n, entry in enumerate(text.split(","), start=1):
        host, _, port = entry.strip().rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        ok = port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536
        if not host or not ok or not host.isascii() or not host.isprintable() or " " in host:
            problems.append(f"environment: REDIS_SENTINELS: entry {n} must be host:port")
            continue
        found.append((host, int(port)))
    return tuple(found)


def _flag(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    """A 1/0 (or true/false) variable; absent or empty is false."""
    text = (env.get(name) or "0").lower()
    if text not in FLAGS:
        problems.append(f"environment: {name}: must be 1 or 0 (true or false)")
        return False
    return FLAGS[text]
