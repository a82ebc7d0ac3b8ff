"""The identity stores against a real Postgres: principals, keys, tokens, quotas."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import jwt
import pytest

from gateway.auth.key_store import KeyStore
from gateway.auth.principal_store import PasswordTooShortError, PrincipalStore
from gateway.auth.quotas import QuotaExceededError, QuotaLimits, Quotas
from gateway.auth.refresh_store import RefreshGrant, RefreshReusedError, RefreshStore
from gateway.auth.roles import Role
from gateway.auth.signing_keys import SigningKeys
from gateway.auth.tokens import AccessTokens, TokenError

pytestmark = pytest.mark.integration


@pytest.fixture
async def tenant(pool: asyncpg.Pool, unique_name: str) -> str:
    await PrincipalStore(pool).ensure_tenant(unique_name)
    return unique_name


async def test_a_password_is_checked_and_never_stored(pool: asyncpg.Pool, tenant: str) -> None:
    principals = PrincipalStore(pool)
    with pytest.raises(PasswordTooShortError):
        await principals.create(tenant, kind="user", name="ann", role=Role.MEMBER, password="short")
    ann = await principals.create(
        tenant, kind="user", name="ann", role=Role.MEMBER, password="correct horse battery"
    )
    assert ann is not None and ann.role == Role.MEMBER
    assert await principals.create(tenant, kind="user", name="ann", role=Role.READER) is None
    stored = await pool.fetchval("SELECT password_hash FROM principals WHERE id = $1", ann.id)
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert await principals.check_password(tenant, "ann", "correct horse battery") == ann
    assert await principals.check_password(tenant, "ann", "wrong horse battery") is None
    assert await principals.check_password(tenant, "bob", "correct horse battery") is None
    assert await principals.check_password("other-tenant", "ann", "correct horse battery") is None


async def test_a_key_works_until_revoked_or_expired(pool: asyncpg.Pool, tenant: str) -> None:
    principals, keys = PrincipalStore(pool), KeyStore(pool)
    bot = await principals.create(tenant, kind="service_account", name="bot", role=Role.ADMIN)
    assert bot is not None
    key, plaintext = await keys.create(tenant, bot.id, role=Role.READER, name="ci")
    assert plaintext.startswith(f"rbk_{key.prefix}_")
    assert plaintext not in str(await pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", key.id))
    found, reason = await keys.authenticate(plaintext)
    assert found is not None and found.id == key.id and reason == ""
    assert (await keys.get(tenant, key.id)).last_used_at is not None  # type: ignore[union-attr]
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert await keys.authenticate(tampered) == (None, "unknown")
    assert await keys.authenticate("rbk_nonsense") == (None, "malformed")
    assert await keys.revoke("another-tenant", key.id) is None  # not its tenant
    assert (await keys.authenticate(plaintext))[0] is not None
    await keys.revoke(tenant, key.id)
    assert await keys.authenticate(plaintext) == (None, "revoked")
    past = datetime.now(UTC) - timedelta(seconds=1)
    _, expired = await keys.create(tenant, bot.id, role=Role.READER, name="old", expires_at=past)
    assert await keys.authenticate(expired) == (None, "expired")
    _, live = await keys.create(tenant, bot.id, role=Role.READER, name="live")
    await principals.disable(tenant, bot.id)
    assert await keys.authenticate(live) == (None, "disabled")


async def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_family(
    pool: asyncpg.Pool, tenant: str
) -> None:
    principals = PrincipalStore(pool)
    ann = await principals.create(tenant, kind="user", name="ann", role=Role.MEMBER)
    assert ann is not None
    refresh = RefreshStore(pool, ttl_s=3600)
    grant = RefreshGrant(tenant, ann.id, Role.MEMBER, None, uuid.uuid4())
    first = await refresh.issue(grant)
    rotated = await refresh.rotate(first)
    assert rotated is not None
    again, second = rotated
    assert again.principal_id == ann.id and second != first
    with pytest.raises(RefreshReusedError):
        await refresh.rotate(first)  # first was used: someone copied it
    assert await refresh.rotate(second) is None  # the family is revoked
    third = await refresh.issue(RefreshGrant(tenant, ann.id, Role.MEMBER, None, uuid.uuid4()))
    assert await refresh.revoke(third) is not None
    assert await refresh.rotate(third) is None


async def test_tokens_verify_across_a_rotation_and_refuse_forgeries(
    pool: asyncpg.Pool, tenant: str
) -> None:
    keys = SigningKeys(pool, retire_after_s=60)
    tokens = AccessTokens(keys, issuer="ragbus", audience="ragbus", ttl_s=60, leeway_s=5)
    principal = uuid.uuid4()
    before = await tokens.issue(tenant, principal, Role.ADMIN)
    await keys.rotate()
    after = await tokens.issue(tenant, principal, Role.ADMIN)
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    for token in (before, after):  # the old key verifies until it retires
        claims = await tokens.verify(token)
        assert (claims.tenant_id, claims.subject, claims.role) == (
            tenant,
            str(principal),
            Role.ADMIN,
        )
    payload = jwt.decode(after, options={"verify_signature": False})
    kid = jwt.get_unverified_header(after)["kid"]
    unsigned = jwt.encode(payload, None, algorithm="none", headers={"kid": kid})
    with pytest.raises(TokenError, match="not valid"):
        await tokens.verify(unsigned)
    signer = await keys.signer()
    public_pem = signer.public.public_bytes_raw()
    hmac_forgery = jwt.encode(payload, public_pem, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(TokenError):
        await tokens.verify(hmac_forgery)
    stranger = jwt.encode(payload, "x" * 32, algorithm="HS256", headers={"kid": "unknown"})
    with pytest.raises(TokenError, match="unknown"):
        await tokens.verify(stranger)
    expired = {**payload, "exp": payload["iat"] - 100, "iat": payload["iat"] - 200}
    late = jwt.encode(expired, signer.private, algorithm="EdDSA", headers={"kid": signer.kid})
    with pytest.raises(TokenError) as caught:
        await tokens.verify(late)
    assert caught.value.code == "token_expired"


async def test_quotas_count_requests_queries_and_uploads(pool: asyncpg.Pool, tenant: str) -> None:
    limits = QuotaLimits(requests_per_minute=3, concurrent_queries=1)
    quotas = Quotas(pool, limits, query_lease_s=60)
    for _ in range(3):
        await quotas.hit_request(tenant, None, None)
    with pytest.raises(QuotaExceededError) as caught:
        await quotas.hit_request(tenant, None, None)
    assert caught.value.quota == "requests_per_minute" and 1 <= caught.value.retry_after_s <= 60
    other = f"{tenant}-b"
    await quotas.hit_request(other, None, None)  # another tenant's budget is its own
    async with quotas.query_slot(tenant):
        with pytest.raises(QuotaExceededError, match="queries at once"):
            async with quotas.query_slot(tenant):
                pass
    async with quotas.query_slot(tenant):  # the slot was given back
        pass
    await quotas.set_limits(tenant, {"upload_bytes_per_day": 1000})
    await quotas.check_upload(tenant, 600, 1)
    await quotas.record_upload(tenant, 600)
    with pytest.raises(QuotaExceededError) as upload:
        await quotas.check_upload(tenant, 600, 1)
    assert upload.value.quota == "upload_bytes_per_day"
    usage = await quotas.usage(tenant)
    assert usage["upload_bytes_per_day"] == {"limit": 1000, "used": 600}
    assert usage["requests_per_minute"] == {"limit": 3, "used": 3}


async def test_concurrent_slot_requests_never_exceed_the_limit(
    pool: asyncpg.Pool, tenant: str
) -> None:
    quotas = Quotas(pool, QuotaLimits(concurrent_queries=2), query_lease_s=60)
    held = 0
    peak = 0

    async def ask() -> bool:
        nonlocal held, peak
        try:
            async with quotas.query_slot(tenant):
                held += 1
                peak = max(peak, held)
                await asyncio.sleep(0.05)
                held -= 1
                return True
        except QuotaExceededError:
            return False

    results = await asyncio.gather(*(ask() for _ in range(10)))
    assert peak <= 2 and any(results) and not all(results)
