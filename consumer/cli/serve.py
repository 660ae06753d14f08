"""Long-running commands: run (all-in-one), web, worker, sandbox."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
import redis

from consumer import logs
from consumer.cli.common import EMBEDDED_URL, fail, get_settings
from consumer.delivery import health, recovery
from consumer.delivery.jobs import build_context, set_context
from consumer.delivery.worker import ErasureWorker, make_worker
from consumer.devtools import runner
from consumer.devtools.sandbox import Sandbox
from consumer.errors import ConfigError
from consumer.settings import Settings
from consumer.settings.load import log_format

log = logging.getLogger("consumer.run")
VAR = Path("var")
PORT = click.IntRange(1, 65535)


def _configure_logs(process: str) -> None:
    """Every log record of this process to stderr in LOG_FORMAT (a bad value: exit)."""
    try:
        logs.configure(log_format(), process)
    except ConfigError as e:
        fail(str(e))


def _say(text: str) -> None:
    """Tell the person at the terminal; in JSON logs, a log record like every other line."""
    if log_format() == "json":
        log.info("%s", text)
    else:
        click.echo(text, err=True)


@click.command()
@click.option("--sandbox", is_flag=True, help="Start the built-in fake Zeeg and use it.")
@click.option("--port", type=PORT, envvar="PORT", default=8000, show_default=True)
@click.option("--sandbox-port", type=PORT, default=8025, show_default=True)
def run(sandbox: bool, port: int, sandbox_port: int) -> None:
    """Everything in one: embedded Redis (unless REDIS_URL), web, worker, and --sandbox."""
    _configure_logs("run")
    settings = get_settings(require_token=True, sandbox=sandbox, embedded=False)
    sup = runner.Supervisor()
    stopping: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    env = dict(os.environ)
    try:
        if not settings.redis_url and settings.redis_sentinel is None:
            env["REDIS_URL"] = runner.start_redis(sup, VAR / "redis")
            runner.publish_url(sup, EMBEDDED_URL, env["REDIS_URL"])
        web_url = f"http://127.0.0.1:{port}"
        if sandbox:
            fake = Sandbox(token="", port=sandbox_port).start()
            sup.cleanups.append(fake.stop)
            env.update(runner.sandbox_env(VAR, web_url, fake.url, env.get("REDIS_URL")))
            fake.state.token = env["ZEEG_API_TOKEN"]
        sup.spawn("web", runner.command("web", "--port", str(port)), env)
        sup.spawn("worker", runner.command("worker"), env)
        _banner(sandbox, web_url)
        code = sup.wait(lambda: bool(stopping))
    except RuntimeError as e:
        sup.shutdown()
        fail(str(e))
    except OSError as e:  # the sandbox port is taken
        sup.shutdown()
        fail(f"cannot listen on 127.0.0.1:{sandbox_port}: {e.strerror or e}")
    _say("zeeg-consumer: stopping (waiting for in-flight deletions)...")
    sup.shutdown()
    sys.exit(code)


def _banner(sandbox: bool, web_url: str) -> None:
    lines = [f"zeeg-consumer is running: {web_url}  (readiness: {web_url}/readyz)"]
    if sandbox:
        lines = [
            "=" * 72,
            "SANDBOX MODE: no ZEEG_API_TOKEN, so a fake Zeeg is serving; nothing real is deleted.",
            *lines,
            "Send a signed test deletion and watch it flow:",
            "    .venv/bin/zeeg-consumer send-test-event",
            "=" * 72,
        ]
    _say("\n".join(lines))


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=PORT, envvar="PORT", default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1),
    envvar="WEB_CONCURRENCY",
    default=2,
    show_default=True,
    help="gunicorn worker processes (env WEB_CONCURRENCY).",
)
@click.option("--sandbox", is_flag=True, help="Allow running without ZEEG_API_TOKEN.")
def web(host: str, port: int, workers: int, sandbox: bool) -> None:
    """Serve the webhook and admin HTTP API with gunicorn."""
    from consumer.web.server import gunicorn_argv  # gunicorn is imported by `web` only

    _configure_logs("web")  # until gunicorn configures its own: a start failure in the format
    settings = get_settings(require_token=True, sandbox=sandbox)
    argv = gunicorn_argv(host, port, workers, settings.web.trusted_proxies)
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn


@click.command()
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
@click.option("--sandbox", is_flag=True, help="Allow running without ZEEG_API_TOKEN.")
@click.option(
    "--health-port",
    type=PORT,
    envvar="WORKER_HEALTH_PORT",
    default=None,
    help="Serve GET /healthz here: 200 while the RQ heartbeat is fresh and maintenance "
    "ran recently, else 503 (env WORKER_HEALTH_PORT).",
)
@click.option("--health-host", default="0.0.0.0", show_default=True, help="Its bind address.")
def worker(burst: bool, sandbox: bool, health_port: int | None, health_host: str) -> None:
    """Run erasure jobs (with RQ's scheduler, for retries)."""
    _configure_logs("worker")
    settings = get_settings(require_token=True, sandbox=sandbox)
    context = build_context(settings)
    set_context(context)
    probe: health.HealthServer | None = None
    try:
        # A full Redis makes RQ quit: recovery starts a fresh worker, the probe follows it.
        newest, made = [make_worker(settings, context.queue, text=context.r)], [False]
        if health_port is not None:
            probe = _health(lambda: newest[0], settings, health_host, health_port)

        def make() -> ErasureWorker:
            if made[0]:
                newest[0] = make_worker(settings, context.queue, text=context.r)
            made[0] = True
            return newest[0]

        recovery.work_through_full_redis(make, context.r, burst=burst)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        fail("Redis is unavailable (check REDIS_URL)")
    finally:
        if probe is not None:
            probe.stop()


def _health(
    w: Callable[[], ErasureWorker], settings: Settings, host: str, port: int
) -> health.HealthServer:
    """The worker's health server, started; a port that is taken stops the command."""
    try:
        return health.serve(w, settings, host, port)
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}")


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Bind address; the control API has no auth, so keep it on loopback.",
)
@click.option("--port", type=PORT, default=8025, show_default=True)
@click.option("--token", envvar="ZEEG_API_TOKEN", default="sandbox-token", show_default=True)
def sandbox(host: str, port: int, token: str) -> None:
    """Serve the fake Zeeg on its own (control API under /_sandbox)."""
    try:
        fake = Sandbox(token=token, host=host, port=port)
    except OSError as e:  # the port is taken, or the host is not ours
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}")
    click.echo(f"fake Zeeg at {fake.url} (token from --token); control API at {fake.root}/_sandbox")
    try:
        fake.serve_forever()
    except KeyboardInterrupt:
        fake.stop()
