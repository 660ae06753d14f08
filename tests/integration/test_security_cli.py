"""check never prints a secret, also when Redis refuses or Zeeg rejects the token."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from consumer.cli import main
from consumer.devtools.sandbox import Sandbox
from tests.helpers import HMAC_SECRET, STD_SECRET, cli_env, free_port, write_config

REDIS_PASSWORD = "redis-pw-must-not-show"
WRONG_TOKEN = "wrong-zeeg-token-must-not-show"


def test_check_prints_no_redis_password_token_or_source_secret(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Redis unreachable and a token Zeeg refuses: both are reported, no secret is."""
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    env = cli_env(write_config(tmp_path / "c.toml"), sandbox.url, redis_url)
    env["ZEEG_API_TOKEN"] = WRONG_TOKEN
    for args in (["check"], ["check", "--json"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1
        assert "redis unreachable" in result.output and "401" in result.output
        for secret in (REDIS_PASSWORD, WRONG_TOKEN, HMAC_SECRET, STD_SECRET):
            assert secret not in result.output
