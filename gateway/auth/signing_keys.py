"""The gateway's token signing keys: Ed25519, shared through Postgres, rotated in place.

Every gateway replica loads the keys from ``signing_keys``. The newest key that is
not retiring signs; every key until its ``retired_at`` verifies. Rotating creates a
new key and schedules the previous ones to retire once every token they signed has
expired (access token lifetime plus the clock-skew leeway), so no token in flight
is refused: RFC 8725 §3.1 (one algorithm per key) and §3.5 (``kid`` lookup).
"""

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from ragbus.stores.postgres import pg_errors

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
"""The only algorithm ragbus signs with (Ed25519, RFC 8037)."""
RELOAD_EVERY_S = 60.0
"""Keys created or retired by another replica are seen within this many seconds."""
MIN_RELOAD_GAP_S = 5.0
"""An unknown ``kid`` reloads the keys at most this often (a forged kid costs no query)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key: its id, algorithm and key pair (the private half only if loaded)."""

    kid: str
    algorithm: str
    private: Ed25519PrivateKey
    retiring: bool

    @property
    def public(self) -> Ed25519PublicKey:
        """The verifying half."""
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 8037) for ``/.well-known/jwks.json``."""
        jwk = OKPAlgorithm.to_jwk(self.public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class SigningKeys:
    """The key set of this replica, reloaded from Postgres.

    Args:
        pool: The Postgres pool.
        retire_after_s: How long a rotated-out key keeps verifying, in seconds
            (the access token lifetime plus the leeway).
    """

    def __init__(self, pool: asyncpg.Pool, *, retire_after_s: float) -> None:
        self._pool = pool
        self._retire_after_s = retire_after_s
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def signer(self) -> SigningKey:
        """The key that signs new tokens; one is created on first use."""
        await self._fresh()
        current = [k for k in self._keys.values() if not k.retiring]
        if not current:
            await self.rotate()
            current = [k for k in self._keys.values() if not k.retiring]
        return current[-1]

    async def find(self, kid: str) -> SigningKey | None:
        """The verifying key ``kid``; an unknown one reloads the set once (rate-limited)."""
        await self._fresh()
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._loaded_at > MIN_RELOAD_GAP_S:
            await self._load()
            key = self._keys.get(kid)
        return key

    async def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """Every verifying key as a JWK set."""
        await self._fresh()
        return {"keys": [k.jwk() for k in self._keys.values()]}

    @pg_errors
    async def rotate(self) -> str:
        """Create a new signing key and let the current ones retire; returns the new kid."""
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        kid = f"rb-{secrets.token_hex(8)}"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE signing_keys SET retired_at = now() + $1
                   WHERE retired_at IS NULL""",
                timedelta(seconds=self._retire_after_s),
            )
            await conn.execute(
                "INSERT INTO signing_keys (kid, algorithm, private_pem) VALUES ($1, $2, $3)",
                kid,
                ALGORITHM,
                pem,
            )
            await conn.execute("DELETE FROM signing_keys WHERE retired_at < now()")
        log.info("signing key rotated", extra={"kid": kid})
        await self._load()
        return kid

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at > RELOAD_EVERY_S:
            await self._load()

    @pg_errors
    async def _load(self) -> None:
        async with self._lock:
            rows = await self._pool.fetch(
                """SELECT kid, algorithm, private_pem, retired_at IS NOT NULL AS retiring
                   FROM signing_keys WHERE retired_at IS NULL OR retired_at > now()
                   ORDER BY created_at"""
            )
            keys = {}
            for row in rows:
                private = serialization.load_pem_private_key(row["private_pem"].encode(), None)
                assert isinstance(private, Ed25519PrivateKey)
                keys[row["kid"]] = SigningKey(
                    row["kid"], row["algorithm"], private, bool(row["retiring"])
                )
            self._keys = keys
            self._loaded_at = time.monotonic()
