"""Webhook signing secrets: made here, encrypted at rest with Fernet, shown to the owner once.

The encryption key comes from SIGNALS_SECRET_KEY (Fernet keys, comma-separated: the first
encrypts, every one decrypts, so a key is rotated by putting a new one in front). Without it:

- with the embedded database, a key is generated on first use into SIGNALS_DATA_DIR/secret.key
  (mode 0600), next to the database it protects, and reused by every process on the machine;
- with DATABASE_URL, the database may be shared by machines that would each invent their own
  key, so nothing is generated: creating a webhook answers 503 naming the variable to set.

Neither the key nor a plain secret is ever logged or put in an error.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from service.errors import SecretKeyInvalid, SecretKeyMissing
from service.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
KEY_FILE = "secret.key"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _load_or_create_key_file(folder: Path) -> bytes:
    path = folder / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes().strip()
    folder.mkdir(parents=True, exist_ok=True)
    # Written under a private name, then linked into place: a concurrent process either wins
    # the link or reads the winner's complete file, never half of one.
    temporary = folder / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes().strip()


class SecretBox:
    """Encrypts and decrypts webhook secrets; the key is loaded (or made) on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    def _cipher(self) -> MultiFernet:
        if self._fernet is not None:
            return self._fernet
        with self._lock:
            if self._fernet is None:
                self._fernet = self._build()
        return self._fernet

    def _build(self) -> MultiFernet:
        configured = self._settings.secret_key
        if configured is not None:
            raw = [part.strip() for part in configured.get_secret_value().split(",") if part.strip()]
        elif self._settings.database_url is None:
            raw = [_load_or_create_key_file(self._settings.data_dir).decode("ascii")]
        else:
            raise SecretKeyMissing(
                "webhook secrets are stored encrypted and no key is configured: set SIGNALS_SECRET_KEY "
                "to a Fernet key (python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'), the same on every machine",
                missing=["SIGNALS_SECRET_KEY"],
            )
        try:
            return MultiFernet([Fernet(key) for key in raw])
        except (ValueError, TypeError):
            raise SecretKeyInvalid(
                "SIGNALS_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes each), comma-separated"
            ) from None

    def check(self) -> None:
        """Raise SecretKeyMissing / SecretKeyInvalid now rather than at first use."""
        self._cipher()

    def encrypt(self, plaintext: str) -> str:
        return self._cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._cipher().decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretKeyInvalid(
                "a stored webhook secret cannot be decrypted with SIGNALS_SECRET_KEY (was the key replaced "
                "instead of rotated?)"
            ) from None
