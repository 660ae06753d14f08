"""Settings from the environment: ZC_<SECTION>__<KEY> overrides, and where Redis is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from consumer.errors import ConfigError
from consumer.settings import DEFAULT_CONFIG, load_settings, settings_from_dict


def _problems(env: dict[str, str], raw: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as e:
        settings_from_dict(raw or {}, env, "t.toml")
    return str(e.value)


def test_a_variable_overrides_any_key_with_the_files_types() -> None:
    """Ints, floats, bools and strings are read from their text as the file would give them."""
    env = {
        "ZC_DELIVERY__MAX_ATTEMPTS": "3",
        "ZC_DELIVERY__BACKOFF_BASE_SECONDS": "2",
        "ZC_ZEEG__DRY_RUN": "true",
        "ZC_ZEEG__BASE_URL": "http://127.0.0.1:1/v2",
        "ZC_RETENTION__TOMBSTONE_DAYS": "1.5",
    }
    settings = load_settings(DEFAULT_CONFIG, env=env)
    assert settings.delivery.max_attempts == 3
    assert settings.delivery.backoff_base_seconds == 2.0
    assert isinstance(settings.delivery.backoff_base_seconds, float)
    assert settings.zeeg.dry_run is True
    assert settings.zeeg.base_url == "http://127.0.0.1:1/v2"
    assert settings.retention.tombstone_days == 1.5


def test_the_environment_wins_over_the_file_which_wins_over_the_defaults(tmp_path: Path) -> None:
    """Precedence: variable, then file, then the dataclass default."""
    path = tmp_path / "c.toml"
    path.write_text("[delivery]\nmax_attempts = 5\nsla_hours = 10\n")
    settings = load_settings(path, env={"ZC_DELIVERY__MAX_ATTEMPTS": "2"})
    assert settings.delivery.max_attempts == 2
    assert settings.delivery.sla_hours == 10.0
    assert settings.delivery.job_timeout_seconds == 300


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ZC_DELIVERY__MAX_ATTEMPTS", "three", "[delivery] max_attempts: must be int"),
        ("ZC_DELIVERY__MAX_ATTEMPTS", "2.5", "[delivery] max_attempts: must be int"),
        ("ZC_DELIVERY__MAX_ATTEMPTS", "0", "[delivery] max_attempts: must be greater than 0"),
        ("ZC_ZEEG__BURST", "-1", "[zeeg] burst: must not be negative"),
        ("ZC_ZEEG__DRY_RUN", "yes", "[zeeg] dry_run: must be bool"),
        ("ZC_INTAKE__TOLERANCE_SECONDS", "", "[intake] tolerance_seconds: must be int"),
    ],
)
def test_a_bad_value_fails_with_the_files_message_naming_the_variable(
    name: str, value: str, message: str
) -> None:
    """The one validator's message, after the variable's name (the file says its path)."""
    assert f"environment: {name}: {message}" in _problems({name: value})
    file_problem = _problems({}, {"delivery": {"max_attempts": "three"}})
    assert "t.toml: [delivery] max_attempts: must be int" in file_problem


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("ZC_DELIVERY__MAX_ATTEMPT", "did you mean ZC_DELIVERY__MAX_ATTEMPTS?"),
        ("ZC_ZEEG__TOKEN", "set ZEEG_API_TOKEN instead"),
        ("ZC_SOURCES__USERDB__SCHEME", "source tables are set in the file only"),
        ("ZC_NOPE", "ZC_<SECTION>__<KEY>, section one of "),
        ("ZC_DELIVRY__SLA_HOURS", "did you mean ZC_DELIVERY__SLA_HOURS?"),
        ("ZC_DELIVERY__COLOUR", "[delivery] keys: auth_probe_seconds"),
    ],
)
def test_a_zc_variable_that_names_no_setting_fails_with_a_hint(name: str, hint: str) -> None:
    """A typo in a variable's name is not silently ignored."""
    problems = _problems({name: "1"})
    assert f"environment: {name}: not a setting (" in problems
    assert hint in problems


def test_the_dedicated_variable_and_its_zc_twin_cannot_both_be_set() -> None:
    """ZEEG_API_BASE_URL and ZC_ZEEG__BASE_URL at once: which one wins is not guessed."""
    env = {"ZEEG_API_BASE_URL": "http://a/v2", "ZC_ZEEG__BASE_URL": "http://b/v2"}
    assert "ZEEG_API_BASE_URL and ZC_ZEEG__BASE_URL are both set" in _problems(env)


