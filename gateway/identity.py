"""Who is calling, as FastAPI dependencies: authenticate once, then check a permission.

Every route but ``/healthz``, ``/readyz``, ``/.well-known/jwks.json`` and the token
exchange depends on one of the aliases below, which name the permission it needs
(:mod:`gateway.auth.roles`). The caller is authenticated once per request (the
identity is kept on ``request.state``), counted against the tenant's and the key's
requests per minute, then checked against the permission: 401 for no or a bad
credential, 403 for a role without the permission, 429 over a limit.
"""

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.auth.authenticate import AuthError, Identity, permit
from gateway.auth.roles import Permission

__all__ = [
    "AdminDep",
    "AskerDep",
    "ConverserDep",
    "DocumentReaderDep",
    "Identity",
    "IdentityDep",
    "UploaderDep",
    "authenticate",
    "bearer",
    "metrics_reader",
]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ragbus",
    description="A ragbus API key (rbk_...) or an access token from POST /v1/auth/token.",
)


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    x_tenant_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_user_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_ragbus_role: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Identity:
    """The request's caller, authenticated and counted once per request.

    Raises:
        AuthError: 401 without a valid credential; 503 when the gateway has no
            authenticator (it never serves unauthenticated).
        QuotaExceededError: over the tenant's or the key's requests per minute.
    """
    known: Identity | None = getattr(request.state, "identity", None)
    if known is not None:
        return known
    state = request.app.state.gateway
    auth = state.auth
    if auth is None:
        raise AuthError(503, "auth_unavailable", "authentication is not configured")
    if auth.settings.mode == "trusted-headers":
        identity = auth.from_headers(x_tenant_id, x_user_id, x_ragbus_role)
    else:
        identity = await auth.from_bearer(credentials.credentials if credentials else None)
    if state.quotas is not None:
        await state.quotas.hit_request(
            identity.tenant_id, identity.key_id, identity.key_requests_per_minute
        )
    request.state.identity = identity
    return identity


def require(permission: Permission) -> Callable[[Identity], Awaitable[Identity]]:
    """A dependency: the authenticated caller, if their role has ``permission`` (else 403)."""

    async def allowed(identity: Annotated[Identity, Depends(authenticate)]) -> Identity:
        return permit(identity, permission)

    return allowed


async def metrics_reader(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> None:
    """Let Prometheus (``RAGBUS_AUTH_METRICS_TOKEN``) or a tenant admin read ``/metrics``.

    Raises:
        AuthError: 401 without a credential; 403 for a credential that is neither.
    """
    auth = request.app.state.gateway.auth
    token = auth.settings.metrics_token if auth is not None else None
    offered = credentials.credentials if credentials else ""
    if token is not None and offered and hmac.compare_digest(offered, token.get_secret_value()):
        return
    identity = await authenticate(request, credentials)
    permit(identity, Permission.ADMINISTER)


IdentityDep = Annotated[Identity, Depends(authenticate)]
"""Any authenticated caller (their own usage, token exchange bookkeeping)."""
AskerDep = Annotated[Identity, Depends(require(Permission.ASK))]
"""Query, retrieve, chat completions, embeddings, one's own query history: every role."""
DocumentReaderDep = Annotated[Identity, Depends(require(Permission.READ_DOCUMENTS))]
"""List and read documents and their progress: every role."""
UploaderDep = Annotated[Identity, Depends(require(Permission.WRITE_DOCUMENTS))]
"""Upload, and delete or reprocess one's own documents: member and admin."""
ConverserDep = Annotated[Identity, Depends(require(Permission.CONVERSE))]
"""Conversations: member and admin."""
AdminDep = Annotated[Identity, Depends(require(Permission.ADMINISTER))]
"""Keys, users, settings, quotas, audit, dead letters: admin."""
