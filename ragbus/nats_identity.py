"""Which NATS identity a process or service connects as, and with what credentials.

Every connection to ragbus's NATS is authenticated (``deploy/nats_security.py``
lists the identities and their permissions). A service run alone takes its
identity from ``NATS_USER``/``NATS_PASSWORD`` (the gateway's auth callout connects
as ``ragbus-auth`` with ``RAGBUS_NATS_CALLOUT_PASSWORD``); a process that runs several services
(``ragbus up``) reads each one's password from ``RAGBUS_NATS_CREDENTIALS``, so
each service still connects as itself. A NATS server without authentication
(a developer's own) is reached with no credentials when none are configured.
"""

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from faststream.nats import NatsUserPassword

from deploy.nats_security import AUTH
from ragbus.settings import InfraSettings


def identity_of(builder: Callable[..., Any]) -> str:
    """The NATS identity of a service builder: its package name with ``-`` (``ingest-svc``).

    ``functools.partial`` builders (a service with settings of its own) are unwrapped.
    """
    while isinstance(builder, functools.partial):
        builder = builder.func
    return builder.__module__.split(".", 1)[0].replace("_", "-")


def _stored(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def connect_options(infra: InfraSettings, identity: str) -> dict[str, str]:
    """``user`` and ``password`` keyword arguments for nats-py and FastStream, or ``{}``.

    Raises:
        OSError, ValueError: ``nats_credentials`` is set but cannot be read.
    """
    if infra.nats_credentials is not None:
        passwords = _stored(infra.nats_credentials).get("passwords", {})
        if identity in passwords:
            return {"user": identity, "password": str(passwords[identity])}
    if identity == AUTH:  # the gateway's second connection, never its NATS_USER
        secret = infra.nats_callout_password
        return {"user": AUTH, "password": secret.get_secret_value()} if secret else {}
    if infra.nats_user:
        password = infra.nats_password.get_secret_value() if infra.nats_password else ""
        return {"user": infra.nats_user, "password": password}
    return {}


def callout_seed(infra: InfraSettings) -> str | None:
    """The auth callout's signing seed: ``RAGBUS_NATS_CALLOUT_SEED``, else the stored one."""
    if infra.nats_callout_seed is not None:
        return infra.nats_callout_seed.get_secret_value()
    if infra.nats_credentials is not None:
        seed = _stored(infra.nats_credentials).get("callout_seed")
        return str(seed) if seed else None
    return None


def without_credentials(nats_url: str) -> list[str]:
    """The server URLs of ``nats_url`` (comma-separated), user and password removed."""
    urls = []
    for url in nats_url.split(","):
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        urls.append(urlunsplit((parts.scheme, netloc, parts.path, "", "")))
    return urls


def broker_connection(
    infra: InfraSettings, identity: str
) -> tuple[str | list[str], NatsUserPassword | None]:
    """``(servers, security)`` for a FastStream ``NatsBroker`` connecting as ``identity``.

    With credentials, the servers lose any user and password in ``NATS_URL``
    (FastStream refuses both at once); without, ``NATS_URL`` is used as it is.
    """
    auth = connect_options(infra, identity)
    if not auth:
        return infra.nats_url, None
    return without_credentials(infra.nats_url), NatsUserPassword(auth["user"], auth["password"])
