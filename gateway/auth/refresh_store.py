"""Refresh tokens: opaque, stored as a hash, rotated on every use, families revoked on reuse.

A refresh token is used once: refreshing marks it used and issues the next token
of the same family. Presenting a token that was already used means it was copied
(RFC 9700 §4.14.2, refresh token rotation): the whole family is revoked, so
neither the thief nor the owner can refresh again and the owner signs in anew.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from gateway.auth.credentials import new_refresh_token, parse_refresh_token, same_secret
from gateway.auth.roles import Role
from ragbus.stores.postgres import pg_errors


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """Whom a refresh token was issued to.

    Attributes:
        tenant_id: The tenant.
        principal_id: The user or service account.
        role: The role the tokens carry.
        api_key_id: The key it was exchanged for (revoking the key revokes it).
        family_id: The chain of rotations it belongs to.
    """

    tenant_id: str
    principal_id: uuid.UUID
    role: Role
    api_key_id: uuid.UUID | None
    family_id: uuid.UUID


class RefreshReusedError(Exception):
    """A used refresh token came back: its family is now revoked."""


class RefreshStore:
    """Issues, rotates and revokes refresh tokens.

    Args:
        pool: The Postgres pool.
        ttl_s: Lifetime of each refresh token, in seconds.
    """

    def __init__(self, pool: asyncpg.Pool, *, ttl_s: float) -> None:
        self._pool = pool
        self._ttl = timedelta(seconds=ttl_s)

    @pg_errors
    async def issue(self, grant: RefreshGrant, conn: asyncpg.Connection | None = None) -> str:
        """A new refresh token for ``grant`` (its plaintext, shown once)."""
        token_id = uuid.uuid4()
        secret = new_refresh_token(token_id)
        await (conn or self._pool).execute(
            """INSERT INTO refresh_tokens (id, family_id, token_sha256, tenant_id,
                   principal_id, api_key_id, role, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8)""",
            token_id,
            grant.family_id,
            secret.secret_sha256,
            grant.tenant_id,
            grant.principal_id,
            grant.api_key_id,
            str(grant.role),
            self._ttl,
        )
        return secret.plaintext

    @pg_errors
    async def rotate(self, plaintext: str) -> tuple[RefreshGrant, str] | None:
        """Use ``plaintext`` up and issue the next token of its family.

        Returns:
            The grant and the new token; ``None`` if the token is unknown, expired,
            revoked, or its principal or key no longer works.

        Raises:
            RefreshReusedError: the token was already used; its family is revoked.
        """
        parsed = parse_refresh_token(plaintext)
        if parsed is None:
            return None
        token_id, secret = parsed
        grant: RefreshGrant | None = None
        issued = ""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT r.*, r.expires_at <= now() AS expired, p.disabled_at,
                          k.revoked_at AS key_revoked, k.expires_at <= now() AS key_expired
                   FROM refresh_tokens r JOIN principals p ON p.id = r.principal_id
                   LEFT JOIN api_keys k ON k.id = r.api_key_id
                   WHERE r.id = $1 FOR UPDATE OF r""",
                token_id,
            )
            if row is None or not same_secret(secret, bytes(row["token_sha256"])):
                return None
            reused = row["used_at"] is not None and row["revoked_at"] is None
            if reused:  # revoked in this transaction, raised once it has committed
                await self._revoke_family(conn, row["family_id"])
            dead = row["revoked_at"] is not None or row["expired"] or row["disabled_at"]
            if not (reused or dead or row["key_revoked"] is not None or row["key_expired"]):
                await conn.execute(
                    "UPDATE refresh_tokens SET used_at = now() WHERE id = $1", token_id
                )
                grant = RefreshGrant(
                    tenant_id=row["tenant_id"],
                    principal_id=row["principal_id"],
                    role=Role(row["role"]),
                    api_key_id=row["api_key_id"],
                    family_id=row["family_id"],
                )
                issued = await self.issue(grant, conn)
        if reused:
            raise RefreshReusedError(str(row["family_id"]))
        return None if grant is None else (grant, issued)

    @pg_errors
    async def revoke(self, plaintext: str) -> RefreshGrant | None:
        """Revoke the family of ``plaintext`` (logout); ``None`` if the token is unknown."""
        parsed = parse_refresh_token(plaintext)
        if parsed is None:
            return None
        token_id, secret = parsed
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT * FROM refresh_tokens WHERE id = $1", token_id)
            if row is None or not same_secret(secret, bytes(row["token_sha256"])):
                return None
            await self._revoke_family(conn, row["family_id"])
        return RefreshGrant(
            row["tenant_id"],
            row["principal_id"],
            Role(row["role"]),
            row["api_key_id"],
            row["family_id"],
        )

    @staticmethod
    async def _revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> None:
        await conn.execute(
            """UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
               WHERE family_id = $1""",
            family_id,
        )
