"""Roles per tenant and what each may do.

``admin`` manages the tenant (keys, users, settings, quotas, dead letters) and may
delete or reprocess any document; ``member`` uploads, asks and keeps their own
conversations, and deletes or reprocesses the documents they uploaded; ``reader``
asks (query, retrieve, chat completions, embeddings) and reads the document list.
Every route names the permission it needs; docs/security.md has the table.
"""

from enum import StrEnum


class Role(StrEnum):
    """A principal's role within its tenant, from most to least powerful."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"


class Permission(StrEnum):
    """One thing a route lets its caller do."""

    ASK = "ask"
    """Query, retrieve, chat completions, embeddings, the caller's own query history."""
    READ_DOCUMENTS = "read_documents"
    """List documents, read one, follow its progress."""
    WRITE_DOCUMENTS = "write_documents"
    """Upload; delete and reprocess one's own documents."""
    CONVERSE = "converse"
    """Conversations: create, continue, read and export one's own and the tenant's."""
    MANAGE_DOCUMENTS = "manage_documents"
    """Delete or reprocess any document of the tenant."""
    ADMINISTER = "administer"
    """Keys, users, tenant settings, quotas, usage of others, dead letters."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.READER: frozenset({Permission.ASK, Permission.READ_DOCUMENTS}),
    Role.MEMBER: frozenset(
        {
            Permission.ASK,
            Permission.READ_DOCUMENTS,
            Permission.WRITE_DOCUMENTS,
            Permission.CONVERSE,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}
"""The permissions of each role."""

RANK = {Role.READER: 0, Role.MEMBER: 1, Role.ADMIN: 2}
"""Order of the roles: a key may not be given more than its principal's role."""


def allows(role: Role, permission: Permission) -> bool:
    """Whether ``role`` has ``permission``."""
    return permission in ROLE_PERMISSIONS[role]


def at_most(granted: Role, ceiling: Role) -> bool:
    """Whether ``granted`` is no more powerful than ``ceiling``."""
    return RANK[granted] <= RANK[ceiling]
