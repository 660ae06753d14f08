"""Shared fixtures: a real redis-server for the session, the sandbox, the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store.connection import Connections, connect
from consumer.web import create_app
from tests.helpers import (
    ADMIN_TOKEN,
    ZEEG_TOKEN,
    RedisServer,
    make_settings,
    sender_settings,
    serve,
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def conns(redis_server: RedisServer) -> Iterator[Connections]:
    c = connect(redis_server.url)
    c.text.flushall()
    yield c
    c.text.close()
    c.raw.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    fake = Sandbox(token=ZEEG_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(sandbox: Sandbox, redis_server: RedisServer) -> Settings:
    return make_settings(sandbox.url, env={"REDIS_URL": redis_server.url})


@pytest.fixture
def app(settings: Settings, conns: Connections) -> Flask:
    return create_app(settings, redis=conns)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served over real HTTP (threaded werkzeug server) on a free port."""
    with serve(app) as url:
        yield url


@pytest.fixture
def senders(sandbox: Sandbox) -> Settings:
    """Settings with one source per sender preset (tests.helpers.sender_sources), on the sandbox."""
    return sender_settings(env={"ZEEG_API_BASE_URL": sandbox.url})


@pytest.fixture
def senders_url(senders: Settings, conns: Connections) -> Iterator[str]:
    """The app with the sender sources, served over real HTTP."""
    with serve(create_app(senders, redis=conns)) as url:
        yield url


@pytest.fixture
def sender_client(conns: Connections) -> FlaskClient:
    """The app with one source per sender preset (tests.helpers.sender_sources)."""
    return create_app(sender_settings(), redis=conns).test_client()


# --- operator commands (issue 6) ---


@pytest.fixture
def cli(tmp_path: Path, sandbox: Sandbox, redis_server: RedisServer) -> Any:
    """Run zeeg-consumer in-process (CliRunner) against the test Redis and the sandbox."""
    from click.testing import CliRunner

    from consumer.cli import main
    from tests.helpers import cli_env, write_config

    env = cli_env(write_config(tmp_path / "consumer.toml"), sandbox.url, redis_server.url)

    def run(*args: str, input: str | None = None, extra_env: dict[str, str] | None = None) -> Any:
        return CliRunner().invoke(main, list(args), env={**env, **(extra_env or {})}, input=input)

    return run


@pytest.fixture
def admin_app(sandbox: Sandbox, redis_server: RedisServer, conns: Connections) -> Flask:
    """The app with the admin API on (CONSUMER_ADMIN_TOKEN set)."""
    env = {"REDIS_URL": redis_server.url, "CONSUMER_ADMIN_TOKEN": ADMIN_TOKEN}
    return create_app(make_settings(sandbox.url, env=env), redis=conns)


@pytest.fixture
def admin(admin_app: Flask) -> FlaskClient:
    """A test client whose requests carry the admin Bearer token."""
    client = admin_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {ADMIN_TOKEN}"
    return client
