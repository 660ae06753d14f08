"""Every exception this package raises, split by what the caller does next.

ConsumerError                 root
├── ConfigError               bad configuration: refuse to start (names every problem)
├── RequestError              a webhook the web layer refuses (carries its HTTP status)
│   ├── BodyError             400 body not JSON / not an object
│   ├── SignatureError        401 bad or malformed signature
│   │   ├── MissingSignature  401 no signature or credential header
│   │   └── StaleTimestamp    401 signed timestamp out of tolerance
│   ├── UnknownSource         404
│   ├── BodyTooLarge          413
│   ├── UnsupportedMediaType  415
│   ├── FieldError            422 event id / external id missing or invalid
│   └── OperatorError         400 an operator request that cannot be done (bad filter, input)
│       ├── NotFound          404 no such event, failed job or source
│       └── Conflict          409 not in the state the request needs (an unfinished erasure)
├── BadKey                    a signing or public key that cannot be read (never quoted)
├── InvalidIdentifier         an object slug, record id or external id of the wrong shape
├── InvalidFile               a mapping file refused as a whole (empty, wrong columns)
├── ArchiveError              an audit archive that cannot be written (directory, conflict)
├── ZeegError                 a call to Zeeg that did not succeed
│   ├── ZeegTransient         429, 5xx, timeout, connection: retry later
│   ├── ZeegAuth              401, 403: pause delivery
│   └── ZeegRejected          other 4xx: fail, visible and requeueable
├── StoreUnavailable          Redis unreachable: 503, nothing acknowledged
├── DeliveryFailed            an erasure reached a terminal failure (failed, requeueable)
└── DeliveryDeferred          no call made now (paused, held, rate limited): reschedule
"""

from __future__ import annotations


class ConsumerError(Exception):
    """Root of everything this package raises."""


class ConfigError(ConsumerError):
    """The configuration is invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


class RequestError(ConsumerError):
    """A webhook request that is refused with an HTTP status and an error code."""

    status = 400
    code = "bad_request"


class BodyError(RequestError):
    """The body is not a JSON object."""

    status = 400
    code = "invalid_body"


class SignatureError(RequestError):
    """The signature is missing, malformed, wrong, or its timestamp is out of tolerance."""

    status = 401
    code = "invalid_signature"
    reason = "bad_signature"  # the verification failure's label on /metrics


class MissingSignature(SignatureError):
    """No signature (or credential) header at all."""

    reason = "missing"


class StaleTimestamp(SignatureError):
    """The signed timestamp is outside the source's tolerance (a replay or a skewed clock)."""

    reason = "stale_timestamp"


class UnknownSource(RequestError):
    """No source of that name is configured."""

    status = 404
    code = "unknown_source"


class BodyTooLarge(RequestError):
    """The body exceeds intake.max_body_bytes."""

    status = 413
    code = "body_too_large"


class UnsupportedMediaType(RequestError):
    """The request is not JSON."""

    status = 415
    code = "unsupported_media_type"


class FieldError(RequestError):
    """A required field (event id, external id) is missing or invalid."""

    status = 422
    code = "invalid_field"


class OperatorError(RequestError):
    """An operator command or admin request that cannot be done as asked."""

    status = 400
    code = "invalid_request"


class NotFound(OperatorError):
    """The event, failed job or source an operator named does not exist."""

    status = 404
    code = "not_found"


class Conflict(OperatorError):
    """The thing exists but is not in the state the request needs (409)."""

    status = 409
    code = "conflict"


class BadKey(ConsumerError):
    """A signing or public key that cannot be read; the message never quotes the key."""


class InvalidIdentifier(ConsumerError):
    """An identifier does not have the shape required before it reaches a URL or key."""


class InvalidFile(ConsumerError):
    """A mapping import file that is refused as a whole: empty, or with the wrong columns."""


class ArchiveError(ConsumerError):
    """An archive could not be written (directory missing or not writable, a conflicting file)."""


class ZeegError(ConsumerError):
    """A Zeeg call that did not succeed; status is the HTTP status, None without a response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ZeegTransient(ZeegError):
    """429, 5xx, timeout or connection error: retry later (retry_after in seconds if known)."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status)


class ZeegAuth(ZeegError):
    """401 or 403: the token is wrong or lacks scope; delivery pauses."""


class ZeegRejected(ZeegError):
    """Another 4xx: the request itself is wrong; the job fails and can be requeued."""


class StoreUnavailable(ConsumerError):
    """Redis cannot be reached."""


class DeliveryFailed(ConsumerError):
    """An erasure reached a terminal failure: visible in the failed list, requeueable."""


class DeliveryDeferred(ConsumerError):
    """No Zeeg call may be made now (auth pause, 429 hold, empty bucket): try again later.

    Raised before any request is sent, so it never spends an attempt.
    """

    def __init__(self, why: str, delay: float) -> None:
        self.why = why
        self.delay = delay
        super().__init__(f"deferred ({why}) for {delay:.3f} s")
