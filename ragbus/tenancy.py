"""Checks that an event stays inside its sender's tenant, made by every consumer.

NATS permissions let a client publish only on its own tenant's subjects; these
checks make a consumer refuse anything that still reaches beyond the tenant the
event names: a subject of another tenant, a blob of another tenant or document, a
document id that another tenant holds. A refusal is a
:class:`~ragbus.errors.ForbiddenError`: dead-lettered with reason ``forbidden``,
nothing changed (:func:`ragbus.ack_policy.refuse`).
"""

from uuid import UUID

from pydantic import BaseModel

from ragbus.errors import ForbiddenError
from schemas import subjects


def check_subject_tenant(subject: str, event: BaseModel) -> None:
    """Refuse an event whose subject names another tenant than its ``tenant_id``.

    Raises:
        ForbiddenError: ``subject`` is tenant-scoped and its tenant token is not the
            event's tenant.
    """
    named = subjects.tenant_in(subject)
    tenant = getattr(event, "tenant_id", None)
    if named is not None and named != tenant:
        raise ForbiddenError(f"{subject} belongs to tenant {named!r}, the event names {tenant!r}")


def check_blob_key(tenant_id: str, document_id: UUID, blob_key: str | None) -> None:
    """Refuse a ``blob_key`` outside ``<tenant>/<document id>/`` (see ``blob_key``).

    Raises:
        ForbiddenError: the key is another tenant's or another document's.
    """
    if blob_key is not None and not blob_key.startswith(f"{tenant_id}/{document_id}/"):
        raise ForbiddenError(f"blob {blob_key!r} is not document {document_id} of {tenant_id}")
