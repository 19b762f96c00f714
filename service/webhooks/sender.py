"""Sending one signed webhook request: the Standard Webhooks headers and a guarded HTTP client.

Signatures are made by the ``standardwebhooks`` package (the specification's reference
implementation): ``v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">``,
one per secret, space-separated, so during a secret rotation a receiver holding either
secret can verify.

The client connects only where the article fetcher may (the same ``check_url`` before
anything is sent and the same ``CheckedNetworkBackend`` at connect time: a name that resolves
to a refused address is refused without a connection). Redirects are never followed (a 3xx
is a failed attempt), the whole attempt runs under SIGNALS_WEBHOOK_TIMEOUT, and at most
``_MAX_READ`` bytes of the answer are read (only its status matters). No exception leaves
``send``: every outcome is an ``AttemptResult``, whose error text names the host at most, never
the URL (its query may hold the receiver's own token) or anything the receiver sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpcore
import httpx
from standardwebhooks import Webhook as SignatureScheme

from service.errors import FetchFailed, FetchRefused
from service.ingest.addresses import AddressPolicy, CheckedNetworkBackend
from service.ingest.fetch import check_url
from service.settings import Settings

USER_AGENT = "Signals-Webhooks/0.1"
_MAX_READ = 64 * 1024


def signature_headers(message_id: str, body: str, secrets: Sequence[str], at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with every secret given."""
    signatures = [
        SignatureScheme(secret).sign(msg_id=message_id, timestamp=at, data=body) for secret in secrets
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt got: an HTTP status, or an error instead."""

    status_code: int | None
    error: str | None
    retry_after: float | None
    duration_ms: int


class WebhookSender:
    """One connection pool for every delivery of the process. ``aclose`` when done."""

    def __init__(self, settings: Settings, policy: AddressPolicy | None = None) -> None:
        self.policy = policy if policy is not None else AddressPolicy(settings.fetch_allowed_networks)
        self._timeout = settings.webhook_timeout_seconds
        ssl_context = httpx.create_ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=ssl_context)
        # As in service/ingest/fetch.py: httpx 0.28 cannot be given a network backend, so
        # the transport's pool is replaced by one whose backend checks every address.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=200,
            max_keepalive_connections=100,
            keepalive_expiry=30.0,
            network_backend=CheckedNetworkBackend(self.policy),
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self._timeout),
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, headers: dict[str, str], body: str) -> AttemptResult:
        """POST ``body`` to ``url`` once. Never raises for network or policy trouble."""
        started = time.perf_counter()

        def result(status: int | None, error: str | None, retry_after: float | None = None) -> AttemptResult:
            elapsed = int((time.perf_counter() - started) * 1000)
            return AttemptResult(status, error, retry_after, elapsed)

        try:
            target = check_url(url, self.policy)
        except FetchRefused as exc:
            return result(None, f"refused: {exc.detail}")
        host = httpx.URL(target).host
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client.stream(
                    "POST", target, content=body.encode(), headers=headers
                ) as answer:
                    read = 0
                    async for chunk in answer.aiter_raw():
                        read += len(chunk)
                        if read > _MAX_READ:
                            break
                    status = answer.status_code
                    retry_after = parse_retry_after(answer.headers.get("retry-after"))
        except FetchRefused as exc:
            return result(None, f"refused: {exc.detail}")
        except FetchFailed as exc:
            return result(None, exc.detail)
        except (TimeoutError, httpx.TimeoutException, httpcore.TimeoutException):
            return result(None, f"{host} did not answer within {self._timeout:g} s")
        except (httpx.ConnectError, httpcore.ConnectError):
            return result(None, f"could not connect to {host}")
        except (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            return result(None, f"the connection to {host} failed ({type(exc).__name__})")
        if 300 <= status < 400:
            return result(status, f"{host} answered {status}; redirects are not followed")
        if not 200 <= status < 300:
            return result(status, f"{host} answered {status}", retry_after)
        return result(status, None)