def test_sentinel_variables_are_read_into_settings(tmp_path: Path) -> None:
    """Every Sentinel, the master's name, and the auth and TLS options of both sides."""
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {
        "REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380",
        "REDIS_SENTINEL_MASTER": "zc",
        "REDIS_SENTINEL_PASSWORD": "s-pass",
        "REDIS_SENTINEL_TLS": "1",
        "REDIS_MASTER_USERNAME": "app",
        "REDIS_MASTER_PASSWORD": "m-pass",
        "REDIS_MASTER_TLS": "true",
        "REDIS_MASTER_DB": "2",
        "REDIS_TLS_CA_FILE": str(ca),
    }
    settings = settings_from_dict({}, env, "t.toml")
    s = settings.redis_sentinel
    assert s is not None and settings.redis_url is None
    assert s.sentinels == (("10.0.0.1", 26379), ("::1", 26380))
    assert (s.master, s.sentinel_password, s.sentinel_tls) == ("zc", "s-pass", True)
    assert (s.username, s.password, s.tls, s.db, s.tls_ca_file) == (
        "app",
        "m-pass",
        True,
        2,
        str(ca),
    )
    assert "pass" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REDIS_URL": "redis://x:6379", "REDIS_SENTINELS": "x:1", "REDIS_SENTINEL_MASTER": "m"},
            "REDIS_URL and REDIS_SENTINELS are both set",
        ),
        ({"REDIS_SENTINELS": "x:1"}, "REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER: only means something with"),
        ({"REDIS_MASTER_PASSWORD": "p"}, "REDIS_MASTER_PASSWORD: only means something with"),
        (
            {"REDIS_SENTINELS": "x:1,secret-host", "REDIS_SENTINEL_MASTER": "m"},
            "REDIS_SENTINELS: entry 2 must be host:port",
        ),
        (
            {"REDIS_SENTINELS": "x:99999", "REDIS_SENTINEL_MASTER": "m"},
            "REDIS_SENTINELS: entry 1 must be host:port",
        ),
        (
            {"REDIS_SENTINELS": "x:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_MASTER_TLS": "on"},
            "REDIS_MASTER_TLS: must be 1 or 0",
        ),
        (
            {"REDIS_SENTINELS": "x:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_MASTER_DB": "one"},
            "REDIS_MASTER_DB: must be a database number",
        ),
        (
            {"REDIS_SENTINELS": "x:1", "REDIS_SENTINEL_MASTER": "a b"},
            "REDIS_SENTINEL_MASTER: must be a Sentinel master name",
        ),
        (
            {"REDIS_SENTINELS": "x:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_TLS_CA_FILE": "/no"},
            "REDIS_TLS_CA_FILE: not a readable file",
        ),
    ],
)
def test_malformed_sentinel_variables_fail_naming_them(env: dict[str, str], message: str) -> None:
    """Like REDIS_URL: the variable is named, its value never echoed."""
    problems = _problems(env)
    assert f"environment: {message}" in problems
    assert "secret-host" not in problems


def test_a_bad_variable_stops_the_service_at_start() -> None:
    """`zeeg-consumer worker` exits 1 naming the variable before it touches Redis."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "ZC_DELIVERY__MAX_ATTEMPTS": "many", "REDIS_URL": "redis://127.0.0.1:9"}
    argv = [sys.executable, "-m", "consumer", "worker", "--sandbox"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    assert "environment: ZC_DELIVERY__MAX_ATTEMPTS: [delivery] max_attempts: must be int" in (
        done.stderr
    )


def test_no_file_of_the_repository_names_a_zc_variable_that_is_not_a_setting() -> None:
    """ZC_ belongs to settings: a compose, script, doc or test variable under it (as
    ZC_FUZZ_PROFILE was) would stop the service at start wherever it is exported."""
    import re

    from consumer.settings.load import sections
    from consumer.settings.overrides import variable
    from consumer.settings.schema import schema_of

    root = Path(__file__).resolve().parents[2]
    files = _project_files(root)
    known = {variable(s, k) for s, cls in sections().items() for k in schema_of(cls).keys}
    # Named on purpose: the old name, and the examples of refused variables.
    allowed = known | {
        "ZC_FUZZ_PROFILE",  # docs/environment.md: the name it had
        "ZC_ZEEG__TOKEN",
        "ZC_DELIVERY__MAX_ATTEMPT",
        "ZC_SOURCES__USER",  # docs/environment.md: ZC_SOURCES__USER-DB__SCHEME, refused
    }
    found = set()
    for name in files:
        path = root / name
        if (
            path.suffix in {".png", ".lock", ".pyc"}
            or not path.is_file()
            or name.endswith("_env.py")
            or name == "CHANGELOG.md"  # it names the old names, on purpose
        ):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found |= {(name, v) for v in re.findall(r"\bZC_[A-Z0-9_]*[A-Z0-9]\b", text)}
    assert sorted((n, v) for n, v in found if v not in allowed) == []


def _project_files(root: Path) -> list[str]:
    """The files the project ships: git's tracked files (not build output such as
    *.egg-info/PKG-INFO, which copies an older README), else every file not ignored here."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files"],  # noqa: S607  # git from PATH, as a developer runs it
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        return [name for name in listed if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {"build", "var", "node_modules", "__pycache__"}
        return [
            str(p.relative_to(root))
            for p in root.rglob("*")
            if not any(
                part.startswith(".") or part in skip or part.endswith(".egg-info")
                for part in p.relative_to(root).parts
            )
        ]
