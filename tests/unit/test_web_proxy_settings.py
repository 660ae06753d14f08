"""[web] trusted_proxies: validated like gunicorn does, and given to gunicorn as is."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigError
from consumer.settings import settings_from_dict
from consumer.web.server import WORKER_TIMEOUT_SECONDS, gunicorn_argv


def test_gunicorn_gets_the_same_trusted_proxies() -> None:
    """--forwarded-allow-ips is always passed, so gunicorn's loopback default never applies."""
    argv = gunicorn_argv("0.0.0.0", 8000, 2, "10.0.0.0/8")
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.0/8"
    empty = gunicorn_argv("0.0.0.0", 8000, 2)
    assert empty[empty.index("--forwarded-allow-ips") + 1] == ""
    assert argv[argv.index("--timeout") + 1] == str(WORKER_TIMEOUT_SECONDS)


@pytest.mark.parametrize("value", ["10.0.0.1/8", "proxy.local", "10.0.0.0/8, 300.1.1.1"])
def test_a_bad_trusted_proxies_value_fails_at_start(value: str) -> None:
    """Host bits set or not an address: refused, as gunicorn would refuse it later."""
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"web": {"trusted_proxies": value}}, {}, "t.toml")
    assert "t.toml: [web] trusted_proxies: not an IP address or network" in str(e.value)


def test_trusted_proxies_comes_from_the_environment_too() -> None:
    """ZC_WEB__TRUSTED_PROXIES, like every key."""
    settings = settings_from_dict({}, {"ZC_WEB__TRUSTED_PROXIES": "192.168.0.0/16, *"}, "t")
    assert settings.web.trusted_proxies == "192.168.0.0/16, *"
