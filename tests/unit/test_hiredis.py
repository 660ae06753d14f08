"""redis-py parses replies and packs commands with hiredis, which pyproject.toml requires.

Without it redis-py falls back to its Python parser and packer silently (same replies, more
CPU per webhook and per erasure: docs/benchmarks.md), so an install that lost it fails here.
"""

import redis
import redis.connection
import redis.utils


def test_redis_py_parses_and_packs_with_hiredis() -> None:
    assert redis.utils.HIREDIS_AVAILABLE, "hiredis (pyproject.toml) is not installed"
    assert redis.connection.DefaultParser.__name__ == "_HiredisParser"
    conn = redis.Redis().connection_pool.make_connection()
    assert type(conn._command_packer).__name__ == "HiredisRespSerializer"
