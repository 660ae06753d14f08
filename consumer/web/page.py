"""The status page at /admin/: server-rendered HTML for operators, working without script.

The admin token is entered once in a form (POST /admin/login) and the session cookie
(web.page_login) stands for it; every POST carries the session's CSRF token or is a 403.
Without CONSUMER_ADMIN_TOKEN every page answers 404, as the rest of /admin does.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from consumer.errors import RequestError
from consumer.models import BY_LIMIT, REASON_LIMIT, check_free_text
from consumer.ops import failed as fl
from consumer.ops import status as st
from consumer.web import page_chart, page_login, page_views
from consumer.web.errors import error
from consumer.web.state import state

bp = Blueprint("page", __name__, url_prefix="/admin", template_folder="templates")
# Routes take no automatic OPTIONS: the admin guard answers it, as for every other /admin path.
log = logging.getLogger(__name__)
# No script at all; styles only from the page's own nonce'd <style>; forms post only here.
CSP = (
    "default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def register(app: Flask) -> None:
    """Add the status page to the app (before the admin API, whose catch-all takes /admin/)."""
    page_login.install(app)
    app.register_blueprint(bp)


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """404 without an admin token; 403 for a POST without this session's CSRF token."""
    if not state().settings.admin_token:
        return error(404, "not_found", "The requested URL was not found on the server.")
    g.page_started = time.perf_counter()
    g.csp_nonce = secrets.token_urlsafe(16)
    if request.method == "POST" and not page_login.csrf_ok():
        log.warning("status page: a POST to %s without a valid CSRF token", request.path)
        message = "This form was not sent from the status page (CSRF token missing or wrong)."
        return _page("page/denied.html", 403, message=message)
    return None


@bp.after_request
def headers(response: Response) -> Response:
    """Never cached or framed, no referrer (search terms ride in the query), server time."""
    nonce = g.get("csp_nonce", "")
    response.headers["Content-Security-Policy"] = CSP.format(nonce=nonce)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    started = g.get("page_started")
    if started is not None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"page;dur={elapsed_ms:.1f}"
    return response


def _page(template: str, code: int, /, **context: Any) -> ResponseReturnValue:
    """A rendered page with its status code and the session's CSRF token for its forms."""
    body = render_template(template, csrf=page_login.csrf_token(), **context)
    return body, code


def _login_form(status: int, message: str | None = None) -> ResponseReturnValue:
    return _page("page/login.html", status, message=message)


def operator(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
    """The login form (401) unless this session is logged in."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if not page_login.logged_in():
            message = None if request.method == "GET" else "Your session has ended: log in again."
            return _login_form(200 if request.method == "GET" else 401, message)
        return view(*args, **kwargs)

    return wrapped


def _who() -> str:
    """Who acts, for the trail: the page and the remote address."""
    return check_free_text(f"status-page:{request.remote_addr or 'unknown'}", '"by"', BY_LIMIT)


def _home() -> ResponseReturnValue:
    """See the page again after an action (303: the browser GETs it, no resubmission)."""
    return redirect(url_for("page.index"), 303)


@bp.get("/", provide_automatic_options=False)
@operator
def index() -> ResponseReturnValue:
    """The status page: counts, chart, pause, failed jobs, event search, last alerts."""
    return _index(200)


def _index(status: int, problem: str | None = None) -> ResponseReturnValue:
    """The status page with its status code and a problem to show at the top, if any."""
    ops = state().ops()
    found = page_views.search(ops, request.args)
    try:
        hours = page_views.hours_from(request.args)
    except RequestError as e:
        hours, problem, status = page_chart.DEFAULT_HOURS, str(e), e.status
    if found.error is not None and status == 200:
        status = 400
    context = page_views.overview(ops, hours)
    sources = sorted(ops.settings.sources)
    return _page(
        "page/index.html", status, problem=problem, search=found, sources=sources, **context
    )


@bp.post("/login", provide_automatic_options=False)
def login() -> ResponseReturnValue:
    """Open a session for the admin token typed into the form (401 for any other text)."""
    if not page_login.token_ok(request.form.get("token", "")):
        log.warning("status page: a login with a wrong token from %s", request.remote_addr)
        return _login_form(401, "That is not the admin token.")
    page_login.log_in()
    log.info("status page: logged in from %s", request.remote_addr)
    return _home()


@bp.post("/logout", provide_automatic_options=False)
def logout() -> ResponseReturnValue:
    """End the session (the cookie is deleted)."""
    page_login.log_out()
    return _home()


@bp.post("/page/resume", provide_automatic_options=False)
@operator
def resume() -> ResponseReturnValue:
    """Lift the pause and requeue the jobs that waited on it."""
    result = st.resume_delivery(state().ops(), _who())
    if result["changed"]:
        flash(f"Delivery resumed; {result['requeued']} waiting job(s) requeued.")
    else:
        flash("Delivery was not paused.")
    return _home()


@bp.post("/page/requeue", provide_automatic_options=False)
@operator
def requeue() -> ResponseReturnValue:
    """Requeue one failed job with the reason typed into its form."""
    try:
        reason = check_free_text(request.form.get("reason", ""), "The reason", REASON_LIMIT)
        job_id = check_free_text(request.form.get("job_id", ""), "The job id", 64)
        (done,) = fl.requeue(state().ops(), [job_id], by=_who(), reason=reason)
    except RequestError as e:
        return _index(e.status, str(e))
    if done["job_id"] is None:
        flash(f"Job {job_id} was requeued already.")
    else:
        flash(f"Requeued {done['source']}/{done['event_id']} as job {done['job_id']}.")
    return _home()
