"""The validated settings: frozen dataclasses, each section field declared once with its default.

A field of a section dataclass is a key of that [section] of config/consumer.toml, its type hint
the kind the file must give, its default the default (schema.py derives the tables from them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consumer.settings.schema import FROM_ENV, ZERO_OK
from consumer.signing import SigningKey

DEFAULT_BASE_URL = "https://api.zeeg.me/v2"


@dataclass(frozen=True)
class ZeegSettings:
    """How to reach Zeeg."""

    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False, metadata=FROM_ENV)
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    rate_limit_per_second: float = field(default=5.0, metadata=ZERO_OK)  # 0: no limit
    burst: int = 5
    dry_run: bool = False
    verify_deletions: bool = False  # after a 2xx DELETE, a GET must answer 404


@dataclass(frozen=True)
class DeliverySettings:
    """Retry, pause and recovery policy of the erasure jobs."""

    max_attempts: int = 8
    backoff_base_seconds: float = field(default=1.0, metadata=ZERO_OK)
    backoff_max_seconds: float = field(default=60.0, metadata=ZERO_OK)
    sla_hours: float = 72.0
    auth_probe_seconds: float = 60.0
    # A SIGKILLed worker's job runs again within job_heartbeat + heartbeat_grace +
    # maintenance_interval seconds: 18 s (docs/resilience.md, "how fast ... comes back").
    maintenance_interval_seconds: int = 5
    job_timeout_seconds: int = 300
    job_heartbeat_seconds: int = 3
    heartbeat_grace_seconds: int = field(default=10, metadata=ZERO_OK)
    max_wait_in_job_seconds: float = field(default=1.5, metadata=ZERO_OK)
    # An unfinished event whose RQ job is alive nowhere (in no queue or registry, run by no
    # worker) this long after its last activity is re-enqueued by the orphan sweep; 0: never.
    orphan_after_seconds: float = field(default=120.0, metadata=ZERO_OK)
    # Erasure jobs one worker process runs at once, each in a thread with its own Zeeg
    # connection: a worker waiting on Zeeg's latency makes jobs_in_flight calls at a time.
    # 1 runs them one by one in the main thread (docs/configuration.md, docs/resilience.md).
    jobs_in_flight: int = 4


@dataclass(frozen=True)
class IntakeSettings:
    """Webhook intake limits."""

    dedupe_ttl_days: float = 7.0
    max_body_bytes: int = 1048576
    tolerance_seconds: int = field(default=300, metadata=ZERO_OK)
    event_log_retention_days: float = 30.0
    # Record ids one event may carry (payload:<path> resolvers): more is a 422, so one webhook
    # cannot queue a job of thousands of DELETEs ahead of every other deletion.
    max_record_ids_per_event: int = 100


@dataclass(frozen=True)
class RetentionSettings:
    """How long audit entries and tombstones are kept."""

    audit_retention_days: float = 400.0
    tombstone_days: float = 35.0
    # How often one worker's housekeeping trims the event log, audit stream and pending index.
    trim_interval_seconds: int = 3600
    # How long RQ keeps a finished erasure job's hash and result (the event keeps the outcomes).
    job_result_seconds: int = 3600


@dataclass(frozen=True)
class WebSettings:
    """How the web app sits behind a reverse proxy (docs/proxy.md)."""

    # Comma-separated addresses or networks of the proxies whose X-Forwarded-For/-Proto are
    # believed (gunicorn --forwarded-allow-ips and the app's ProxyFix); "": none, "*": any.
    trusted_proxies: str = ""


@dataclass(frozen=True)
class AuditSettings:
    """Where the audit stream is archived ("" for nowhere): one file per day (docs/AUDIT.md)."""

    # With a directory, audit entries past retention leave Redis only once archived.
    archive_dir: str = ""


@dataclass(frozen=True)
class Target:
    """A Zeeg object whose records are erased, and how their UUIDs are resolved."""

    object: str
    resolve: tuple[str, ...] = ("store",)


@dataclass(frozen=True)
class SourceConfig:
    """One upstream sender: how to verify its webhooks and read its events."""

    name: str
    scheme: str
    secrets: tuple[str, ...] = field(repr=False)
    signature_header: str | None
    event_types: tuple[str, ...]
    event_id: str
    event_type: str
    external_id: str
    occurred_at: str | None
    targets: tuple[Target, ...]
    tolerance_seconds: int
    insecure_allow_unsigned: bool = False
    preset: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    # external_id given as a table: the path per event type (external_id is then the first's).
    external_ids: Mapping[str, str] = field(default_factory=dict)
    max_record_ids: int = 100  # [intake] max_record_ids_per_event

    def external_id_path(self, event_type: str) -> str:
        """The field path of the external id in an event of this type."""
        return self.external_ids.get(event_type, self.external_id)

    def external_id_prefix(self, event_type: str) -> str:
        """The prefix options.external_id_prefix strips for this event type ("" for none)."""
        prefix = self.options.get("external_id_prefix") or ""
        if isinstance(prefix, Mapping):
            prefix = prefix.get(event_type, "")
        return prefix if isinstance(prefix, str) else ""


@dataclass(frozen=True)
class Settings:
    """Everything the service needs, validated; each field typed as a dataclass is a [section]."""

    zeeg: ZeegSettings
    delivery: DeliverySettings
    intake: IntakeSettings
    retention: RetentionSettings
    sources: Mapping[str, SourceConfig]
    audit: AuditSettings = field(default_factory=AuditSettings)
    redis_url: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    signing_key: SigningKey | None = field(default=None, repr=False)  # AUDIT_SIGNING_KEY
    port: int = 8000
    sandbox: bool = False
    config_path: str = ""
    redis_sentinel: RedisSentinel | None = field(default=None, repr=False)
    web: WebSettings = field(default_factory=WebSettings)
    alerts: AlertSettings = field(default_factory=lambda: AlertSettings())


@dataclass(frozen=True)
class RedisSentinel:
    """A Redis primary found through Sentinel (REDIS_SENTINELS and its REDIS_* variables)."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    sentinel_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    db: int = 0
    tls_ca_file: str | None = None
    # Replicas that must hold an intake write before it is acknowledged (WAIT); 0: none.
    wait_replicas: int = 1


@dataclass(frozen=True)
class AlertSettings:
    """Where and how alerts are sent (docs/alerts.md): off while webhook_url_env is empty.

    The webhook URL is a secret (a Slack incoming-webhook URL is its own credential): the file
    names the environment variable that holds it, never the URL itself.
    """

    webhook_url_env: str = ""
    format: str = "slack"  # "slack" ({"text"}) or "json" (text plus the alert's fields)
    hold_minutes: float = 15.0  # a 429 hold longer than this alerts
    timeout_seconds: float = 5.0  # per attempt to send an alert
    attempts: int = 3  # tries per alert, with a short backoff between them
    webhook_url: str | None = field(default=None, repr=False, metadata=FROM_ENV)
