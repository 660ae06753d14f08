"""The zeeg-consumer commands that need no running service, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path


def test_sandbox_file_is_created_private(tmp_path: Path) -> None:
    """var/sandbox.json (webhook secret, token) is 0600 from its creation."""
    import stat

    from consumer.devtools.runner import sandbox_env

    env_vars = sandbox_env(tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:2/v2", None)
    mode = stat.S_IMODE((tmp_path / "sandbox.json").stat().st_mode)
    assert mode == 0o600
    assert (
        json.loads((tmp_path / "sandbox.json").read_text())["secret"]
        == env_vars["CONSUMER_SANDBOX_SECRET"]
    )
