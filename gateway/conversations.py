"""Conversations as the API shows them: created, read with their turns, exported, deleted.

The logic of ``/v1/conversations`` (``gateway/routes/conversations.py``, where the
visibility rules are described). Rows are :mod:`gateway.conversation_store`; the
turns are the queries asked with the conversation's id.
"""

import uuid
from typing import Any

from fastapi import HTTPException
from pydantic import Field

from gateway.conversation_store import ConversationRecord, ConversationRepository, Visibility
from gateway.identity import Identity
from gateway.request_checks import RequestBody
from ragbus.stores.queries import QueryRecord, QueryRepository

MAX_TURNS = 1000
"""Most turns returned or exported for one conversation."""


class ConversationBody(RequestBody):
    """Body of ``POST /v1/conversations``.

    Attributes:
        title: Shown in lists; the first question when omitted.
        visibility: ``private`` or ``tenant``; by default ``private`` when the caller
            sends ``X-User-ID``, else ``tenant`` (a private conversation needs an owner).
    """

    title: str | None = Field(default=None, max_length=500)
    visibility: Visibility | None = None


def conversation_json(record: ConversationRecord) -> dict[str, Any]:
    """The public JSON of a conversation, without its messages."""
    return {
        "id": str(record.id),
        "title": record.title,
        "visibility": record.visibility,
        "user_id": record.user_id,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def messages_json(turns: list[QueryRecord]) -> list[dict[str, Any]]:
    """Two messages per turn: the user's question, then the answer (or its status)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        messages.append(
            {
                "role": "user",
                "query_id": str(turn.id),
                "content": turn.question,
                "user_id": turn.user_id,
                "created_at": turn.created_at.isoformat() if turn.created_at else None,
            }
        )
        messages.append(
            {
                "role": "assistant",
                "query_id": str(turn.id),
                "status": turn.status,
                "content": turn.answer,
                "standalone_question": turn.standalone_question,
                "citations": turn.citations,
                "found": turn.found,
                "confidence": turn.confidence,
                "model": turn.model,
                "timings": turn.timings,
                "usage": turn.usage,
                "error_code": turn.error_code,
                "error": turn.error,
                "created_at": turn.completed_at.isoformat() if turn.completed_at else None,
            }
        )
    return messages


def to_markdown(conversation: ConversationRecord, turns: list[QueryRecord]) -> str:
    """The conversation as Markdown: each question, its answer and its numbered sources."""
    lines = [
        f"# {conversation.title or 'Conversation'}",
        "",
        f"*{conversation.visibility} conversation `{conversation.id}`, "
        f"started {conversation.created_at.isoformat()}*",
    ]
    for turn in turns:
        lines += ["", "## Question", "", turn.question, "", "## Answer", ""]
        if turn.status == "failed":
            lines.append(f"*The query failed ({turn.error_code}).*")
        else:
            lines.append(turn.answer if turn.answer is not None else "*(pending)*")
        if turn.citations:
            lines += ["", "Sources:", ""]
        for c in turn.citations:
            where = ", ".join(
                str(part)
                for part in (
                    c.get("filename"),
                    c.get("page") and f"p. {c['page']}",
                    c.get("heading"),
                )
                if part
            )
            lines.append(f"{c['n']}. {where} (score {c['score']:.2f})")
            if c.get("quote"):
                lines.append(f"   > {c['quote']}")
    return "\n".join(lines) + "\n"


async def visible_conversation(
    conversations: ConversationRepository, identity: Identity, conversation_id: uuid.UUID
) -> ConversationRecord:
    """The conversation, if the caller may see it.

    Raises:
        HTTPException: 404 when it does not exist or is another user's private one.
    """
    found = await conversations.get(identity.tenant_id, conversation_id, identity.user_id)
    if found is None:
        raise HTTPException(404, "conversation not found")
    return found


def conversation_with_messages(
    record: ConversationRecord, turns: list[QueryRecord]
) -> dict[str, Any]:
    """The public JSON of a conversation with its messages (:func:`messages_json`)."""
    return {**conversation_json(record), "messages": messages_json(turns)}


async def new_conversation(
    conversations: ConversationRepository, identity: Identity, body: ConversationBody | None
) -> ConversationRecord:
    """Create a conversation owned by the caller (see :class:`ConversationBody`).

    Raises:
        HTTPException: 400 for a ``private`` conversation without ``X-User-ID``.
    """
    body = body or ConversationBody()
    visibility = body.visibility or ("private" if identity.user_id else "tenant")
    if visibility == "private" and identity.user_id is None:
        raise HTTPException(400, "a private conversation needs an X-User-ID header")
    return await conversations.create(
        identity.tenant_id,
        uuid.uuid4(),
        user_id=identity.user_id,
        visibility=visibility,
        title=body.title,
    )


async def read_conversation(
    conversations: ConversationRepository,
    queries: QueryRepository,
    identity: Identity,
    conversation_id: uuid.UUID,
) -> tuple[ConversationRecord, list[QueryRecord]]:
    """The conversation and its turns, oldest first (at most :data:`MAX_TURNS`).

    Raises:
        HTTPException: 404 when the caller cannot see it.
    """
    record = await visible_conversation(conversations, identity, conversation_id)
    turns = await queries.list(
        identity.tenant_id,
        MAX_TURNS,
        user_id=identity.user_id,
        conversation_id=conversation_id,
        newest_first=False,
    )
    return record, turns


async def delete_own_conversation(
    conversations: ConversationRepository, identity: Identity, conversation_id: uuid.UUID
) -> None:
    """Delete the conversation and its turns, if the caller created it.

    Raises:
        HTTPException: 404 if the caller cannot see it; 403 if they are not its creator.
    """
    record = await visible_conversation(conversations, identity, conversation_id)
    if not record.can_delete(identity.user_id):
        raise HTTPException(403, "only the creator may delete a conversation")
    await conversations.delete(identity.tenant_id, conversation_id)
