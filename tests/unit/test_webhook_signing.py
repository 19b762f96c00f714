"""Webhook signing, secrets at rest, the retry decision and the settings behind them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from standardwebhooks import Webhook as Verifier

from service.errors import SecretKeyInvalid, SecretKeyMissing
from service.settings import Settings, load_settings
from service.webhooks.delivery import decide
from service.webhooks.secrets import KEY_FILE, SecretBox, new_webhook_secret
from service.webhooks.sender import AttemptResult, parse_retry_after, signature_headers

# The test vector published with the Standard Webhooks specification (its reference libraries'
# "sign function" test: standard-webhooks/standard-webhooks, libraries/*/tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specification_test_vector_is_reproduced():
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, UTC)
    headers = signature_headers(SPEC_ID, SPEC_BODY, [SPEC_SECRET], at)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    # the algorithm itself: HMAC-SHA256 keyed with the base64-decoded secret
    key = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{SPEC_ID}.{SPEC_TIMESTAMP}.{SPEC_BODY}".encode(), hashlib.sha256).digest()
    assert "v1," + base64.b64encode(digest).decode() == SPEC_SIGNATURE


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = new_webhook_secret(), new_webhook_secret()
    now = datetime.now(UTC)
    headers = signature_headers("msg_1", '{"a":1}', [new, old], now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Verifier(secret).verify('{"a":1}', headers) == {"a": 1}


def test_secrets_have_the_standard_shape():
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != new_webhook_secret()


# --- the retry decision ---------------------------------------------------------------------------

SCHEDULE = [5.0, 300.0, 1800.0]


def result(status: int | None, retry_after: float | None = None) -> AttemptResult:
    return AttemptResult(status, None if status and 200 <= status < 300 else "failed", retry_after, 10)


def test_2xx_is_delivered_and_410_disables():
    assert decide(result(204), 1, SCHEDULE).state == "delivered"
    gone = decide(result(410), 1, SCHEDULE)
    assert gone.state == "failed" and gone.disable and gone.retry_in is None


@pytest.mark.parametrize("status", [None, 301, 400, 404, 500, 502])
def test_failures_follow_the_schedule_with_jitter_then_give_up(status):
    rng = random.Random(1)
    for attempt, base in enumerate(SCHEDULE, start=1):
        outcome = decide(result(status), attempt, SCHEDULE, rng)
        assert outcome.state == "pending" and 0.9 * base <= outcome.retry_in <= 1.1 * base
    last = decide(result(status), len(SCHEDULE) + 1, SCHEDULE, rng)
    assert last.state == "failed" and last.retry_in is None and not last.disable


def test_429_and_503_wait_at_least_their_retry_after():
    assert decide(result(429, 60.0), 1, SCHEDULE).retry_in == 60.0
    assert 4.5 <= decide(result(503, 1.0), 1, SCHEDULE).retry_in <= 5.5  # never earlier than scheduled
    assert decide(result(429, 10**9), 1, SCHEDULE).retry_in == 24 * 3600.0  # capped
    assert decide(result(500, 60.0), 1, SCHEDULE).retry_in <= 5.5  # only 429 and 503 are honoured


def test_retry_after_is_read_in_both_forms():
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 23 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_the_default_schedule_is_the_specification_s_and_tests_can_shorten_it(monkeypatch):
    assert Settings().webhook_retry_schedule == [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    monkeypatch.setenv("SIGNALS_WEBHOOK_RETRY_SCHEDULE", "0.2, 0.2,0.5")
    assert load_settings().webhook_retry_schedule == [0.2, 0.2, 0.5]
    monkeypatch.setenv("SIGNALS_WEBHOOK_RETRY_SCHEDULE", "-1")
    with pytest.raises(Exception, match="SIGNALS_WEBHOOK_RETRY_SCHEDULE"):
        load_settings()


# --- secrets at rest --------------------------------------------------------------------------------


def test_a_configured_key_encrypts_and_a_rotated_list_still_decrypts(tmp_path):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = SecretBox(Settings(secret_key=old_key, database_url="postgresql://u@h/db", data_dir=tmp_path))
    token = old.encrypt("whsec_abc")
    assert "whsec_abc" not in token and old.decrypt(token) == "whsec_abc"
    rotated = SecretBox(Settings(secret_key=f"{new_key},{old_key}", database_url="postgresql://u@h/db"))
    assert rotated.decrypt(token) == "whsec_abc"
    assert Fernet(new_key.encode()).decrypt(rotated.encrypt("x").encode()) == b"x"
    with pytest.raises(SecretKeyInvalid):
        SecretBox(Settings(secret_key=new_key, database_url="postgresql://u@h/db")).decrypt(old.encrypt("y"))


def test_with_the_embedded_database_a_key_file_is_made_once_and_kept_private(tmp_path):
    settings = Settings(secret_key=None, database_url=None, data_dir=tmp_path / "data")
    first = SecretBox(settings)
    token = first.encrypt("whsec_kept")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretBox(settings).decrypt(token) == "whsec_kept"  # another process reads the same key
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]


def test_with_database_url_and_no_key_nothing_is_generated(tmp_path):
    box = SecretBox(Settings(secret_key=None, database_url="postgresql://u@h/db", data_dir=tmp_path))
    with pytest.raises(SecretKeyMissing) as info:
        box.encrypt("whsec_x")
    assert info.value.extra["missing"] == ["SIGNALS_SECRET_KEY"] and info.value.status == 503
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SecretKeyInvalid):
        SecretBox(Settings(secret_key="not-a-fernet-key", database_url="postgresql://u@h/db")).check()


def test_signing_secrets_include_the_previous_one_only_during_the_overlap(tmp_path):
    from service.webhooks.delivery import signing_secrets
    from service.webhooks.repository import ClaimedDelivery

    box = SecretBox(Settings(secret_key=Fernet.generate_key().decode(), database_url="postgresql://u@h/db"))
    now = datetime.now(UTC)

    def claim(expires: datetime | None) -> ClaimedDelivery:
        return ClaimedDelivery(
            id=None,  # type: ignore[arg-type]
            attempt=1,
            webhook_id=None,  # type: ignore[arg-type]
            url="http://x",
            secret_ciphertext=box.encrypt("new"),
            previous_secret_ciphertext=box.encrypt("old") if expires else None,
            previous_secret_expires_at=expires,
            message_id="msg",
            body="{}",
        )

    assert signing_secrets(box, claim(now + timedelta(seconds=5)), now) == ["new", "old"]
    assert signing_secrets(box, claim(now - timedelta(seconds=1)), now) == ["new"]
    assert signing_secrets(box, claim(None), now) == ["new"]
