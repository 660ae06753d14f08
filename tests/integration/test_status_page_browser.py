"""The status page in a real browser: Debian's chromium driven by playwright, against the app
served over HTTP, real RQ workers and the sandbox. Screenshots go to each test's tmp_path.

No browser is downloaded: playwright launches /usr/bin/chromium (`make test` installs the
`chromium` package with apt, as it installs redis-server).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import pause
from consumer.store.connection import Connections
from consumer.web import page_login
from consumer.web.state import state
from tests.helpers import ADMIN_TOKEN, deletes, drain, mapped, serve, signed, userdb_body

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium for the module (Debian's binary, never a downloaded one)."""
    assert CHROMIUM.exists(), "chromium is not installed (make test installs it with apt)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def url(admin_app: Flask) -> Iterator[str]:
    """The admin-enabled app over real HTTP."""
    with serve(admin_app) as served:
        yield served


@pytest.fixture
def tab(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A fresh context (no cookies, no script) and its page; a screenshot of it when done.

    Script is off, as the page must work without it; any console error (a style the
    Content-Security-Policy blocked, say) fails the test.
    """
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, java_script_enabled=False
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    page.screenshot(path=tmp_path / "status-page.png", full_page=True)
    context.close()
    # A 401 or 403 page is reported as a failed load: the tests check those statuses.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


@pytest.fixture
def settings_of(admin_app: Flask) -> Settings:
    """The settings the served app runs with (the admin token on)."""
    return state(admin_app).settings


def log_in(tab: Page, url: str, token: str = ADMIN_TOKEN) -> None:
    """Type the token into the login form and send it."""
    tab.goto(f"{url}/admin/")
    tab.get_by_label("Admin token").fill(token)
    tab.get_by_role("button", name="Log in").click()


def figure(tab: Page, name: str) -> str:
    """One of the live counts as shown."""
    return tab.locator(f'[data-figure="{name}"]').inner_text()


def send(url: str, settings: Settings, event_id: str, external_id: str) -> None:
    """One signed userdb deletion webhook over HTTP; it must be accepted."""
    body = userdb_body(event_id, external_id)
    answer = requests.post(
        f"{url}/webhooks/userdb", data=body, headers=signed(settings, "userdb", body), timeout=10
    )
    assert answer.status_code == 202, answer.text


def test_log_in_and_see_the_counts_change_after_webhooks(
    tab: Page, url: str, settings_of: Settings, conns: Connections, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The counts move as webhooks come in and a real worker drains them; the chart follows."""
    log_in(tab, url)
    expect(tab.get_by_role("heading", name="Live counts")).to_be_visible()
    assert figure(tab, "queued") == "0"
    mapped(conns, sandbox, "u-1")
    send(url, settings_of, "e-1", "u-1")
    send(url, settings_of, "e-2", "u-2")
    tab.reload()
    assert figure(tab, "queued") == "2"
    drain(settings_of, conns)
    tab.reload()
    assert figure(tab, "queued") == "0"
    assert tab.locator('[data-outcome="deleted"]').first.inner_text() == "1"
    assert tab.locator('[data-chart-total="not_mapped"]').inner_text() == "1"
    expect(tab.locator("svg rect[data-outcome]")).to_have_count(2)
    (cookie,) = [c for c in tab.context.cookies() if c["name"] == page_login.COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    tab.screenshot(path=tmp_path / "counts.png", full_page=True)
    assert (tmp_path / "counts.png").stat().st_size > 10_000


def test_search_an_external_id_shows_its_trail(
    tab: Page, url: str, settings_of: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The search form finds the events of an external id and shows their trail."""
    mapped(conns, sandbox, "u-5")
    send(url, settings_of, "e-5", "u-5")
    send(url, settings_of, "e-6", "u-6")
    drain(settings_of, conns)
    log_in(tab, url)
    tab.get_by_label("External id", exact=True).fill("u-5")
    tab.get_by_role("button", name="Search").click()
    expect(tab.get_by_role("heading", name="userdb/e-5: done")).to_be_visible()
    expect(tab.get_by_role("heading", name=re.compile("e-6"))).to_have_count(0)
    trail = tab.locator("table.trail")
    expect(trail.get_by_role("rowheader", name="received")).to_be_visible()
    expect(trail.get_by_text(re.compile("outcome=deleted"))).to_be_visible()
    assert "external_id=u-5" in tab.url


def test_requeue_a_failed_job_with_a_reason(
    tab: Page, url: str, settings_of: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """A job Zeeg refused is listed with its reason; requeued with a reason, it is delivered."""
    rid = mapped(conns, sandbox, "u-3")
    sandbox.state.set_faults(always={"status": 400})
    send(url, settings_of, "e-3", "u-3")
    drain(settings_of, conns)
    sandbox.state.set_faults(always=None)
    log_in(tab, url)
    assert figure(tab, "failed") == "1"
    row = tab.locator("#failed-jobs tbody tr")
    expect(row).to_contain_text("400")
    row.get_by_label("Reason").fill("Zeeg fixed the field validation")
    row.get_by_role("button", name="Requeue").click()
    expect(tab.get_by_role("status")).to_contain_text("Requeued userdb/e-3 as job")
    assert figure(tab, "failed") == "0" and figure(tab, "queued") == "1"
    drain(settings_of, conns)
    assert [d["path"].rsplit("/", 1)[-1] for d in deletes(sandbox, 200)] == [rid]


def test_resume_a_paused_delivery(
    tab: Page, url: str, settings_of: Settings, conns: Connections, sandbox: Sandbox
) -> None:
    """The banner names the pause's reason; its button resumes and the waiting job is delivered."""
    pause_answer = requests.post(
        f"{url}/admin/pause",
        json={"reason": "Zeeg token rotation"},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert pause_answer.status_code == 200
    rid = mapped(conns, sandbox, "u-4")
    send(url, settings_of, "e-4", "u-4")
    drain(settings_of, conns, run_for=0)  # the worker finds delivery paused: the job waits
    log_in(tab, url)
    banner = tab.get_by_role("region", name="Delivery is paused")
    expect(banner).to_contain_text("Zeeg token rotation")
    banner.get_by_role("button", name="Resume delivery").click()
    expect(tab.get_by_role("status")).to_contain_text("Delivery resumed; 1 waiting job(s)")
    expect(tab.get_by_role("region", name="Delivery is paused")).to_have_count(0)
    assert pause.state(conns.text) is None
    drain(settings_of, conns)
    assert [d["path"].rsplit("/", 1)[-1] for d in deletes(sandbox, 200)] == [rid]


def test_log_out_ends_the_session(tab: Page, url: str) -> None:
    """After Log out the page is the login form again, even when reloaded."""
    log_in(tab, url)
    tab.get_by_role("button", name="Log out").click()
    expect(tab.get_by_role("heading", name="Log in")).to_be_visible()
    tab.goto(f"{url}/admin/")
    expect(tab.get_by_label("Admin token")).to_be_visible()
    expect(tab.get_by_role("heading", name="Live counts")).to_have_count(0)


def test_a_wrong_token_is_refused(tab: Page, url: str) -> None:
    """A wrong token: the form again, with the reason, and no figures."""
    log_in(tab, url, token="not-the-token")
    expect(tab.get_by_role("alert")).to_have_text("That is not the admin token.")
    expect(tab.get_by_role("heading", name="Live counts")).to_have_count(0)


def test_a_post_without_the_csrf_token_is_refused_over_http(url: str) -> None:
    """Plain HTTP: the login and an action without the form's CSRF token are 403."""
    http = requests.Session()
    form = http.get(f"{url}/admin/", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text
    bare = http.post(f"{url}/admin/login", data={"token": ADMIN_TOKEN}, timeout=10)
    assert bare.status_code == 403
    data = {"token": ADMIN_TOKEN, "csrf_token": csrf[1]}
    logged = http.post(f"{url}/admin/login", data=data, allow_redirects=False, timeout=10)
    assert logged.status_code == 303
    assert http.post(f"{url}/admin/page/resume", timeout=10).status_code == 403
    assert "Live counts" in http.get(f"{url}/admin/", timeout=10).text  # still logged in
