"""Who is calling: the one place identity is resolved (authentication comes later)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from pydantic import TypeAdapter, ValidationError

from schemas.envelope import TenantId

_TENANT = TypeAdapter(TenantId)


@dataclass(frozen=True, slots=True)
class Identity:
    """The caller's tenant and, if known, user."""

    tenant_id: str
    user_id: str | None = None


def resolve_identity(
    request: Request,
    x_tenant_id: Annotated[str | None, Header()] = None,
    x_user_id: Annotated[str | None, Header()] = None,
) -> Identity:
    """Read the tenant from ``X-Tenant-ID`` and the user from ``X-User-ID``.

    Raises:
        HTTPException: 400 when the tenant is missing (and no default is set) or invalid.
    """
    tenant = x_tenant_id or request.app.state.gateway.settings.default_tenant
    if not tenant:
        raise HTTPException(400, "missing X-Tenant-ID header")
    try:
        tenant = _TENANT.validate_python(tenant)
    except ValidationError:
        raise HTTPException(
            400, "invalid X-Tenant-ID: use 1-128 letters, digits or ._:@- characters"
        ) from None
    return Identity(tenant_id=tenant, user_id=x_user_id or None)


IdentityDep = Annotated[Identity, Depends(resolve_identity)]
