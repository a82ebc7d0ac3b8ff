"""Payloads of the wrong shape for a subject, and the check that one is refused.

On FastStream's in-memory broker a payload the handler's event type rejects fails
decoding inside ``publish``/``request``: the ``ValidationError`` proves a subscriber
matched the subject and refused the payload before calling anything (a subject
nobody subscribes to would publish silently instead).
"""

from typing import Any

import pytest
from faststream.nats import NatsBroker
from pydantic import BaseModel, ValidationError

from schemas import subjects as s


def wrong_shapes(valid: BaseModel) -> dict[str, Any]:
    """Payloads that must not reach the handler of ``valid``'s subject, by name.

    Args:
        valid: An event the handler accepts; the wrong shapes are made from it.
    """
    body = valid.model_dump(mode="json")
    return {
        "not JSON": b"{not json",
        "only the envelope": {"tenant_id": body["tenant_id"]},
        "a later schema version": body | {"schema_version": 3},
        "a malformed tenant id": body | {"tenant_id": "../acme"},
    }


def on(event: BaseModel, family: str) -> str:
    """The concrete subject of ``event`` in ``family`` (its tenant's, for a scoped one)."""
    tenant = getattr(event, "tenant_id", "acme")
    return s.subject_for(family, tenant, getattr(event, "query_id", None))


async def assert_refused(broker: NatsBroker, valid: BaseModel, subject: str) -> None:
    """Every wrong shape of ``valid`` published on ``subject`` (a family: on ``valid``'s
    tenant's subject of it) fails decoding."""
    subject = on(valid, subject)
    for name, payload in wrong_shapes(valid).items():
        with pytest.raises(ValidationError):
            await broker.publish(payload, subject)
            pytest.fail(f"{name}: published on {subject} without a decoding error")


async def assert_request_refused(broker: NatsBroker, valid: BaseModel, subject: str) -> None:
    """Every wrong shape of ``valid`` sent as a request on ``subject`` fails decoding."""
    for name, payload in wrong_shapes(valid).items():
        with pytest.raises(ValidationError):
            await broker.request(payload, subject, timeout=5)
            pytest.fail(f"{name}: requested on {subject} without a decoding error")
