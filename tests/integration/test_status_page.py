"""The status page at /admin/ through Flask's client: login, session cookie, CSRF, contents."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from consumer.devtools.sandbox import Sandbox
from consumer.settings import Settings
from consumer.store import alerts, chart, keys, pause, ratelimit
from consumer.store.connection import Connections
from consumer.web import create_app, page_login
from consumer.web.page_views import ALERTS_RECENT
from consumer.web.state import state
from tests.helpers import (
    ADMIN_TOKEN,
    RedisServer,
    drain,
    failed_events,
    make_settings,
    mapped,
    post,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
POSTS = ["/admin/login", "/admin/logout", "/admin/page/resume", "/admin/page/requeue"]


def csrf_of(html: str) -> str:
    """The CSRF token the page's forms carry."""
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def log_in(client: FlaskClient, token: str = ADMIN_TOKEN) -> str:
    """Log client in through the form; returns the session's CSRF token."""
    form = client.get("/admin/")
    answer = client.post("/admin/login", data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/admin/").text)


def cookie_header(answer_headers: list[str]) -> str:
    """The Set-Cookie line of the page's session cookie."""
    (line,) = [h for h in answer_headers if h.startswith(page_login.COOKIE + "=")]
    return line


@pytest.fixture
def page(admin_app: Flask) -> FlaskClient:
    """A client logged in to the status page."""
    client = admin_app.test_client()
    log_in(client)
    return client


@pytest.fixture
def clocked(
    sandbox: Sandbox, redis_server: RedisServer, conns: Connections
) -> Callable[..., Flask]:
    """An admin-enabled app on a clock the test moves, with the admin token given."""

    def build(now: list[float], token: str = ADMIN_TOKEN) -> Flask:
        env = {"REDIS_URL": redis_server.url, "CONSUMER_ADMIN_TOKEN": token}
        return create_app(make_settings(sandbox.url, env=env), redis=conns, clock=lambda: now[0])

    return build


def test_these_tests_walk_every_route_of_the_page(admin_app: Flask) -> None:
    """The 404 and CSRF walks below cover each of the page's routes."""
    routed = {
        (m, r.rule)
        for r in admin_app.url_map.iter_rules()
        if r.endpoint.startswith("page.")
        for m in (r.methods or set()) - {"HEAD"}
    }
    assert routed == {("GET", "/admin/"), *(("POST", p) for p in POSTS)}


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/"), *(("POST", p) for p in POSTS)])
def test_the_page_is_404_without_an_admin_token(
    client: FlaskClient, method: str, path: str
) -> None:
    """No CONSUMER_ADMIN_TOKEN: the page answers exactly as an unknown admin path does."""
    answer = client.open(path, method=method, data={"token": "x"})
    assert answer.status_code == 404
    assert answer.get_json() == client.get("/admin/nothing-here").get_json()


def test_the_login_form_is_shown_until_the_token_is_given(admin_app: Flask) -> None:
    """GET /admin/ without a session is the form, labelled, inside <main>; no figures."""
    answer = admin_app.test_client().get("/admin/")
    assert answer.status_code == 200
    assert '<label for="token">Admin token</label>' in answer.text
    assert "<main>" in answer.text and "Live counts" not in answer.text


def test_a_wrong_token_is_refused_with_401(admin_app: Flask) -> None:
    """A wrong token gets the form again with a message, and no session."""
    client = admin_app.test_client()
    form = client.get("/admin/")
    answer = client.post("/admin/login", data={"token": "nope", "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 401
    assert "That is not the admin token." in answer.text
    assert "Live counts" not in client.get("/admin/").text


def test_the_right_token_opens_the_page(page: FlaskClient) -> None:
    """After the login the page shows the figures, a logout button and the security headers."""
    answer = page.get("/admin/")
    assert answer.status_code == 200
    assert "Live counts" in answer.text and ">Log out</button>" in answer.text
    assert "script-src" not in answer.headers["Content-Security-Policy"]
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert re.fullmatch(r"page;dur=[0-9.]+", answer.headers["Server-Timing"])


def test_the_bearer_api_is_unchanged_by_the_page(page: FlaskClient) -> None:
    """A page session is no Bearer token: the JSON API still refuses it."""
    assert page.get("/admin/status").status_code == 401


@pytest.mark.parametrize(
    ("base", "secure"), [("http://localhost", False), ("https://localhost", True)]
)
def test_the_session_cookie_is_httponly_strict_and_secure_over_https(
    admin_app: Flask, base: str, secure: bool
) -> None:
    """HttpOnly, SameSite=Strict, Path=/admin; Secure exactly when the request is HTTPS."""
    client = admin_app.test_client()
    form = client.get("/admin/", base_url=base)
    data = {"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text)}
    answer = client.post("/admin/login", data=data, base_url=base)
    line = cookie_header(answer.headers.getlist("Set-Cookie"))
    attributes = {a.strip().split("=")[0].lower() for a in line.split(";")[1:]}
    assert {"httponly", "path", "expires"} <= attributes
    assert "SameSite=Strict" in line and "Path=/admin" in line
    assert ("secure" in attributes) is secure


def test_the_cookie_holds_a_fingerprint_never_the_token(admin_app: Flask) -> None:
    """The signed cookie's payload (readable by its holder) has no trace of the token."""
    client = admin_app.test_client()
    form = client.get("/admin/")
    answer = client.post(
        "/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text)}
    )
    value = cookie_header(answer.headers.getlist("Set-Cookie")).split(";")[0].split("=", 1)[1]
    with admin_app.test_request_context():
        serializer = admin_app.session_interface.get_signing_serializer(admin_app)  # type: ignore[attr-defined]
        payload = serializer.loads(value)
    assert payload["fp"] == page_login.fingerprint(ADMIN_TOKEN) != ADMIN_TOKEN
    assert ADMIN_TOKEN not in json.dumps(payload) and ADMIN_TOKEN not in value


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("csrf", [None, "wrong"])
def test_a_post_without_the_csrf_token_is_403(
    page: FlaskClient, path: str, csrf: str | None
) -> None:
    """Every POST of the page needs this session's CSRF token, logged in or not."""
    data = {"token": ADMIN_TOKEN, "job_id": "j", "reason": "r"}
    if csrf is not None:
        data["csrf_token"] = csrf
    answer = page.post(path, data=data)
    assert answer.status_code == 403
    assert "CSRF token missing or wrong" in answer.text
    assert "Live counts" in page.get("/admin/").text  # the session is untouched


def test_logging_out_ends_the_session(page: FlaskClient) -> None:
    """Log out deletes the cookie: the next GET is the login form."""
    csrf = csrf_of(page.get("/admin/").text)
    answer = page.post("/admin/logout", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert "Expires=Thu, 01 Jan 1970" in cookie_header(answer.headers.getlist("Set-Cookie"))
    assert "Live counts" not in page.get("/admin/").text


def test_rotating_the_token_ends_every_session(clocked: Callable[..., Flask]) -> None:
    """A cookie signed under the old token means nothing once the token changed."""
    now = [1_700_000_000.0]
    old = clocked(now).test_client()
    log_in(old)
    cookie = old.get_cookie(page_login.COOKIE, path="/admin")
    assert cookie is not None
    rotated = clocked(now, token="a-new-admin-token").test_client()
    rotated.set_cookie(page_login.COOKIE, cookie.value, path="/admin")
    assert "Live counts" not in rotated.get("/admin/").text


def test_a_session_ends_twelve_hours_after_the_login(clocked: Callable[..., Flask]) -> None:
    """However busy, a session lasts SESSION_HOURS from its login."""
    now = [1_700_000_000.0]
    client = clocked(now).test_client()
    log_in(client)
    now[0] += page_login.SESSION_HOURS * 3600 - 1
    assert "Live counts" in client.get("/admin/").text
    now[0] += 2
    assert "Live counts" not in client.get("/admin/").text


def test_an_action_after_the_session_ended_asks_to_log_in_again(
    clocked: Callable[..., Flask],
) -> None:
    """A POST with the right CSRF token but an expired session is 401 with the form."""
    now = [1_700_000_000.0]
    client = clocked(now).test_client()
    csrf = log_in(client)
    now[0] += page_login.SESSION_HOURS * 3600 + 1
    answer = client.post("/admin/page/resume", data={"csrf_token": csrf})
    assert answer.status_code == 401
    assert "Your session has ended: log in again." in answer.text


def test_every_value_shown_is_escaped(
    page: FlaskClient, admin_app: Flask, conns: Connections
) -> None:
    """An external id and an alert text holding markup are shown as text, never as markup."""
    settings = state(admin_app).settings
    post(page, settings, "e-x", "<script>alert(1)</script>")
    alert = {
        "ts": 1.0,
        "kind": "<b>k</b>",
        "state": "firing",
        "text": "<img src=x>",
        "delivered": True,
    }
    conns.text.lpush(ALERTS_RECENT, json.dumps(alert))
    answer = page.get("/admin/", query_string={"external_id": "<script>alert(1)</script>"})
    assert answer.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "<script" not in answer.text and "<img" not in answer.text and "<b>k" not in answer.text
    assert "&lt;img src=x&gt;" in answer.text


def test_the_search_shows_the_trail_of_an_external_id(
    page: FlaskClient, admin_app: Flask, conns: Connections, sandbox: Sandbox
) -> None:
    """Searching an external id lists its events with their status and trail."""
    settings = state(admin_app).settings
    mapped(conns, sandbox, "u-7")
    post(page, settings, "e-7", "u-7")
    post(page, settings, "e-8", "u-8")
    drain(settings, conns)
    answer = page.get("/admin/", query_string={"external_id": "u-7", "source": "userdb"})
    assert "userdb/e-7</span>: done" in answer.text
    # Its own marker, not "e-8" alone: a record id (a UUID) holds "e-8" one time in 64.
    assert "userdb/e-8</span>" not in answer.text and "u-8" not in answer.text
    assert '<th scope="row">received</th>' in answer.text
    assert "outcome=deleted" in answer.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"external_id": "a\x00b"}, "external id must be 1-255 characters"),
        ({"external_id": "u-1", "source": "Bad Source"}, "invalid source"),
        ({"hours": "1000"}, "hours must be one of 1, 3, 6, 12, 24"),
    ],
)
def test_a_bad_query_is_a_400_with_its_reason(
    page: FlaskClient, query: dict[str, str], message: str
) -> None:
    """Identifiers from the query string are checked before use; the page says why not."""
    answer = page.get("/admin/", query_string=query)
    assert answer.status_code == 400
    assert message in answer.text


def test_malformed_alert_entries_are_counted_not_fatal(
    page: FlaskClient, conns: Connections
) -> None:
    """An entry that is not the sender's JSON object is skipped and counted; the rest shows."""
    good = {
        "ts": 1_700_000_000.5,
        "kind": "paused",
        "state": "resolved",
        "text": "back",
        "delivered": False,
    }
    for entry in ["{not json", "[]", json.dumps({**good, "ts": "x"}), json.dumps(good)]:
        conns.text.lpush(ALERTS_RECENT, entry)
    answer = page.get("/admin/")
    assert answer.status_code == 200
    assert "3 stored alert entries could not be read" in answer.text
    assert (
        '<th scope="row">paused</th><td>resolved</td><td>back</td><td>not delivered</td>'
        in answer.text
    )


def test_the_pause_banner_names_the_reason_and_resume_lifts_it(
    page: FlaskClient, conns: Connections
) -> None:
    """The banner shows the reason; its button resumes delivery and says so."""
    pause.pause(conns.text, "token rotation", time.time(), by="ops")
    text = page.get("/admin/").text
    assert "Delivery is paused" in text and "token rotation" in text
    answer = page.post("/admin/page/resume", data={"csrf_token": csrf_of(text)})
    assert answer.status_code == 303
    assert pause.state(conns.text) is None
    after = page.get("/admin/").text
    assert "Delivery resumed; 0 waiting job(s) requeued." in after
    assert "Delivery is paused" not in after


def test_requeue_needs_a_reason_and_a_failed_job(
    page: FlaskClient, admin_app: Flask, conns: Connections, sandbox: Sandbox
) -> None:
    """A blank reason is 400, an unknown job 404; with both the job is requeued and noted."""
    settings: Settings = state(admin_app).settings
    failed_events(page, settings, conns, sandbox, 1, recover=True)
    text = page.get("/admin/").text
    job_id = re.search(r'name="job_id" value="([0-9a-f]+)"', text)
    assert job_id, text
    csrf = csrf_of(text)
    blank = page.post(
        "/admin/page/requeue", data={"csrf_token": csrf, "job_id": job_id[1], "reason": " "}
    )
    assert blank.status_code == 400 and "The reason must not be empty" in blank.text
    unknown = page.post(
        "/admin/page/requeue", data={"csrf_token": csrf, "job_id": "f" * 32, "reason": "x"}
    )
    assert unknown.status_code == 404
    done = page.post(
        "/admin/page/requeue", data={"csrf_token": csrf, "job_id": job_id[1], "reason": "fixed"}
    )
    assert done.status_code == 303
    assert "Requeued userdb/e-1 as job" in page.get("/admin/").text
    drain(settings, conns)
    assert "No failed job." in page.get("/admin/").text


def test_outcomes_are_counted_per_minute_for_the_chart(
    page: FlaskClient, admin_app: Flask, conns: Connections, sandbox: Sandbox
) -> None:
    """Each recorded outcome adds to its minute's hash, which expires; the chart draws it."""
    settings = state(admin_app).settings
    mapped(conns, sandbox, "u-1")
    post(page, settings, "e-1", "u-1")
    post(page, settings, "e-2", "u-2")
    drain(settings, conns)
    minutes = [k for k in conns.text.scan_iter(keys.chart_minute(0).replace(":0", ":*"))]
    counts: dict[str, int] = {}
    for key in minutes:
        assert 0 < conns.text.ttl(key) <= chart.TTL_SECONDS
        for outcome, n in conns.text.hgetall(key).items():
            counts[outcome] = counts.get(outcome, 0) + int(n)
    assert counts == {"deleted": 1, "not_mapped": 1}
    text = page.get("/admin/").text
    assert 'data-chart-total="deleted">1<' in text and 'data-chart-total="not_mapped">1<' in text
    assert text.count('<rect x="') >= 2


def test_alerts_the_sender_records_are_listed_newest_first(
    page: FlaskClient, conns: Connections
) -> None:
    """Entries written by store.alerts.remember (the alert sender's) show, newest first."""
    base = {"kind": "paused", "text": "Delivery paused", "delivered": True}
    alerts.remember(conns.text, {**base, "ts": 1_700_000_000.0, "state": "firing"})
    alerts.remember(conns.text, {**base, "ts": 1_700_000_060.0, "state": "resolved"})
    text = page.get("/admin/").text
    resolved = text.index("2023-11-14T22:14:20.000Z")
    firing = text.index("2023-11-14T22:13:20.000Z")
    assert resolved < firing
    assert "<td>resolved</td><td>Delivery paused</td><td>yes</td>" in text


def test_the_adaptive_rate_is_shown_beside_the_configured_one(
    page: FlaskClient, conns: Connections
) -> None:
    """Now / configured calls per second: equal before a 429, the cut rate after one."""
    configured = state(page.application).settings.zeeg.rate_limit_per_second
    rate = re.compile(r'data-figure="rate">([0-9.]+) / ([0-9.]+)<')
    before = rate.search(page.get("/admin/").text)
    assert before is not None and float(before[1]) == float(before[2]) == configured
    ratelimit.slow_down(conns.text, configured)
    after = rate.search(page.get("/admin/").text)
    assert after is not None and float(after[1]) < configured == float(after[2])
