"""The redis-server that compose.yaml and the Redis image start, beside the embedded one."""

from __future__ import annotations

from pathlib import Path

import yaml

from consumer.devtools import runner

ROOT = Path(__file__).resolve().parents[2]


def test_compose_redis_runs_with_the_embedded_redis_encoding_settings() -> None:
    """compose.yaml's and the image's redis-server get the listpack setting runner.py uses."""
    command = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["redis"]["command"]
    dockerfile = (ROOT / "deploy" / "redis.Dockerfile").read_text()
    args = runner.REDIS_MEMORY_ARGS
    for flag, value in zip(args[::2], args[1::2], strict=True):
        assert command[command.index(flag) + 1] == value
        assert f'"{flag}", "{value}"' in dockerfile
