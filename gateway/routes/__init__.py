"""The gateway's HTTP routes, one module per resource; :data:`ROUTERS` in the order served."""

from fastapi import APIRouter

from gateway.routes import (
    admin,
    auth,
    conversations,
    document_events,
    documents,
    embeddings,
    health,
    indexes,
    nats_access,
    openai_chat,
    pipeline,
    queries,
    query_history,
    tenant_settings,
    web,
)

ROUTERS: list[APIRouter] = [
    documents.router,
    queries.router,
    document_events.router,
    tenant_settings.router,
    conversations.router,
    query_history.router,
    openai_chat.router,
    embeddings.router,
    auth.router,
    admin.router,
    pipeline.router,
    indexes.router,
    nats_access.router,
    web.router,
    health.router,
]
"""Every router the gateway includes; ``/healthz`` and friends last, as before."""
