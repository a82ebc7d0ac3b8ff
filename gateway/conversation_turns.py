"""A question becomes a recorded query, and a follow-up in a conversation stands alone.

Shared by ``/v1/query`` and ``/v1/chat/completions``. The gateway creates the query
row itself before publishing ``query.requested``, so the query is in the history
(``GET /v1/queries/{id}`` says ``pending``) as soon as the request is accepted.
"""

import logging
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends, HTTPException, Request

from gateway.auth.authenticate import Identity, permit
from gateway.auth.roles import Permission
from gateway.conversation_store import ConversationRepository
from gateway.state import GatewayState
from ragbus.stores.queries import QueryRepository
from schemas import QueryRequested
from schemas import subjects as s
from schemas.conversations import CondenseQuestion, QuestionCondensed, Turn

log = logging.getLogger(__name__)

HISTORY_TURNS = 6
"""Earlier turns sent to be condensed with a follow-up (generate_svc shows the model
the last 4; offline only the previous one counts)."""


async def _pool(request: Request) -> asyncpg.Pool:
    return await request.app.state.resources.pool()


async def get_queries(request: Request) -> QueryRepository:
    """FastAPI dependency: the query repository on the gateway's pool."""
    return QueryRepository(await _pool(request))


async def get_conversations(request: Request) -> ConversationRepository:
    """FastAPI dependency: the conversation repository on the gateway's pool."""
    return ConversationRepository(await _pool(request))


QueriesDep = Annotated[QueryRepository, Depends(get_queries)]
ConversationsDep = Annotated[ConversationRepository, Depends(get_conversations)]


async def history_of(
    queries: QueryRepository, identity: Identity, conversation_id: UUID, limit: int
) -> list[Turn]:
    """The last ``limit`` turns of a conversation, oldest first (failed answers empty)."""
    rows = await queries.list(
        identity.tenant_id, limit, user_id=identity.user_id, conversation_id=conversation_id
    )
    return [Turn(question=r.question, answer=r.answer or "") for r in reversed(rows)]


async def condense(
    state: GatewayState, tenant_id: str, question: str, history: list[Turn]
) -> QuestionCondensed:
    """Ask generate_svc to make ``question`` stand alone (``question.condense``).

    Raises:
        HTTPException: 504 when generate_svc does not answer within
            ``retrieve_timeout_s`` (30 s by default).
    """
    request = CondenseQuestion(tenant_id=tenant_id, question=question, history=history)
    try:
        raw = await state.publisher.request(
            request, s.QUESTION_CONDENSE, timeout_s=state.settings.retrieve_timeout_s
        )
    except TimeoutError:
        raise HTTPException(
            504, "the generate service did not condense the question in time"
        ) from None
    reply = QuestionCondensed.model_validate(raw)
    if reply.error:
        log.warning("follow-up not condensed by the model", extra={"error": reply.error})
    return reply


async def begin_turn(
    state: GatewayState,
    queries: QueryRepository,
    conversations: ConversationRepository,
    identity: Identity,
    event: QueryRequested,
    conversation_id: UUID | None,
    *,
    history: list[Turn] | None = None,
) -> QueryRequested:
    """Record the query, condensing it first when it follows earlier turns.

    Args:
        state: The gateway state (publisher, settings).
        queries: Query rows.
        conversations: Conversation rows.
        identity: The caller.
        event: The query as asked; its ``question`` is what the user typed.
        conversation_id: The conversation it continues, if any.
        history: Earlier turns given by the client (``/v1/chat/completions``); when
            None and ``conversation_id`` is set, the stored turns are used.

    Returns:
        ``event`` whose ``question`` is the standalone question to retrieve and answer.

    Raises:
        HTTPException: 404 when the conversation does not exist or the caller may
            not see it; 504 when condensing timed out.
        AuthError: 403 when the caller's role may not converse (a reader).
    """
    if conversation_id is not None:
        permit(identity, Permission.CONVERSE)
        found = await conversations.get(identity.tenant_id, conversation_id, identity.user_id)
        if found is None:
            raise HTTPException(404, "conversation not found")
        if history is None:
            history = await history_of(queries, identity, conversation_id, HISTORY_TURNS)
    standalone = event.question
    if history:
        standalone = (await condense(state, identity.tenant_id, event.question, history)).question
    await queries.create(
        identity.tenant_id,
        event.query_id,
        question=event.question,
        top_k=event.top_k,
        user_id=identity.user_id,
        conversation_id=conversation_id,
        standalone_question=standalone if standalone != event.question else None,
    )
    if conversation_id is not None:
        await conversations.touch(
            identity.tenant_id, conversation_id, first_question=event.question
        )
    if standalone == event.question:
        return event
    return event.model_copy(update={"question": standalone})


async def publish_query(
    state: GatewayState, queries: QueryRepository, event: QueryRequested
) -> None:
    """Publish ``query.requested``; if JetStream does not take it, mark the query failed.

    Raises:
        HTTPException: 503 when the query could not be enqueued (it is then
            ``failed`` with ``error_code`` ``enqueue_failed``, never left pending).
    """
    try:
        await state.publisher.publish(event, s.QUERY_REQUESTED, msg_id=str(event.query_id))
    except Exception as exc:
        log.exception("could not publish query.requested")
        reason = f"could not enqueue the query: {type(exc).__name__}"
        await queries.fail(event.tenant_id, event.query_id, code="enqueue_failed", error=reason)
        raise HTTPException(
            503, "could not enqueue the query; it is marked failed, retry"
        ) from None
