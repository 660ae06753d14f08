"""The installed rq and gunicorn lie inside the bounds pyproject.toml declares.

consumer/delivery/worker.py overrides RQ internals and consumer/web/server.py extends
gunicorn's gthread worker: both were tested with one major each, so an install outside the
declared range must fail here rather than in production.
"""

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    reqs = (Requirement(line) for line in project["dependencies"])
    return {req.name: req for req in reqs}


@pytest.mark.parametrize("name", ["rq", "gunicorn"])
def test_installed_version_is_inside_the_declared_bounds(name: str) -> None:
    req = _declared()[name]
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in req.specifier), (
        f"{name} needs an upper bound in pyproject.toml"
    )
    installed = version(name)
    assert req.specifier.contains(installed, prereleases=True), (
        f"installed {name} {installed} is outside {req.specifier} declared in pyproject.toml"
    )
