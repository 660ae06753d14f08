"""ZeegClient: the Zeeg CRM API on one requests.Session; HTTP status -> exception in one place."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import requests

from consumer.errors import ZeegAuth, ZeegError, ZeegRejected, ZeegTransient
from consumer.models import check_object_slug, check_record_id
from consumer.settings import ZeegSettings
from consumer.zeeg.crm import RecordLookup, RecordPage, UpsertResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeleteResult:
    """A DELETE that reached a terminal answer: 2xx (deleted) or 404 (already gone)."""

    status: int

    @property
    def deleted(self) -> bool:
        """True if this call removed the record, False if it was already gone."""
        return 200 <= self.status < 300


# A longer hint is taken as this: a wrong header must not stop all delivery for years.
MAX_RETRY_AFTER = 86400.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(MAX_RETRY_AFTER, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wait = when.timestamp() - (time.time() if now is None else now)
    return min(MAX_RETRY_AFTER, max(0.0, wait))


def _message(response: requests.Response) -> str:
    """A short reason from either documented error body shape, never the whole body."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or ""
        if isinstance(text, str) and text:
            return f"HTTP {response.status_code}: {text[:200]}"
    return f"HTTP {response.status_code}"


def classify(response: requests.Response) -> None:
    """Raise the exception for a non-success status (decided by status code first)."""
    status = response.status_code
    if 300 <= status < 400:
        # Redirects are never followed (the Bearer token stays with base_url): fail visibly.
        raise ZeegRejected(f"unexpected HTTP {status} (redirects are not followed)", status)
    if status < 400:
        return
    reason = _message(response)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ZeegTransient(reason, status, retry_after)
    if status >= 500:
        raise ZeegTransient(reason, status)
    if status in (401, 403):
        raise ZeegAuth(reason, status)
    raise ZeegRejected(reason, status)


class Gate(Protocol):
    """Called before every request: waits for a rate-limit token, or raises DeliveryDeferred.

    probe=True marks the auth probe, the one call allowed while delivery is paused.
    """

    def __call__(self, *, probe: bool = False) -> None: ...


@runtime_checkable
class Throttled(Protocol):
    """A gate that adapts its rate: told of every 429 Zeeg answers (DeliveryGate is one)."""

    def throttled(self, retry_after: float | None = None) -> None: ...


def ungated(*, probe: bool = False) -> None:
    """The gate of a client outside delivery (the `check` command, tests): no wait at all."""


# Told of every request once it ends: its method, its HTTP status (None: no answer), seconds.
Observer = Callable[[str, int | None, float], None]


def unobserved(method: str, status: int | None, seconds: float) -> None:
    """The observer of a client outside delivery: nothing is recorded."""


class ZeegClient:
    """Calls to Zeeg with a Bearer token and connect/read timeouts on every request.

    gate is called before each request: delivery passes its DeliveryGate (pause, shared 429
    hold, token bucket); the default, ungated, lets every call straight out. observe is told
    of each request as it ends (delivery records its latency and status class on /metrics).
    """

    def __init__(
        self,
        settings: ZeegSettings,
        session: requests.Session | None = None,
        gate: Gate = ungated,
        observe: Observer = unobserved,
    ) -> None:
        self._base = settings.base_url.rstrip("/")
        self._timeout = (settings.connect_timeout_seconds, settings.read_timeout_seconds)
        self._session = session or requests.Session()
        self._session.headers["Accept"] = "application/json"
        if settings.token:
            self._session.headers["Authorization"] = f"Bearer {settings.token}"
        self.gate = gate
        self.observe = observe

    def __repr__(self) -> str:
        return f"ZeegClient(base_url={self._base!r})"

    def _request(
        self, method: str, path: str, *, probe: bool = False, **kwargs: Any
    ) -> requests.Response:
        self.gate(probe=probe)
        started = time.perf_counter()  # the call alone, not the gate's waits
        response: requests.Response | None = None
        try:
            response = self._session.request(
                method,
                self._base + path,
                timeout=self._timeout,
                # A followed 3xx could turn a DELETE into a GET whose 200 counts as a deletion,
                # or carry the token to another path of the same host.
                allow_redirects=False,
                **kwargs,
            )
        except requests.Timeout as e:
            raise ZeegTransient(f"{method} timed out") from e
        except requests.ConnectionError as e:
            raise ZeegTransient(f"{method} could not connect") from e
        except requests.RequestException as e:
            raise ZeegTransient(f"{method} failed: {type(e).__name__}") from e
        finally:
            status = None if response is None else response.status_code
            self.observe(method, status, time.perf_counter() - started)
        log.debug("zeeg %s %s -> %s", method, path, response.status_code)
        if response.status_code == 429 and isinstance(self.gate, Throttled):
            self.gate.throttled(parse_retry_after(response.headers.get("Retry-After")))
        return response

    def delete_record(self, obj: str, record_id: str) -> DeleteResult:
        """DELETE one record; 404 counts as already gone."""
        return DeleteResult(self._record_call("DELETE", obj, record_id))

    def get_record(self, obj: str, record_id: str) -> RecordLookup:
        """GET one record, to see whether it is gone: 404 is the answer a deletion wants."""
        return RecordLookup(self._record_call("GET", obj, record_id))

    def _record_call(self, method: str, obj: str, record_id: str) -> int:
        """One call on one record: its status, 404 (gone) or a 2xx; anything else raises."""
        path = f"/crm/{check_object_slug(obj)}/{check_record_id(record_id)}"
        response = self._request(method, path)
        if response.status_code == 404:
            return 404
        classify(response)
        if not 200 <= response.status_code < 300:
            # A redirect or other oddity is no proof of deletion (or of absence): fail visibly.
            raise ZeegRejected(f"unexpected HTTP {response.status_code}", response.status_code)
        return int(response.status_code)

    def get_object(self, obj: str, *, probe: bool = False) -> dict[str, Any]:
        """The object's schema: a cheap call that proves the token (probe: while paused)."""
        response = self._request("GET", f"/crm/objects/{check_object_slug(obj)}", probe=probe)
        classify(response)
        return _json(response)

    def create_record(self, obj: str, attributes: dict[str, Any]) -> str:
        """Create a record and return its id."""
        response = self._request(
            "POST", f"/crm/{check_object_slug(obj)}", json={"attributes": attributes}
        )
        classify(response)
        record = _json(response).get("record") or {}
        return check_record_id(str(record.get("id", "")))

    def list_records(self, obj: str, page: int, count: int) -> RecordPage:
        """One page (from 1) of an object's records, count (1-100) per page."""
        query = {"page": page, "count": count}
        response = self._request("GET", f"/crm/{check_object_slug(obj)}", params=query)
        classify(response)
        return RecordPage.from_body(page, _json(response))

    def upsert(self, obj: str, attributes: dict[str, Any], matching_attribute: str) -> UpsertResult:
        """PUT ?matchingAttribute=: updates the matching record (200) or creates one (201)."""
        response = self._request(
            "PUT",
            f"/crm/{check_object_slug(obj)}",
            params={"matchingAttribute": matching_attribute},
            json={"attributes": attributes},
        )
        classify(response)
        return UpsertResult.from_body(response.status_code, _json(response))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as e:
        raise ZeegError(f"HTTP {response.status_code}: response is not JSON") from e
    if not isinstance(body, dict):
        raise ZeegError(f"HTTP {response.status_code}: response is not a JSON object")
    return body
