"""Access tokens: JWTs the gateway signs, and JWTs of an external OpenID Connect provider.

Verification follows RFC 8725 (JWT best current practices): the algorithm is taken
from the key, never from the token (one algorithm per ragbus key, a configured
allow-list for the provider's), so ``alg: none`` and an HS256 token "signed" with
a public key are refused; ``kid`` picks the key (an unknown one is refused);
``iss``, ``aud``, ``exp``, ``iat`` and ``nbf`` are checked with a bounded clock
skew (``leeway_s``).
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from gateway.auth.roles import Role
from gateway.auth.signing_keys import SigningKeys


class TokenError(Exception):
    """A bearer token that is not accepted.

    Attributes:
        code: ``token_expired`` or ``invalid_token``.
    """

    def __init__(self, message: str, *, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Who a verified token speaks for.

    Attributes:
        tenant_id: The ``tenant`` claim.
        subject: The ``sub`` claim: a ragbus principal id, or the provider's subject.
        role: The ``role`` claim.
        token_id: The ``jti`` claim.
        external: Whether an OpenID Connect provider issued it.
    """

    tenant_id: str
    subject: str
    role: Role
    token_id: str
    external: bool = False


@dataclass(frozen=True, slots=True)
class ExternalProvider:
    """An OpenID Connect provider whose access tokens the gateway accepts.

    Attributes:
        jwks_url: Where its signing keys are published.
        issuer: Its ``iss``.
        audience: The ``aud`` its tokens must name.
        algorithms: Algorithms allowed (asymmetric only, e.g. ``RS256``, ``ES256``).
        tenant_claim: The claim that names the tenant.
        role_claim: The claim that names the role.
    """

    jwks_url: str
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    tenant_claim: str = "tenant"
    role_claim: str = "role"


REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class AccessTokens:
    """Signs ragbus access tokens and verifies ragbus or provider tokens.

    Args:
        keys: The gateway's signing keys.
        issuer: The ``iss`` of ragbus tokens.
        audience: The ``aud`` of ragbus tokens.
        ttl_s: Access token lifetime in seconds.
        leeway_s: Clock skew tolerated on ``exp``, ``iat`` and ``nbf``, in seconds.
        provider: An external OpenID Connect provider, if any.
    """

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        audience: str,
        ttl_s: int,
        leeway_s: int,
        provider: ExternalProvider | None = None,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self.ttl_s = ttl_s
        self._leeway_s = leeway_s
        self._provider = provider
        self._jwks = jwt.PyJWKClient(provider.jwks_url, lifespan=300) if provider else None

    async def issue(self, tenant_id: str, principal_id: uuid.UUID, role: Role) -> str:
        """A signed access token (compact JWS) valid for ``ttl_s`` seconds."""
        key = await self._keys.signer()
        now = int(time.time())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(principal_id),
            "tenant": tenant_id,
            "role": str(role),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})

    async def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The gateway's verifying keys as a JWK set (RFC 7517)."""
        return await self._keys.public_jwks()

    async def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token.

        Raises:
            TokenError: ``token_expired`` for an expired one, ``invalid_token`` for
                anything else wrong (malformed, bad signature, ``alg`` not allowed,
                unknown ``kid``, wrong ``iss`` or ``aud``, ``nbf`` in the future,
                missing claims, unknown role).
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("the bearer token is neither a ragbus key nor a JWT") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("the token has no kid")
        own = await self._keys.find(kid)
        if own is not None:
            claims = self._decode(token, own.public, [own.algorithm], self._issuer, self._audience)
            return _claims(claims, "tenant", "role", external=False)
        if self._provider is None or self._jwks is None:
            raise TokenError("the token's signing key is unknown")
        provider = self._provider
        try:
            # PyJWKClient fetches with urllib: off the event loop, cached for 5 min.
            signing = await asyncio.to_thread(self._jwks.get_signing_key, kid)
        except jwt.PyJWKClientError:
            raise TokenError("the token's signing key is unknown") from None
        allowed = [a for a in provider.algorithms if a in ASYMMETRIC]
        if signing.algorithm_name and signing.algorithm_name not in allowed:
            raise TokenError("the token's algorithm is not allowed")
        claims = self._decode(token, signing.key, allowed, provider.issuer, provider.audience)
        return _claims(claims, provider.tenant_claim, provider.role_claim, external=True)

    def _decode(
        self, token: str, key: Any, algorithms: list[str], issuer: str, audience: str
    ) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=audience,
                issuer=issuer,
                leeway=self._leeway_s,
                options={"require": REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired", code="token_expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("the token is not valid yet (nbf or iat in the future)") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is not valid: {exc}") from None


def _claims(claims: dict[str, Any], tenant: str, role: str, *, external: bool) -> TokenClaims:
    try:
        return TokenClaims(
            tenant_id=str(claims[tenant]),
            subject=str(claims["sub"]),
            role=Role(claims[role]),
            token_id=str(claims["jti"]),
            external=external,
        )
    except (KeyError, ValueError):
        raise TokenError(f"the token lacks a valid {tenant!r} or {role!r} claim") from None
