"""Text at the trust boundary: line splitting, record-id caps, free text, private Redis files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consumer.errors import ConfigError
from tests.helpers import make_settings


@pytest.mark.parametrize("value", [0, -1, "100", 1.5, True])
def test_cap_must_be_a_positive_whole_number(value: Any) -> None:
    """A zero or negative cap would refuse every hinted event: the config is refused instead."""
    with pytest.raises(ConfigError, match="max_record_ids_per_event"):
        make_settings(intake={"max_record_ids_per_event": value})


def test_sandbox_file_is_private(tmp_path: Path) -> None:
    """sandbox.json holds the sandbox's webhook secret and token: 0600 from the start."""
    from consumer.devtools import runner

    runner.sandbox_env(tmp_path / "var", "http://127.0.0.1:1", "http://127.0.0.1:2", None)
    assert oct((tmp_path / "var" / "sandbox.json").stat().st_mode & 0o777) == "0o600"
