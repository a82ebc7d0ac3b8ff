"""NATS auth callout: a client connects with a ragbus API key and gets its tenant's permissions.

nats-server (``authorization { auth_callout { ... } }``, rendered by
:func:`deploy.nats_security.security_block`) sends every connection that is not one
of ragbus's own identities to ``$SYS.REQ.USER.AUTH`` as a signed *authorization
request* JWT. This responder reads the API key the client sent as its token (or
password), checks it like the HTTP gateway does (:class:`KeyStore`: not unknown,
revoked, expired or disabled), and answers with a user JWT, signed by the callout's
account key, whose permissions are exactly that tenant's client subjects for the
key's role (:func:`deploy.nats_security.client_permissions`). A refusal is an
answer with an error; the server then closes the connection. The user JWT expires
after at most :data:`SESSION_S`, so a revoked key stops working on NATS within it.

NATS JWTs are compact JWS with ``alg: ed25519-nkey``: PyJWT does the encoding,
with that algorithm registered over the ``nkeys`` library's Ed25519 keys.
"""

import base64
import json
import logging
import secrets
import time
from typing import Any

import jwt
import nacl.exceptions
import nacl.signing
import nkeys
from jwt.algorithms import Algorithm
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from deploy.nats_security import ACCOUNT, CALLOUT_SUBJECT, client_permissions
from gateway.auth.key_store import KeyStore

log = logging.getLogger(__name__)

SESSION_S = 3600
"""Longest a client's NATS session lasts before it must authenticate again, in seconds."""
QUEUE = "ragbus-auth"
"""Queue group: every gateway replica answers callouts, each request once."""


def _raw_public(public: str) -> bytes:
    """The 32 Ed25519 bytes of a public nkey (``N...``, ``A...``, ``U...``)."""
    padded = public + "=" * (-len(public) % 8)
    return base64.b32decode(padded)[1:33]


class _NkeyAlgorithm(Algorithm):
    """``ed25519-nkey``: sign with an nkeys key pair, verify with a public nkey string."""

    def prepare_key(self, key: Any) -> Any:
        return key

    def sign(self, msg: bytes, key: Any) -> bytes:
        return bytes(key.sign(msg))

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        try:
            nacl.signing.VerifyKey(_raw_public(str(key))).verify(msg, sig)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError("nkeys have no JWK form")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError("nkeys have no JWK form")


_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm("ed25519-nkey", _NkeyAlgorithm())


def encode(claims: dict[str, Any], signer: nkeys.KeyPair) -> str:
    """A NATS JWT of ``claims`` signed by ``signer`` (``iss`` must be its public key)."""
    body = json.dumps(claims, separators=(",", ":")).encode()
    return _JWS.encode(body, signer, algorithm="ed25519-nkey", headers={"typ": "JWT"})


def decode(token: str) -> dict[str, Any]:
    """The claims of a NATS JWT, verified against its own ``iss`` (the server's nkey).

    Raises:
        jwt.InvalidTokenError: malformed, or the signature is not ``iss``'s.
    """
    unverified = jwt.decode(token, options={"verify_signature": False})
    payload = _JWS.decode(token, key=unverified["iss"], algorithms=["ed25519-nkey"])
    return dict(json.loads(payload))


class NatsCallout:
    """Answers nats-server's authorization requests with API keys.

    Args:
        keys: The API key store the HTTP gateway uses.
        seed: The callout issuer's account seed (``SA...``).
    """

    def __init__(self, keys: KeyStore, seed: str) -> None:
        self._keys = keys
        self._signer = nkeys.from_seed(seed.encode())
        self.issuer = self._signer.public_key.decode()

    async def serve(self, nc: Nats) -> None:
        """Subscribe on ``nc`` (connected as the callout identity) to the callout subject."""
        await nc.subscribe(CALLOUT_SUBJECT, queue=QUEUE, cb=self._answer)

    async def _answer(self, msg: Msg) -> None:
        try:
            answer = await self.respond(msg.data.decode())
        except Exception:  # never leave the server waiting: it refuses on timeout anyway
            log.exception("auth callout failed")
            return
        await msg.respond(answer.encode())

    async def respond(self, request_jwt: str) -> str:
        """The signed authorization response to one signed authorization request."""
        request = decode(request_jwt)["nats"]
        user_nkey, server_id = request["user_nkey"], request["server_id"]["id"]
        options = request.get("connect_opts", {})
        credential = options.get("auth_token") or options.get("pass") or ""
        key, reason = await self._keys.authenticate(credential)
        if key is None:
            log.info("NATS client refused", extra={"reason": reason})
            return self._response(user_nkey, server_id, error=f"the API key is {reason}")
        now = int(time.time())
        expires = now + SESSION_S
        if key.expires_at is not None:
            expires = min(expires, int(key.expires_at.timestamp()))
        permissions = client_permissions(key.tenant_id, str(key.role)).as_claims()
        user = {
            "jti": secrets.token_hex(16),
            "iat": now,
            "exp": expires,
            "iss": self.issuer,
            "sub": user_nkey,
            "aud": ACCOUNT,
            "name": f"{key.tenant_id}/{key.prefix}",
            "nats": {**permissions, "type": "user", "version": 2},
        }
        log.info("NATS client admitted", extra={"tenant_id": key.tenant_id, "key": key.prefix})
        return self._response(user_nkey, server_id, user_jwt=encode(user, self._signer))

    def _response(
        self, user_nkey: str, server_id: str, *, user_jwt: str = "", error: str = ""
    ) -> str:
        nats_claims: dict[str, Any] = {"type": "authorization_response", "version": 2}
        if user_jwt:
            nats_claims["jwt"] = user_jwt
        if error:
            nats_claims["error"] = error
        claims = {
            "jti": secrets.token_hex(16),
            "iat": int(time.time()),
            "iss": self.issuer,
            "sub": user_nkey,
            "aud": server_id,
            "nats": nats_claims,
        }
        return encode(claims, self._signer)
