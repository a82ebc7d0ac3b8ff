"""Who gets in: API keys, ragbus's tokens, an OIDC provider's, refresh rotation, modes.

The real gateway on a real stack; every refusal is checked for its status, its
code and, for 401, its ``WWW-Authenticate`` header.
"""

import base64
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import openai
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from gateway.auth.key_store import KeyStore
from gateway.auth.principal_store import PrincipalStore
from gateway.auth.roles import Role
from gateway.auth.settings import AuthSettings
from ragbus.settings import InfraSettings
from tests.credentials import bearer
from tests.e2e.stack import RunningStack, running_stack
from tests.servers import serving

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PROTECTED = "/v1/documents"


def tenant() -> str:
    return f"sec-{uuid.uuid4().hex[:8]}"


async def get(stack: RunningStack, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        return await http.get(PROTECTED, headers=headers or {})


def refused(response: httpx.Response, code: str) -> None:
    """A 401 with ``code`` and a Bearer challenge (RFC 6750)."""
    assert response.status_code == 401, response.text
    assert response.json()["code"] == code, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="ragbus"')


async def test_no_malformed_wrong_revoked_or_expired_key_gets_in(stack: RunningStack) -> None:
    name = tenant()
    good = await stack.key(name)
    assert (await get(stack, bearer(good))).status_code == 200
    refused(await get(stack), "missing_credentials")
    refused(await get(stack, {"X-Tenant-ID": name}), "missing_credentials")  # a header is no key
    refused(await get(stack, bearer("rbk_nonsense")), "invalid_credentials")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    refused(await get(stack, bearer(forged)), "invalid_credentials")
    async with httpx.AsyncClient(base_url=stack.url, headers=bearer(good)) as admin:
        created = (await admin.post("/v1/admin/keys", json={"name": "temp"})).json()
        assert (await get(stack, bearer(created["key"]))).status_code == 200
        assert (await admin.delete(f"/v1/admin/keys/{created['id']}")).status_code == 200
    revoked = await get(stack, bearer(created["key"]))
    refused(revoked, "invalid_credentials")
    assert "revoked" in revoked.json()["detail"]
    pool = await stack.resources.pool()
    holder = await PrincipalStore(pool).find(name, "test-admin")
    assert holder is not None
    past = datetime.now(UTC) - timedelta(minutes=1)
    _, expired = await KeyStore(pool).create(
        name, holder.id, role=Role.MEMBER, name="old", expires_at=past
    )
    refused(await get(stack, bearer(expired)), "invalid_credentials")


async def test_the_openai_sdk_authenticates_with_a_ragbus_key_alone(stack: RunningStack) -> None:
    key = await stack.key(tenant(), "reader")
    async with openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=key, max_retries=0) as oai:
        vectors = await oai.embeddings.create(input="a question", model="ragbus")
        assert len(vectors.data[0].embedding) == 384
    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key="rbk_000000000000_" + "x" * 43, max_retries=0
    ) as stranger:
        with pytest.raises(openai.AuthenticationError):
            await stranger.embeddings.create(input="a question", model="ragbus")


async def exchange(stack: RunningStack, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        return await http.post("/v1/auth/token", json=body)


async def test_tokens_for_a_key_and_a_password_refresh_once_and_log_out(
    stack: RunningStack,
) -> None:
    name = tenant()
    admin = bearer(await stack.key(name))
    async with httpx.AsyncClient(base_url=stack.url, headers=admin) as http:
        user = {"name": "ann", "password": "a long pass phrase", "role": "reader"}
        assert (await http.post("/v1/admin/users", json=user)).status_code == 201
        short = {"name": "bob", "password": "short", "role": "reader"}
        assert (await http.post("/v1/admin/users", json=short)).status_code == 422
    wrong = {"grant_type": "password", "tenant": name, "username": "ann", "password": "nope"}
    refused(await exchange(stack, wrong), "invalid_grant")
    login = {**wrong, "password": "a long pass phrase"}
    tokens = (await exchange(stack, login)).json()
    assert tokens["token_type"] == "Bearer" and tokens["role"] == "reader"
    assert tokens["expires_in"] == 900 and tokens["tenant"] == name
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert {"sub", "tenant", "role", "iss", "aud", "exp", "iat", "jti"} <= claims.keys()
    assert (await get(stack, bearer(tokens["access_token"]))).status_code == 200
    # A reader's token may read documents but not upload them.
    async with httpx.AsyncClient(base_url=stack.url, headers=bearer(tokens["access_token"])) as r:
        denied = await r.post("/v1/documents", json={"filename": "a.txt", "text": "x"})
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"

    async with httpx.AsyncClient(base_url=stack.url) as http:
        first = tokens["refresh_token"]
        second = (await http.post("/v1/auth/refresh", json={"refresh_token": first})).json()
        assert second["refresh_token"] != first
        reuse = await http.post("/v1/auth/refresh", json={"refresh_token": first})
        refused(reuse, "refresh_reused")
        # The whole family is revoked: the token the attacker (or owner) got is dead too.
        again = await http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        refused(again, "invalid_grant")

        fresh = await exchange(stack, {"grant_type": "api_key", "api_key": admin_key(admin)})
        pair = fresh.json()
        assert pair["role"] == "admin"
        out = await http.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
        assert out.status_code == 204
        after = await http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        refused(after, "invalid_grant")
    jwks = (await httpx.AsyncClient(base_url=stack.url).get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} >= {
        jwt.get_unverified_header(pair["access_token"])["kid"]
    }
    assert all(k["kty"] == "OKP" and "d" not in k for k in jwks["keys"])  # public halves only


def admin_key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_forged_and_stale_tokens_are_refused(stack: RunningStack) -> None:
    name = tenant()
    key = await stack.key(name)
    good = (await exchange(stack, {"grant_type": "api_key", "api_key": key})).json()
    token = good["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (await get(stack, bearer(token))).status_code == 200

    none = jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]})
    refused(await get(stack, bearer(none)), "invalid_token")
    jwks = (await httpx.AsyncClient(base_url=stack.url).get("/.well-known/jwks.json")).json()
    public = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    raw_public = base64.urlsafe_b64decode(public["x"] + "==")
    confused = jwt.encode(claims, raw_public, algorithm="HS256", headers={"kid": header["kid"]})
    refused(await get(stack, bearer(confused)), "invalid_token")
    head, _, signature = token.split(".")
    tampered_claims = {**claims, "tenant": "someone-else", "role": "admin"}
    tampered_body = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(tampered_claims).encode())
    refused(
        await get(stack, bearer(f"{head}.{tampered_body.decode()}.{signature}")), "invalid_token"
    )

    signer = await stack_signer(stack)
    now = int(time.time())

    def signed(**changes: Any) -> str:
        return jwt.encode(
            {**claims, **changes}, signer.private, algorithm="EdDSA", headers={"kid": signer.kid}
        )

    assert (await get(stack, bearer(signed()))).status_code == 200  # the control
    refused(await get(stack, bearer(signed(exp=now - 120, iat=now - 300))), "token_expired")
    refused(await get(stack, bearer(signed(aud="another-service"))), "invalid_token")
    refused(await get(stack, bearer(signed(iss="https://evil.example"))), "invalid_token")
    refused(await get(stack, bearer(signed(nbf=now + 3600))), "invalid_token")
    unknown_kid = jwt.encode(claims, signer.private, algorithm="EdDSA", headers={"kid": "rb-nope"})
    refused(await get(stack, bearer(unknown_kid)), "invalid_token")


