"""Signing in and managing who may: token exchange, refresh, logout, keys and users.

``POST /v1/auth/token`` exchanges an API key or a user's password for a short-lived
access token (a JWT the gateway signs) and a refresh token; ``/v1/auth/refresh``
rotates the refresh token; ``/v1/auth/logout`` revokes its family. A tenant admin
creates and revokes keys and users. Every one of these is written to the audit
trail. Key and refresh secrets are shown once and never stored.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException

from gateway.auth.authenticate import AuthError, Identity
from gateway.auth.key_store import ApiKey, KeyStore
from gateway.auth.principal_store import PasswordTooShortError, Principal, PrincipalStore
from gateway.auth.refresh_store import RefreshGrant, RefreshReusedError, RefreshStore
from gateway.auth.roles import Role, at_most
from gateway.auth.tokens import AccessTokens


class Sessions:
    """Issues tokens and manages keys and users.

    Args:
        principals: Tenants, users and service accounts.
        keys: API keys.
        refresh: Refresh tokens.
        tokens: Signs access tokens.
    """

    def __init__(
        self,
        principals: PrincipalStore,
        keys: KeyStore,
        refresh: RefreshStore,
        tokens: AccessTokens,
    ) -> None:
        self.principals = principals
        self.keys = keys
        self._refresh = refresh
        self._tokens = tokens

    async def token_for_key(self, plaintext: str) -> dict[str, Any]:
        """Tokens for an API key (the key keeps working; revoking it ends the refreshes).

        Raises:
            AuthError: 401 ``invalid_grant`` for a key that does not work.
        """
        key, reason = await self.keys.authenticate(plaintext)
        if key is None:
            raise AuthError(401, "invalid_grant", f"the API key is {reason}")
        grant = RefreshGrant(key.tenant_id, key.principal_id, key.role, key.id, uuid.uuid4())
        return await self._pair(grant, "token.key")

    async def token_for_password(self, tenant_id: str, name: str, password: str) -> dict[str, Any]:
        """Tokens for a user's password.

        Raises:
            AuthError: 401 ``invalid_grant``, the same for an unknown tenant, user or
                a wrong password (nothing tells which).
        """
        user = await self.principals.check_password(tenant_id, name, password)
        if user is None:
            raise AuthError(401, "invalid_grant", "unknown user or wrong password")
        grant = RefreshGrant(tenant_id, user.id, user.role, None, uuid.uuid4())
        return await self._pair(grant, "token.password")

    async def refresh(self, plaintext: str) -> dict[str, Any]:
        """New tokens for a refresh token, which is used up.

        Raises:
            AuthError: 401 ``invalid_grant`` for an unknown, expired or revoked one;
                401 ``refresh_reused`` when it was already used (its family is
                revoked: sign in again).
        """
        try:
            rotated = await self._refresh.rotate(plaintext)
        except RefreshReusedError as exc:
            raise AuthError(
                401, "refresh_reused", "this refresh token was already used; sign in again"
            ) from exc
        if rotated is None:
            raise AuthError(401, "invalid_grant", "the refresh token is not valid")
        grant, token = rotated
        return await self._access(grant, token)

    async def logout(self, plaintext: str) -> None:
        """Revoke the refresh token's family (idempotent; unknown tokens are ignored)."""
        grant = await self._refresh.revoke(plaintext)
        if grant is not None:
            await self.principals.audit(grant.tenant_id, grant.principal_id, "logout")

    async def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The keys that verify access tokens, as a JWK set."""
        return await self._tokens.public_jwks()

    async def _pair(self, grant: RefreshGrant, action: str) -> dict[str, Any]:
        await self.principals.audit(grant.tenant_id, grant.principal_id, action)
        return await self._access(grant, await self._refresh.issue(grant))

    async def _access(self, grant: RefreshGrant, refresh_token: str) -> dict[str, Any]:
        access = await self._tokens.issue(grant.tenant_id, grant.principal_id, grant.role)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self._tokens.ttl_s,
            "refresh_token": refresh_token,
            "tenant": grant.tenant_id,
            "role": str(grant.role),
        }

    async def create_key(
        self,
        admin: Identity,
        *,
        name: str,
        role: Role,
        principal: str | None = None,
        expires_in_days: int | None = None,
        requests_per_minute: int | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key of the admin's tenant, for ``principal`` (a new service account
        named ``name`` when omitted); its plaintext is returned once.

        Raises:
            HTTPException: 404 unknown principal; 422 a role above the principal's.
        """
        tenant = admin.tenant_id
        owner = await self._owner(tenant, principal or name, create=principal is None, role=role)
        if not at_most(role, owner.role):
            raise HTTPException(422, f"role {role} is above {owner.name}'s role {owner.role}")
        expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        key, plaintext = await self.keys.create(
            tenant,
            owner.id,
            role=role,
            name=name,
            expires_at=expires,
            requests_per_minute=requests_per_minute,
        )
        await self._audit(admin, "key.create", key.prefix, {"role": str(role), "name": name})
        return key, plaintext

    async def revoke_key(self, admin: Identity, key_id: uuid.UUID) -> ApiKey:
        """Revoke one of the tenant's keys. Raises: HTTPException 404 if it has none such."""
        key = await self.keys.revoke(admin.tenant_id, key_id)
        if key is None:
            raise HTTPException(404, "key not found")
        await self._audit(admin, "key.revoke", key.prefix)
        return key

    async def create_user(
        self, admin: Identity, *, name: str, password: str, role: Role
    ) -> Principal:
        """A new user of the admin's tenant.

        Raises:
            HTTPException: 409 the name is taken; 422 a password under 12 characters.
        """
        try:
            user = await self.principals.create(
                admin.tenant_id, kind="user", name=name, role=role, password=password
            )
        except PasswordTooShortError as exc:
            raise HTTPException(422, str(exc)) from None
        if user is None:
            raise HTTPException(409, f"the tenant already has a principal named {name!r}")
        await self._audit(admin, "user.create", str(user.id), {"role": str(role)})
        return user

    async def disable_principal(self, admin: Identity, principal_id: uuid.UUID) -> None:
        """Disable a user or service account: its keys and tokens stop working.

        Raises:
            HTTPException: 404 if the tenant has no such principal; 409 for oneself.
        """
        if str(principal_id) == admin.principal_id:
            raise HTTPException(409, "an admin cannot disable themselves")
        if not await self.principals.disable(admin.tenant_id, principal_id):
            raise HTTPException(404, "principal not found")
        await self._audit(admin, "principal.disable", str(principal_id))

    async def _owner(self, tenant: str, name: str, *, create: bool, role: Role) -> Principal:
        owner = await self.principals.find(tenant, name)
        if owner is None and create:
            owner = await self.principals.create(
                tenant, kind="service_account", name=name, role=role
            )
        if owner is None:
            raise HTTPException(404, f"no principal named {name!r}")
        return owner

    async def _audit(
        self, admin: Identity, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        actor = uuid.UUID(admin.principal_id) if admin.via in ("api_key", "token") else None
        await self.principals.audit(admin.tenant_id, actor, action, target, detail)
