"""Who may use which NATS subject: the identities, their permissions and the server block.

Every connection to ragbus's NATS is authenticated. The services and tools connect
as fixed identities (users of the ``RAGBUS`` account, listed in the server's
configuration and exempt from the auth callout); a client of one tenant connects
with a ragbus API key, which the gateway's auth callout
(:mod:`gateway.nats_callout`) turns into a user of that tenant with
:func:`client_permissions`. Everything here is derived from the declarations of
subjects (:mod:`schemas.subjects`) and of streams and consumers
(:mod:`deploy.jetstream`), so a new subject or consumer changes the permissions
with it. docs/security.md explains the model; docs/events.md the client's view.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from deploy.jetstream import (
    ADVISORIES_STREAM,
    CHUNKS_STREAM,
    DLQ_STREAM,
    DOCUMENTS_STREAM,
    QUERIES_STREAM,
)
from schemas import subjects as s

ACCOUNT = "RAGBUS"
"""The one account whose JetStream holds every ragbus stream."""
CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH"
"""Where nats-server asks the auth callout to authenticate a client."""

GATEWAY = "gateway"
INGEST = "ingest-svc"
EMBED = "embed-svc"
RETRIEVE = "retrieve-svc"
GENERATE = "generate-svc"
ADMIN = "ragbus-admin"
"""The operator's identity: the CLI (``ragbus dlq``, ``ragbus status``) and topology."""
AUTH = "ragbus-auth"
"""The auth callout's own identity."""
SERVICES = (GATEWAY, INGEST, EMBED, RETRIEVE, GENERATE)
IDENTITIES = (*SERVICES, ADMIN, AUTH)


@dataclass(frozen=True)
class Permissions:
    """What one NATS user may publish and subscribe to.

    Attributes:
        publish: Subjects it may publish on (wildcards allowed).
        subscribe: Subjects it may subscribe to.
        responses: Whether it may reply to the requests it receives (a service
            answering request-reply subjects), without a publish permission on
            every requester's inbox.
    """

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    responses: bool = False

    def as_claims(self) -> dict[str, object]:
        """The ``pub``/``sub``/``resp`` part of a NATS user JWT's ``nats`` claims."""
        claims: dict[str, object] = {
            "pub": {"allow": list(self.publish)},
            "sub": {"allow": list(self.subscribe)},
        }
        if self.responses:
            claims["resp"] = {"max": 1}
        return claims


@dataclass(frozen=True)
class _Reads:
    """Consuming from streams: the JetStream API of their consumers, acks and pulls."""

    streams: Sequence[str] = field(default_factory=tuple)

    def publish(self) -> list[str]:
        subjects = []
        for stream in self.streams:
            subjects += [
                f"$JS.API.CONSUMER.INFO.{stream}.*",
                f"$JS.API.CONSUMER.CREATE.{stream}.>",
                f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*",
                f"$JS.ACK.{stream}.>",
            ]
        return subjects


def _name(stream: object) -> str:
    name = getattr(stream, "name", None)
    assert isinstance(name, str)
    return name


_EVERY_PROCESS = [
    *_Reads((_name(ADVISORIES_STREAM),)).publish(),
    # declaring the topology at start (ensure_streams), reading stream state
    "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.CREATE.*",
    "$JS.API.STREAM.UPDATE.*",
    # dead letters: the original message read back, the letter published
    "$JS.API.STREAM.MSG.GET.*",
    "dlq.>",
]
"""Every service process declares the streams, turns max-deliveries advisories into
dead letters and dead-letters what it refuses."""
_INBOX = "_INBOX.>"
"""Replies to the process's own requests: JetStream acks, pulls, request-reply."""


def _tenants(*families: str) -> list[str]:
    return [s.every_tenant(family) for family in families]


