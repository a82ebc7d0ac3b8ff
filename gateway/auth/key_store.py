"""API keys in Postgres: created once-shown, found by prefix, revoked, expired.

See :mod:`gateway.auth.credentials` for the key's shape. Every method raises
:class:`~ragbus.errors.RetryableError` when Postgres is unreachable.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from gateway.auth.credentials import new_api_key, parse_api_key, same_secret
from gateway.auth.roles import Role
from ragbus.stores.postgres import pg_errors

TOUCH_EVERY_S = 60
"""``last_used_at`` is written at most once a minute per key, not on every request."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key as stored (never its secret).

    Attributes:
        id: The key's id.
        prefix: The visible 12 hex digits (``rbk_<prefix>_...``).
        tenant_id: The only tenant it reaches.
        principal_id: The user or service account it acts as.
        role: What it may do (at most its principal's role).
        name: Its owner's label for it.
        requests_per_minute: Its own rate limit, if any (below the tenant's).
        created_at: Creation time.
        expires_at: When it stops working, if ever.
        revoked_at: When it was revoked, if it was.
        last_used_at: Last accepted use, to the minute.
    """

    id: uuid.UUID
    prefix: str
    tenant_id: str
    principal_id: uuid.UUID
    role: Role
    name: str
    requests_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        prefix=row["prefix"],
        tenant_id=row["tenant_id"],
        principal_id=row["principal_id"],
        role=Role(row["role"]),
        name=row["name"],
        requests_per_minute=row["requests_per_minute"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


class KeyStore:
    """API keys of every tenant."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def create(
        self,
        tenant_id: str,
        principal_id: uuid.UUID,
        *,
        role: Role,
        name: str,
        expires_at: datetime | None = None,
        requests_per_minute: int | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; returns it and its plaintext, which is never stored or shown again."""
        secret = new_api_key()
        row = await self._pool.fetchrow(
            """INSERT INTO api_keys (id, prefix, secret_sha256, tenant_id, principal_id,
                   role, name, expires_at, requests_per_minute)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
            uuid.uuid4(),
            secret.lookup,
            secret.secret_sha256,
            tenant_id,
            principal_id,
            str(role),
            name,
            expires_at,
            requests_per_minute,
        )
        return _key(row), secret.plaintext

    @pg_errors
    async def authenticate(self, plaintext: str) -> tuple[ApiKey | None, str]:
        """The live key ``plaintext`` is, or ``None`` and why not.

        Returns:
            ``(key, "")`` for a good key; ``(None, reason)`` with ``reason`` one of
            ``malformed``, ``unknown``, ``revoked``, ``expired``, ``disabled``
            (its principal is disabled).
        """
        parsed = parse_api_key(plaintext)
        if parsed is None:
            return None, "malformed"
        prefix, secret = parsed
        row = await self._pool.fetchrow(
            """SELECT k.*, p.disabled_at, k.expires_at <= now() AS expired,
                      k.last_used_at >= now() - make_interval(secs => $2) AS touched
               FROM api_keys k JOIN principals p ON p.id = k.principal_id
               WHERE k.prefix = $1""",
            prefix,
            TOUCH_EVERY_S,
        )
        if row is None or not same_secret(secret, bytes(row["secret_sha256"])):
            return None, "unknown"
        if row["revoked_at"] is not None:
            return None, "revoked"
        if row["expired"]:
            return None, "expired"
        if row["disabled_at"] is not None:
            return None, "disabled"
        key = _key(row)
        if not row["touched"]:  # within the minute: no write (a round trip per request)
            await self._touch(key)
        return key, ""

    async def _touch(self, key: ApiKey) -> None:
        await self._pool.execute(
            """UPDATE api_keys SET last_used_at = now() WHERE id = $1
               AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))""",
            key.id,
            TOUCH_EVERY_S,
        )

    @pg_errors
    async def get(self, tenant_id: str, key_id: uuid.UUID) -> ApiKey | None:
        """The tenant's key ``key_id`` (revoked or not), or ``None``."""
        row = await self._pool.fetchrow(
            "SELECT * FROM api_keys WHERE tenant_id = $1 AND id = $2", tenant_id, key_id
        )
        return None if row is None else _key(row)

    @pg_errors
    async def list(self, tenant_id: str) -> list[ApiKey]:
        """The tenant's keys, newest first, revoked ones included."""
        rows = await self._pool.fetch(
            "SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC", tenant_id
        )
        return [_key(r) for r in rows]

    @pg_errors
    async def revoke(self, tenant_id: str, key_id: uuid.UUID) -> ApiKey | None:
        """Revoke the key (and the refresh tokens it was exchanged for); ``None`` if none.

        Idempotent: a revoked key keeps its first ``revoked_at``.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
                   WHERE tenant_id = $1 AND id = $2 RETURNING *""",
                tenant_id,
                key_id,
            )
            await conn.execute(
                """UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
                   WHERE tenant_id = $1 AND api_key_id = $2""",
                tenant_id,
                key_id,
            )
        return None if row is None else _key(row)
