"""SPEC §2: `make run` / `make test` set up a fresh Debian machine, python3-venv included."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A python3 as Debian ships it without python3-venv: no ensurepip; `-m venv` makes a stub venv.
FAKE_PYTHON = """#!/bin/sh
case "$*" in
  *"import ensurepip"*) exit 1 ;;
  "-m venv "*) mkdir -p "$3/bin"; printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/pip";
               chmod +x "$3/bin/pip" ;;
esac
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_deps_installs_python3_venv_with_apt_when_ensurepip_is_missing(tmp_path: Path) -> None:
    """Without ensurepip, `make deps` installs python3-venv before creating the venv."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    argv = ["make", "-s", "deps", f"PYTHON={fake}", "SUDO=echo"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y -qq python3-venv" in done.stdout
