"""NATS credentials of a shipped deployment (compose, Kubernetes), as environment variables.

``ragbus up`` keeps its credentials in a file (:mod:`ragbus_tools.servers.nats_secrets`);
a container gets them from its environment instead. The nats-server configurations
that :mod:`ragbus_tools.deploy_files` writes name each identity's password
``$NATS_PASSWORD_<IDENTITY>`` and the auth callout's issuer ``$NATS_CALLOUT_ISSUER``;
each ragbus container gets only its own password as ``NATS_PASSWORD`` (the gateway
also the callout's seed and the ``ragbus-auth`` password). :func:`new_values` makes a
fresh set, which ``ragbus nats-secrets`` prints as ``.env`` lines or a Secret.
"""

import os
import secrets
import string
from collections.abc import Mapping

import nkeys
import yaml

from deploy.nats_security import IDENTITIES

ISSUER_VAR = "NATS_CALLOUT_ISSUER"
"""The public account nkey (``A...``) the server trusts for callout answers."""
SEED_VAR = "RAGBUS_NATS_CALLOUT_SEED"
"""The gateway's signing seed (``SA...``); the same name its settings read."""
SECRET_NAME = "ragbus-nats"
"""The Kubernetes Secret holding every variable of :func:`new_values`."""


def password_var(identity: str) -> str:
    """The variable of ``identity``'s password: ``NATS_PASSWORD_INGEST_SVC`` for ``ingest-svc``."""
    return "NATS_PASSWORD_" + identity.upper().replace("-", "_")


def new_password() -> str:
    """32 random URL-safe characters, the first a letter.

    nats-server parses a ``$VAR`` value as configuration, not as a string: a value
    starting with ``-`` or a digit may become a number, or stop the server.
    """
    while True:
        password = secrets.token_urlsafe(24)
        if password[0] in string.ascii_letters:
            return password


def issuer_of(seed: str) -> str:
    """The public account nkey (``A...``) of an account seed (``SA...``)."""
    return str(nkeys.from_seed(seed.encode()).public_key.decode())


def new_values() -> dict[str, str]:
    """Fresh credentials: every identity's password, the callout's seed and its issuer."""
    values = {password_var(identity): new_password() for identity in IDENTITIES}
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT).decode()
    return {**values, SEED_VAR: seed, ISSUER_VAR: issuer_of(seed)}


def env_lines(values: Mapping[str, str]) -> str:
    """``KEY=value`` lines, for ``.env`` or a kustomize ``secretGenerator`` env file."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def secret_manifest(
    values: Mapping[str, str], name: str = SECRET_NAME, namespace: str | None = None
) -> str:
    """A Kubernetes Secret (``stringData``) holding ``values``, as YAML."""
    metadata: dict[str, str] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": dict(values),
    }
    return yaml.safe_dump(secret, sort_keys=False)