def service_permissions() -> dict[str, Permissions]:
    """Each service's and tool's permissions, by identity."""
    documents, chunks = _name(DOCUMENTS_STREAM), _name(CHUNKS_STREAM)
    queries, dlq = _name(QUERIES_STREAM), _name(DLQ_STREAM)
    gateway_publish = [
        *_tenants(s.DOCUMENT_UPLOADED, s.DOCUMENT_DELETE, s.QUERY_REQUESTED),
        *_tenants(s.INDEX_REBUILD),  # a tenant admin starts a rebuild
        s.PASSAGES_RETRIEVE,
        s.QUESTION_CONDENSE,
        s.TEXTS_EMBED,
        # metrics (consumer pending) and the admin's dead letters: read and replay
        "$JS.API.CONSUMER.INFO.>",
        "$JS.API.CONSUMER.LIST.*",
        f"$JS.API.STREAM.MSG.DELETE.{dlq}",
        f"$JS.API.DIRECT.GET.{dlq}.>",
        *_tenants(s.CHUNKS_READY),
        s.CONTEXT_RETRIEVED,
    ]
    return {
        GATEWAY: Permissions(
            publish=(*_EVERY_PROCESS, *gateway_publish),
            subscribe=(
                _INBOX,
                *_tenants(s.ANSWER_DELTA, s.ANSWER_READY, s.ANSWER_FAILED),
                *_tenants(s.DOCUMENT_STATUS, s.DOCUMENT_DELETED),
            ),
        ),
        INGEST: Permissions(
            publish=(
                *_EVERY_PROCESS,
                *_Reads((documents,)).publish(),
                *_tenants(s.CHUNKS_READY, s.DOCUMENT_STATUS, s.DOCUMENT_FAILED),
                *_tenants(s.DOCUMENT_UPLOADED),  # the sweeper re-publishes stale work
                *_tenants(s.INDEX_STATUS),  # a rebuild's replays, or its failure
            ),
            subscribe=(_INBOX,),
        ),
        EMBED: Permissions(
            publish=(
                *_EVERY_PROCESS,
                *_Reads((chunks, documents)).publish(),
                *_tenants(s.DOCUMENT_STATUS, s.DOCUMENT_INDEXED),
                *_tenants(s.DOCUMENT_FAILED, s.DOCUMENT_DELETED),
                *_tenants(s.INDEX_STATUS, s.INDEX_REBUILD),  # a rebuild's progress, replays
            ),
            subscribe=(_INBOX, s.TEXTS_EMBED),
            responses=True,
        ),
        RETRIEVE: Permissions(
            publish=(
                *_EVERY_PROCESS,
                *_Reads((queries,)).publish(),
                s.CONTEXT_RETRIEVED,
                *_tenants(s.ANSWER_FAILED),
            ),
            subscribe=(_INBOX, s.PASSAGES_RETRIEVE),
            responses=True,
        ),
        GENERATE: Permissions(
            publish=(
                *_EVERY_PROCESS,
                *_Reads((queries,)).publish(),
                *_tenants(s.ANSWER_DELTA, s.ANSWER_READY, s.ANSWER_FAILED),
            ),
            subscribe=(_INBOX, s.QUESTION_CONDENSE),
            responses=True,
        ),
        ADMIN: Permissions(publish=(">",), subscribe=(">",)),
        AUTH: Permissions(publish=(), subscribe=(CALLOUT_SUBJECT,), responses=True),
    }


def client_inbox(tenant_id: str) -> str:
    """The inbox prefix a tenant's client must connect with (``inbox_prefix``)."""
    return f"_INBOX.{s.tenant_token(tenant_id)}"


def client_permissions(tenant_id: str, role: str) -> Permissions:
    """What a client of ``tenant_id`` with ``role`` may do over NATS.

    Every role receives its tenant's answers and document events and replies on its
    own inbox; ``member`` and ``admin`` also submit documents
    (``document.uploaded.<tenant>``); every role asks (``query.requested.<tenant>``).
    Deleting goes through the HTTP API, which tombstones the document first.
    """
    own = s.tenant_token(tenant_id)
    receive = [
        f"{s.ANSWER_DELTA}.{own}.*",
        *(f"{family}.{own}" for family in (s.ANSWER_READY, s.ANSWER_FAILED)),
        *(
            f"{family}.{own}"
            for family in (
                s.DOCUMENT_STATUS,
                s.DOCUMENT_INDEXED,
                s.DOCUMENT_FAILED,
                s.DOCUMENT_DELETED,
            )
        ),
        f"{client_inbox(tenant_id)}.>",
    ]
    send = [f"{s.QUERY_REQUESTED}.{own}"]
    if role in ("admin", "member"):
        send.append(f"{s.DOCUMENT_UPLOADED}.{own}")
    return Permissions(publish=tuple(send), subscribe=tuple(receive))


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _user(identity: str, password: str, permissions: Permissions) -> list[str]:
    lines = [
        "      {",
        f'        user: "{identity}"',
        f"        password: {password}",
        "        permissions: {",
        f"          publish: {{ allow: {_list(permissions.publish)} }}",
        f"          subscribe: {{ allow: {_list(permissions.subscribe)} }}",
    ]
    if permissions.responses:
        lines.append("          allow_responses: true")
    lines += ["        }", "      }"]
    return lines


def security_block(passwords: Mapping[str, str], issuer: str) -> list[str]:
    """The ``accounts`` and ``authorization`` blocks of nats-server's configuration.

    Args:
        passwords: Each identity's password as it appears in the config: a quoted
            string, or ``$NAME`` for an environment variable the server reads.
        issuer: The public account nkey (``A...``) whose key signs the auth
            callout's answers, written as a quoted string; or ``$NAME``, written
            unquoted, for an environment variable the server reads (nats-server
            substitutes variables only outside quotes).

    Returns:
        Configuration lines: every identity of :data:`IDENTITIES` in ``RAGBUS`` with
        its permissions, JetStream enabled there, and the auth callout for every
        other connection.
    """
    permissions = service_permissions()
    lines = ["accounts {", f"  {ACCOUNT} {{", "    jetstream: enabled", "    users: ["]
    for identity in IDENTITIES:
        lines += _user(identity, passwords[identity], permissions[identity])
    lines += ["    ]", "  }", "}"]
    lines += [
        "authorization {",
        "  auth_callout {",
        f"    issuer: {issuer if issuer.startswith('$') else json.dumps(issuer)}",
        f"    account: {ACCOUNT}",
        f"    auth_users: {_list(IDENTITIES)}",
        "  }",
        "}",
    ]
    return lines
