"""``/v1/auth/*`` and ``/.well-known/jwks.json``: exchange a credential for tokens.

No credential is needed to call these: the body carries it. Logic:
:mod:`gateway.auth.sessions`. Access tokens last ``RAGBUS_AUTH_ACCESS_TTL_S`` (15
min); refresh tokens ``RAGBUS_AUTH_REFRESH_TTL_S`` (30 days), one use each.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response, status
from pydantic import Field

from gateway.errors import ERRORS
from gateway.request_checks import RequestBody
from gateway.state import StateDep
from schemas.envelope import TenantId

router = APIRouter(tags=["auth"], responses={k: ERRORS[k] for k in (401, 413, 422, 429)})


class TokenRequest(RequestBody):
    """``grant_type: api_key`` with ``api_key``, or ``password`` with the user's
    ``tenant``, ``username`` and ``password``."""

    grant_type: Literal["api_key", "password"]
    api_key: str | None = Field(None, max_length=256)
    tenant: Annotated[TenantId, Field()] | None = None
    username: str | None = Field(None, max_length=256)
    password: str | None = Field(None, max_length=1024)


class RefreshRequest(RequestBody):
    """A refresh token from an earlier exchange."""

    refresh_token: str = Field(max_length=256)


@router.post("/v1/auth/token")
async def issue_token(state: StateDep, body: TokenRequest) -> dict[str, Any]:
    """``{"access_token", "token_type", "expires_in", "refresh_token", "tenant", "role"}``."""
    sessions = state.require_sessions()
    if body.grant_type == "api_key":
        return await sessions.token_for_key(body.api_key or "")
    return await sessions.token_for_password(
        body.tenant or "", body.username or "", body.password or ""
    )


@router.post("/v1/auth/refresh")
async def refresh_token(state: StateDep, body: RefreshRequest) -> dict[str, Any]:
    """New tokens; the refresh token sent is used up (sent again, it revokes its family)."""
    return await state.require_sessions().refresh(body.refresh_token)


@router.post("/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(state: StateDep, body: RefreshRequest) -> Response:
    """Revoke the refresh token and every token rotated from it."""
    await state.require_sessions().logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json")
async def jwks(state: StateDep) -> dict[str, Any]:
    """The public keys that verify the gateway's access tokens (RFC 7517)."""
    return await state.require_sessions().public_jwks()