async def stack_signer(stack: RunningStack) -> Any:
    from gateway.auth.signing_keys import SigningKeys

    return await SigningKeys(await stack.resources.pool(), retire_after_s=930).signer()


@pytest.fixture(scope="module")
def provider() -> Any:
    """An OpenID Connect provider: an RSA key and its JWKS served over HTTP."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {
        **RSAAlgorithm.to_jwk(private.public_key(), as_dict=True),
        "kid": "idp-1",
        "alg": "RS256",
    }
    app = FastAPI()

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [jwk]}

    with serving(app) as url:
        yield private, f"{url}/jwks"


@pytest.fixture(scope="module")
async def oidc_stack(
    nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory, provider: Any
) -> AsyncIterator[RunningStack]:
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("oidc")
    )
    auth = AuthSettings(
        oidc_jwks_url=provider[1],
        oidc_issuer="https://idp.example",
        oidc_audience="ragbus-api",
        oidc_algorithms=["RS256"],
        oidc_tenant_claim="org",
        oidc_role_claim="ragbus_role",
    )
    async with running_stack(infra, auth=auth, name="ragbus-oidc") as running:
        yield running


async def test_an_oidc_providers_tokens_are_accepted_on_its_terms(
    oidc_stack: RunningStack, provider: Any
) -> None:
    private, _ = provider
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(time.time())
    claims = {
        "iss": "https://idp.example",
        "aud": "ragbus-api",
        "sub": "user-42",
        "org": tenant(),
        "ragbus_role": "reader",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }

    def token(**changes: Any) -> str:
        return jwt.encode({**claims, **changes}, pem, algorithm="RS256", headers={"kid": "idp-1"})

    assert (await get(oidc_stack, bearer(token()))).status_code == 200
    refused(await get(oidc_stack, bearer(token(aud="other"))), "invalid_token")
    refused(await get(oidc_stack, bearer(token(exp=now - 100, iat=now - 400))), "token_expired")
    refused(await get(oidc_stack, bearer(token(ragbus_role="owner"))), "invalid_token")
    refused(await get(oidc_stack, bearer(token(org="../etc"))), "invalid_token")
    async with httpx.AsyncClient(base_url=oidc_stack.url, headers=bearer(token())) as reader:
        upload = await reader.post("/v1/documents", json={"filename": "a.txt", "text": "x"})
        assert upload.status_code == 403  # the provider said reader


async def test_trusted_headers_mode_exists_only_when_set(
    nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory, stack: RunningStack
) -> None:
    # The default stack ignores identity headers entirely.
    refused(await get(stack, {"X-Tenant-ID": "acme", "X-User-ID": "eve"}), "missing_credentials")
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("proxy")
    )
    auth = AuthSettings(mode="trusted-headers")
    async with running_stack(infra, auth=auth, name="ragbus-proxy") as proxied:
        assert (
            await get(proxied, {"X-Tenant-ID": tenant(), "X-User-ID": "eve"})
        ).status_code == 200
        refused(await get(proxied), "missing_credentials")
        async with httpx.AsyncClient(base_url=proxied.url) as http:
            reader = {"X-Tenant-ID": tenant(), "X-Ragbus-Role": "reader"}
            denied = await http.post(
                "/v1/documents", json={"filename": "a.txt", "text": "x"}, headers=reader
            )
            assert denied.status_code == 403
