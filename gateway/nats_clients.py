"""What a tenant's client needs to use ragbus over NATS directly (``GET /v1/nats``).

NATS admits a client whose connect ``token`` is one of its tenant's API keys (the
gateway's auth callout, :mod:`gateway.nats_callout`), with exactly the permissions
of :func:`deploy.nats_security.client_permissions`. docs/events.md walks through a
client.
"""

import json
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from deploy.nats_security import client_inbox, client_permissions
from schemas import subjects as s

CLIENT_FAMILIES = (
    s.DOCUMENT_UPLOADED,
    s.DOCUMENT_STATUS,
    s.DOCUMENT_INDEXED,
    s.DOCUMENT_FAILED,
    s.DOCUMENT_DELETED,
    s.QUERY_REQUESTED,
    s.ANSWER_READY,
    s.ANSWER_FAILED,
)
"""The families a client sees; ``answer.delta`` adds the query id (``.<query_id>``)."""


def client_access(tenant_id: str, role: str, servers: list[str]) -> dict[str, Any]:
    """Where and how a client of ``tenant_id`` with ``role`` connects, and its subjects.

    Returns:
        ``{"servers", "tenant", "role", "connect", "inbox_prefix", "subjects",
        "permissions", "asyncapi"}``: ``subjects`` maps each event family to the
        tenant's subject of it; ``permissions`` is what NATS enforces for a key of
        this role (publish and subscribe allow-lists).
    """
    allowed = client_permissions(tenant_id, role)
    subjects = {family: s.subject_for(family, tenant_id) for family in CLIENT_FAMILIES}
    subjects[s.ANSWER_DELTA] = s.subject_for(s.ANSWER_DELTA, tenant_id, "<query_id>")
    return {
        "servers": servers,
        "tenant": tenant_id,
        "role": role,
        "connect": {"token": "one of this tenant's API keys (an access token is refused)"},
        "inbox_prefix": client_inbox(tenant_id),
        "subjects": subjects,
        "permissions": {"publish": allowed.publish, "subscribe": allowed.subscribe},
        "asyncapi": "/v1/nats/asyncapi.json",
    }


def asyncapi_document(servers: list[str]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event (``ragbus schemas export``) with
    ``servers`` as its servers."""
    document = json.loads(files("schemas").joinpath("jsonschema/asyncapi.json").read_text())
    document["servers"] = {
        f"nats-{i}": {"host": urlsplit(url).netloc, "protocol": "nats"}
        for i, url in enumerate(servers)
    }
    return dict(document)
