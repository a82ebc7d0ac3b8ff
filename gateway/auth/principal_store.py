"""Tenants and their principals (users and service accounts) in Postgres.

A user's password is hashed with argon2id (``argon2-cffi``'s defaults: RFC 9106's
second recommended option, 64 MiB and 3 passes), verified in a worker thread so the
event loop never waits on it. Every method raises
:class:`~ragbus.errors.RetryableError` when Postgres is unreachable.
"""

import asyncio
import builtins
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.auth.roles import Role
from ragbus.stores.postgres import pg_errors

_HASHER = PasswordHasher()
_UNUSABLE = _HASHER.hash("unusable: compared against when no such user exists")
"""Verified against for unknown users too, so timing does not tell who exists."""

MIN_PASSWORD_CHARS = 12
"""NIST SP 800-63B asks for at least 8; ragbus asks for 12."""


@dataclass(frozen=True, slots=True)
class Principal:
    """A user or service account of one tenant.

    Attributes:
        id: Stable id; what query history, conversations and audit rows record.
        tenant_id: The tenant it belongs to (and can never leave).
        kind: ``user`` (may have a password) or ``service_account`` (keys only).
        name: Unique within the tenant; a user's sign-in name.
        role: Its role in the tenant; its keys and tokens carry at most this.
        disabled: A disabled principal's keys and tokens are refused.
        created_at: When it was created.
    """

    id: uuid.UUID
    tenant_id: str
    kind: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime


def _principal(row: asyncpg.Record) -> Principal:
    return Principal(
        id=row["id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        name=row["name"],
        role=Role(row["role"]),
        disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
    )


class PasswordTooShortError(ValueError):
    """A new password is shorter than :data:`MIN_PASSWORD_CHARS`."""


class PrincipalStore:
    """Tenants, users and service accounts."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @pg_errors
    async def ensure_tenant(self, tenant_id: str, name: str | None = None) -> bool:
        """Create the tenant if it does not exist; ``True`` if it was created."""
        created = await self._pool.fetchval(
            """INSERT INTO tenants (id, name) VALUES ($1, $2)
               ON CONFLICT (id) DO NOTHING RETURNING true""",
            tenant_id,
            name or tenant_id,
        )
        return bool(created)

    @pg_errors
    async def tenant_exists(self, tenant_id: str) -> bool:
        """Whether ``tenant_id`` is a tenant."""
        return bool(await self._pool.fetchval("SELECT true FROM tenants WHERE id = $1", tenant_id))

    @pg_errors
    async def create(
        self, tenant_id: str, *, kind: str, name: str, role: Role, password: str | None = None
    ) -> Principal | None:
        """Create a principal; ``None`` if the tenant already has one named ``name``.

        Raises:
            PasswordTooShortError: ``password`` has fewer than 12 characters.
            ValueError: a service account was given a password.
        """
        if password is not None and kind != "user":
            raise ValueError("only users have passwords")
        digest = None
        if password is not None:
            if len(password) < MIN_PASSWORD_CHARS:
                raise PasswordTooShortError(
                    f"the password must have at least {MIN_PASSWORD_CHARS} characters"
                )
            digest = await asyncio.to_thread(_HASHER.hash, password)
        row = await self._pool.fetchrow(
            """INSERT INTO principals (id, tenant_id, kind, name, role, password_hash)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (tenant_id, name) DO NOTHING RETURNING *""",
            uuid.uuid4(),
            tenant_id,
            kind,
            name,
            str(role),
            digest,
        )
        return None if row is None else _principal(row)

    @pg_errors
    async def get(self, tenant_id: str, principal_id: uuid.UUID) -> Principal | None:
        """The tenant's principal ``principal_id``, or ``None``."""
        row = await self._pool.fetchrow(
            "SELECT * FROM principals WHERE tenant_id = $1 AND id = $2", tenant_id, principal_id
        )
        return None if row is None else _principal(row)

    @pg_errors
    async def find(self, tenant_id: str, name: str) -> Principal | None:
        """The tenant's principal named ``name``, or ``None``."""
        row = await self._pool.fetchrow(
            "SELECT * FROM principals WHERE tenant_id = $1 AND name = $2", tenant_id, name
        )
        return None if row is None else _principal(row)

    @pg_errors
    async def list(self, tenant_id: str) -> list[Principal]:
        """The tenant's principals, oldest first."""
        rows = await self._pool.fetch(
            "SELECT * FROM principals WHERE tenant_id = $1 ORDER BY created_at, name", tenant_id
        )
        return [_principal(r) for r in rows]

    @pg_errors
    async def disable(self, tenant_id: str, principal_id: uuid.UUID) -> bool:
        """Disable the principal (its keys and tokens stop working); ``False`` if none."""
        status = await self._pool.execute(
            """UPDATE principals SET disabled_at = coalesce(disabled_at, now())
               WHERE tenant_id = $1 AND id = $2""",
            tenant_id,
            principal_id,
        )
        return status.endswith(" 1")

    @pg_errors
    async def check_password(self, tenant_id: str, name: str, password: str) -> Principal | None:
        """The enabled user ``name`` of the tenant if ``password`` is theirs, else ``None``.

        The time taken is the same whether or not the user exists.
        """
        row = await self._pool.fetchrow(
            """SELECT * FROM principals WHERE tenant_id = $1 AND name = $2
               AND kind = 'user' AND disabled_at IS NULL""",
            tenant_id,
            name,
        )
        digest = row["password_hash"] if row is not None and row["password_hash"] else _UNUSABLE
        if not await asyncio.to_thread(_verify, digest, password) or row is None:
            return None
        return _principal(row)

    @pg_errors
    async def audit(
        self,
        tenant_id: str,
        principal_id: uuid.UUID | None,
        action: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one row to the tenant's audit trail."""
        await self._pool.execute(
            """INSERT INTO audit_log (tenant_id, principal_id, action, target, detail)
               VALUES ($1, $2, $3, $4, $5)""",
            tenant_id,
            principal_id,
            action,
            target,
            detail or {},
        )

    @pg_errors
    async def audit_trail(
        self, tenant_id: str, *, limit: int = 100
    ) -> "builtins.list[dict[str, Any]]":
        """The tenant's newest audit rows, newest first."""
        rows = await self._pool.fetch(
            """SELECT principal_id, action, target, detail, at FROM audit_log
               WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2""",
            tenant_id,
            limit,
        )
        return [
            {
                **dict(r),
                "principal_id": str(r["principal_id"]) if r["principal_id"] else None,
                "at": r["at"].isoformat(),
            }
            for r in rows
        ]


def _verify(digest: str, password: str) -> bool:
    try:
        return _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
