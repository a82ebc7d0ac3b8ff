"""A tenant's first credentials, made without an HTTP caller: by ``ragbus up`` and operators.

Creating a tenant needs no existing credential (there is none yet), so it is done
with direct access to the database: by ``ragbus up`` on its first start (the key is
printed once and written under its data dir), and by ``ragbus tenants create``
(operators with ``DATABASE_URL``). Everything after that goes through a tenant
admin's key and the admin routes.
"""

import asyncpg

from gateway.auth.key_store import KeyStore
from gateway.auth.principal_store import PrincipalStore
from gateway.auth.roles import Role, at_most

ADMIN_NAME = "admin"
"""The service account that holds a tenant's first admin key."""


async def bootstrap_admin(pool: asyncpg.Pool, tenant_id: str) -> str | None:
    """The tenant's first admin key, creating the tenant; ``None`` if it has a live one.

    Idempotent: a second start of ``ragbus up`` creates nothing.
    """
    principals, keys = PrincipalStore(pool), KeyStore(pool)
    await principals.ensure_tenant(tenant_id)
    owner = await principals.find(tenant_id, ADMIN_NAME)
    if owner is not None and any(
        k.revoked_at is None and k.principal_id == owner.id for k in await keys.list(tenant_id)
    ):
        return None
    return await issue_key(pool, tenant_id, Role.ADMIN, ADMIN_NAME)


async def issue_key(pool: asyncpg.Pool, tenant_id: str, role: Role, name: str) -> str:
    """A new key of service account ``name`` (created with ``role`` if missing) in the
    tenant (created if missing); returns its plaintext, shown once.

    Raises:
        ValueError: ``name`` exists with a lesser role than ``role``.
    """
    principals, keys = PrincipalStore(pool), KeyStore(pool)
    await principals.ensure_tenant(tenant_id)
    owner = await principals.find(tenant_id, name) or await principals.create(
        tenant_id, kind="service_account", name=name, role=role
    )
    assert owner is not None  # created, or found by a concurrent create
    if not at_most(role, owner.role):
        raise ValueError(f"{name} is a {owner.role}; its keys cannot be {role}")
    key, plaintext = await keys.create(tenant_id, owner.id, role=role, name=name)
    await principals.audit(tenant_id, None, "key.bootstrap", key.prefix, {"role": str(role)})
    return plaintext
