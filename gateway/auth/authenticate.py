"""Who is calling: the credential on a request becomes an :class:`Identity`, or a refusal.

``Authorization: Bearer <credential>`` holds a ragbus API key (``rbk_...``), an
access token the gateway signed, or an OpenID Connect provider's access token.
The tenant, the principal and the role come from the credential only: no header,
body or event can name another. In ``trusted-headers`` mode (an authenticating
proxy in front) they come from ``X-Tenant-ID``, ``X-User-ID`` and ``X-Ragbus-Role``.
"""

import uuid
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from gateway.auth.credentials import API_KEY_PREFIX
from gateway.auth.key_store import KeyStore
from gateway.auth.roles import Permission, Role, allows
from gateway.auth.settings import AuthSettings
from gateway.auth.tokens import AccessTokens, TokenError
from schemas.envelope import TenantId

_TENANT = TypeAdapter(TenantId)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller.

    Attributes:
        tenant_id: The only tenant the caller reaches.
        principal_id: The user or service account (an OIDC provider's ``sub``,
            or ``X-User-ID`` behind a proxy); what history and conversations record.
        role: What the caller may do in the tenant.
        via: ``api_key``, ``token``, ``oidc`` or ``trusted_headers``.
        key_id: The API key used, if one was.
        key_requests_per_minute: That key's own rate limit, if it has one.
    """

    tenant_id: str
    principal_id: str
    role: Role
    via: str
    key_id: uuid.UUID | None = None
    key_requests_per_minute: int | None = None

    @property
    def user_id(self) -> str | None:
        """The principal, as query history and conversations call it (``None`` only
        behind a proxy that sent no ``X-User-ID``)."""
        return self.principal_id or None

    def can(self, permission: Permission) -> bool:
        """Whether the caller's role has ``permission``."""
        return allows(self.role, permission)


class AuthError(Exception):
    """A request that is not authenticated (401) or not allowed (403).

    Attributes:
        status: 401 or 403.
        code: ``missing_credentials``, ``invalid_credentials``, ``token_expired``,
            ``invalid_token`` or ``forbidden``.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def www_authenticate(self) -> str | None:
        """The ``WWW-Authenticate`` header of a 401 (RFC 6750 §3), else ``None``."""
        if self.status != 401:
            return None
        if self.code == "missing_credentials":
            return 'Bearer realm="ragbus"'
        description = str(self).replace('"', "'")
        return f'Bearer realm="ragbus", error="invalid_token", error_description="{description}"'


class Authenticator:
    """Turns a request's credential into an :class:`Identity`.

    Args:
        settings: The mode and token settings.
        keys: The API key store.
        tokens: Verifies access tokens.
    """

    def __init__(self, settings: AuthSettings, keys: KeyStore, tokens: AccessTokens) -> None:
        self.settings = settings
        self._keys = keys
        self._tokens = tokens

    async def from_bearer(self, credential: str | None) -> Identity:
        """The identity of ``Authorization: Bearer <credential>``.

        Raises:
            AuthError: 401 when the credential is missing, malformed, unknown,
                revoked, expired (code ``token_expired`` for tokens) or invalid.
        """
        if not credential:
            raise AuthError(401, "missing_credentials", "send Authorization: Bearer <api key>")
        if credential.startswith(API_KEY_PREFIX):
            key, reason = await self._keys.authenticate(credential)
            if key is None:
                raise AuthError(401, "invalid_credentials", f"the API key is {reason}")
            return Identity(
                tenant_id=key.tenant_id,
                principal_id=str(key.principal_id),
                role=key.role,
                via="api_key",
                key_id=key.id,
                key_requests_per_minute=key.requests_per_minute,
            )
        try:
            claims = await self._tokens.verify(credential)
        except TokenError as exc:
            raise AuthError(401, exc.code, str(exc)) from None
        try:
            tenant = _TENANT.validate_python(claims.tenant_id)
        except ValidationError:
            raise AuthError(401, "invalid_token", "the token's tenant is not a valid id") from None
        return Identity(
            tenant_id=tenant,
            principal_id=claims.subject,
            role=claims.role,
            via="oidc" if claims.external else "token",
        )

    def from_headers(self, tenant: str | None, user: str | None, role: str | None) -> Identity:
        """The identity an authenticating proxy asserts (``trusted-headers`` mode only).

        Raises:
            AuthError: 401 without ``X-Tenant-ID``; 401 for an invalid tenant or role.
        """
        if not tenant:
            raise AuthError(401, "missing_credentials", "missing X-Tenant-ID header")
        try:
            tenant = _TENANT.validate_python(tenant)
        except ValidationError:
            raise AuthError(
                401,
                "invalid_credentials",
                "invalid X-Tenant-ID: use 1-128 letters, digits or ._:@- characters",
            ) from None
        try:
            granted = Role(role or self.settings.default_role)
        except ValueError:
            raise AuthError(401, "invalid_credentials", "X-Ragbus-Role is not a role") from None
        return Identity(tenant, user or "", granted, via="trusted_headers")


def permit(identity: Identity, permission: Permission) -> Identity:
    """``identity`` if its role has ``permission``.

    Raises:
        AuthError: 403 ``forbidden``, naming the permission.
    """
    if not identity.can(permission):
        raise AuthError(
            403,
            "forbidden",
            f"the {identity.role} role may not {permission.value.replace('_', ' ')}",
        )
    return identity
