"""``/v1/admin/dead-letters`` and ``/v1/admin/pipeline``: a tenant admin's pipeline health.

Dead letters of the caller's tenant, read and replayed over the gateway's own NATS
connection; the backlog of each stage. Logic: :mod:`gateway.pipeline_admin`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from nats.js import JetStreamContext

from gateway.errors import ERRORS
from gateway.identity import AdminDep
from gateway.pipeline_admin import replay_letter, tenant_letters
from ragbus.backlogs import read_backlogs

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=ERRORS)


async def jetstream(request: Request) -> JetStreamContext:
    """JetStream on the gateway's broker connection (made once in the lifespan)."""
    return request.app.state.broker.connection.jetstream()


JetStreamDep = Annotated[JetStreamContext, Depends(jetstream)]


@router.get("/dead-letters")
async def list_dead_letters(admin: AdminDep, js: JetStreamDep) -> dict[str, Any]:
    """The tenant's dead letters, newest first: ``{"dead_letters": [{"id", "reason",
    "error_code", "error", "subject", "consumer", "deliveries", "occurred_at", "about"}]}``."""
    return {"dead_letters": await tenant_letters(js, admin.tenant_id)}


@router.post("/dead-letters/{entry_id}/replay")
async def replay_dead_letter(
    admin: AdminDep, js: JetStreamDep, entry_id: Annotated[int, Path(ge=1, le=2**63)]
) -> dict[str, Any]:
    """Publish the dead letter's message again on its subject and remove the letter.

    Consumers are idempotent, so replaying work that was done meanwhile changes
    nothing; a message that fails again becomes a new dead letter.
    """
    return await replay_letter(js, admin.tenant_id, entry_id)


@router.get("/pipeline")
async def pipeline(admin: AdminDep, js: JetStreamDep) -> dict[str, Any]:
    """Each stage's backlog and in-flight messages, and dead letters in all (every tenant's)."""
    return await read_backlogs(js)
