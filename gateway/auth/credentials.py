"""The shape of ragbus's own credentials: API keys and refresh tokens.

An API key is ``rbk_<prefix>_<secret>``: the 12 hex digits of ``prefix`` name the
key in lists, logs and the audit trail; the 43-character ``secret`` carries 256
random bits (``secrets.token_urlsafe(32)``). A refresh token is
``rbr_<id>_<secret>`` alike, ``id`` being the token row's uuid. Only the SHA-256 of
the secret part is stored: with 256 random bits, a fast hash is enough (a slow one,
like argon2 for passwords, guards low-entropy secrets; see RFC 6819 §5.1.4.1.3).
"""

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

API_KEY_PREFIX = "rbk_"
REFRESH_PREFIX = "rbr_"
_API_KEY = re.compile(r"^rbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_REFRESH = re.compile(r"^rbr_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A credential as shown once to its owner, and what is stored of it.

    Attributes:
        plaintext: The whole credential, for the caller; never stored.
        lookup: The key's visible prefix, or the refresh token's id (hex).
        secret_sha256: 32 bytes, SHA-256 of the secret part.
    """

    plaintext: str
    lookup: str
    secret_sha256: bytes


def sha256(secret: str) -> bytes:
    """SHA-256 of ``secret`` (UTF-8), 32 bytes."""
    return hashlib.sha256(secret.encode()).digest()


def same_secret(secret: str, stored_sha256: bytes) -> bool:
    """Whether ``secret`` hashes to ``stored_sha256``, compared in constant time."""
    return hmac.compare_digest(sha256(secret), stored_sha256)


def new_api_key() -> NewSecret:
    """A fresh API key (``rbk_<12 hex>_<43 url-safe chars>``)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewSecret(f"{API_KEY_PREFIX}{prefix}_{secret}", prefix, sha256(secret))


def new_refresh_token(token_id: uuid.UUID) -> NewSecret:
    """A fresh refresh token for the row ``token_id``."""
    secret = secrets.token_urlsafe(32)
    return NewSecret(f"{REFRESH_PREFIX}{token_id.hex}_{secret}", token_id.hex, sha256(secret))


def parse_api_key(value: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed API key, else ``None``."""
    match = _API_KEY.match(value)
    return (match[1], match[2]) if match else None


def parse_refresh_token(value: str) -> tuple[uuid.UUID, str] | None:
    """``(token id, secret)`` of a well-formed refresh token, else ``None``."""
    match = _REFRESH.match(value)
    return (uuid.UUID(hex=match[1]), match[2]) if match else None
