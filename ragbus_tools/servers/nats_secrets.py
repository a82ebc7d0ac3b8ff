"""The NATS credentials of one local deployment: each identity's password and the callout key.

``ragbus up``, the local cluster and the tests create them once under a data
directory (``nats/credentials.json``, mode 0600) and render them into the
server's configuration with :func:`deploy.nats_security.security_block`. The same
file, named by ``RAGBUS_NATS_CREDENTIALS``, lets the processes of that deployment
connect as their own identities (:mod:`ragbus.nats_identity`).
"""

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nkeys

from deploy.nats_security import ADMIN, IDENTITIES, security_block

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class NatsSecrets:
    """Passwords by identity, and the account nkey seed that signs callout answers.

    Attributes:
        path: The file they are stored in.
        passwords: Identity -> password (32 random URL-safe characters each).
        callout_seed: The account seed (``SA...``) of the auth callout's issuer.
    """

    path: Path
    passwords: dict[str, str]
    callout_seed: str

    @property
    def issuer(self) -> str:
        """The public account nkey (``A...``) the server trusts for callout answers."""
        return str(nkeys.from_seed(self.callout_seed.encode()).public_key.decode())

    def security(self) -> list[str]:
        """The server configuration's ``accounts`` and ``authorization`` blocks."""
        quoted = {identity: json.dumps(password) for identity, password in self.passwords.items()}
        return security_block(quoted, self.issuer)

    def url(self, base_url: str, identity: str = ADMIN) -> str:
        """``base_url`` with ``identity``'s credentials in it (``nats://user:pass@host``)."""
        scheme, _, rest = base_url.partition("://")
        password = quote(self.passwords[identity], safe="")
        return f"{scheme}://{identity}:{password}@{rest}"


def load_or_create(folder: Path) -> NatsSecrets:
    """The deployment's secrets under ``folder``, created (0600) on first use."""
    path = folder / CREDENTIALS_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        passwords = {**_new_passwords(), **stored["passwords"]}
        return NatsSecrets(path, passwords, stored["callout_seed"])
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT).decode()
    found = NatsSecrets(path, _new_passwords(), seed)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"passwords": found.passwords, "callout_seed": seed}, out, indent=2)
    return found


def _new_passwords() -> dict[str, str]:
    return {identity: secrets.token_urlsafe(24) for identity in IDENTITIES}
