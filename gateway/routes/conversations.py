"""``/v1/conversations``: create, list, read, export and delete conversations.

A conversation's turns are the queries asked with its ``conversation_id``
(``POST /v1/query``). A ``private`` conversation is seen only by its creator
(``X-User-ID``); a ``tenant`` one by everyone in the tenant. Only the creator
deletes it. One the caller may not see is answered 404, as if it did not exist.
"""

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Response, status

from gateway.api_models import Conversation, ConversationList, ConversationWithMessages, typed
from gateway.conversation_turns import ConversationsDep, QueriesDep
from gateway.conversations import (
    ConversationBody,
    conversation_json,
    conversation_with_messages,
    delete_own_conversation,
    new_conversation,
    read_conversation,
    to_markdown,
)
from gateway.errors import ERRORS
from gateway.identity import ConverserDep

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], responses=ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, **typed(Conversation))
async def create_conversation(
    identity: ConverserDep, conversations: ConversationsDep, body: ConversationBody | None = None
) -> dict[str, Any]:
    """Start a conversation; ask in it with ``POST /v1/query {"conversation_id"}``.

    Raises:
        HTTPException: 400 for a ``private`` conversation without ``X-User-ID``.
    """
    return conversation_json(await new_conversation(conversations, identity, body))


@router.get("", **typed(ConversationList))
async def list_conversations(
    identity: ConverserDep,
    conversations: ConversationsDep,
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    """The conversations the caller may see, most recently used first."""
    records = await conversations.list(identity.tenant_id, identity.user_id, limit)
    return {"conversations": [conversation_json(r) for r in records]}


@router.get("/{conversation_id}", **typed(ConversationWithMessages))
async def get_conversation(
    conversation_id: uuid.UUID,
    identity: ConverserDep,
    conversations: ConversationsDep,
    queries: QueriesDep,
) -> dict[str, Any]:
    """The conversation and its messages, oldest first, with citations and timings."""
    record, turns = await read_conversation(conversations, queries, identity, conversation_id)
    return conversation_with_messages(record, turns)


@router.get(
    "/{conversation_id}/export",
    response_model=None,
    responses={
        200: {
            "model": ConversationWithMessages,
            "description": "Markdown (format=markdown, the default) or the JSON above",
            "content": {"text/markdown": {"schema": {"type": "string"}}},
        }
    },
)
async def export_conversation(
    conversation_id: uuid.UUID,
    identity: ConverserDep,
    conversations: ConversationsDep,
    queries: QueriesDep,
    format: Literal["markdown", "json"] = "markdown",
) -> Response | dict[str, Any]:
    """The conversation as a Markdown document or as JSON, with every citation."""
    record, turns = await read_conversation(conversations, queries, identity, conversation_id)
    if format == "json":
        return conversation_with_messages(record, turns)
    disposition = f'attachment; filename="conversation-{conversation_id}.md"'
    return Response(
        to_markdown(record, turns),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    conversation_id: uuid.UUID, identity: ConverserDep, conversations: ConversationsDep
) -> Response:
    """Delete the conversation and its turns.

    Raises:
        HTTPException: 404 if the caller cannot see it; 403 if they are not its creator.
    """
    await delete_own_conversation(conversations, identity, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
