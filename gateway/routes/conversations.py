"""``/v1/conversations``: create, list, read, export and delete conversations.

A conversation's turns are the queries asked with its ``conversation_id``
(``POST /v1/query``). A ``private`` conversation is seen only by its creator
(``X-User-ID``); a ``tenant`` one by everyone in the tenant. Only the creator
deletes it. One the caller may not see is answered 404, as if it did not exist.
"""

import uuid
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from gateway.conversation_store import ConversationRecord, ConversationRepository, Visibility
from gateway.conversation_turns import ConversationsDep, QueriesDep
from gateway.identity import Identity, IdentityDep
from ragbus.stores.queries import QueryRecord

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

MAX_TURNS = 1000
"""Most turns returned or exported for one conversation."""


class ConversationBody(BaseModel):
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


async def _visible(
    conversations: ConversationRepository, identity: Identity, conversation_id: uuid.UUID
) -> ConversationRecord:
    found = await conversations.get(identity.tenant_id, conversation_id, identity.user_id)
    if found is None:
        raise HTTPException(404, "conversation not found")
    return found


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_conversation(
    identity: IdentityDep, conversations: ConversationsDep, body: ConversationBody | None = None
) -> dict[str, Any]:
    """Start a conversation; ask in it with ``POST /v1/query {"conversation_id"}``.

    Raises:
        HTTPException: 400 for a ``private`` conversation without ``X-User-ID``.
    """
    body = body or ConversationBody()
    visibility = body.visibility or ("private" if identity.user_id else "tenant")
    if visibility == "private" and identity.user_id is None:
        raise HTTPException(400, "a private conversation needs an X-User-ID header")
    record = await conversations.create(
        identity.tenant_id,
        uuid.uuid4(),
        user_id=identity.user_id,
        visibility=visibility,
        title=body.title,
    )
    return conversation_json(record)


@router.get("")
async def list_conversations(
    identity: IdentityDep,
    conversations: ConversationsDep,
    limit: int = Query(50, ge=1, le=1000),
) -> dict[str, Any]:
    """The conversations the caller may see, most recently used first."""
    records = await conversations.list(identity.tenant_id, identity.user_id, limit)
    return {"conversations": [conversation_json(r) for r in records]}


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: uuid.UUID,
    identity: IdentityDep,
    conversations: ConversationsDep,
    queries: QueriesDep,
) -> dict[str, Any]:
    """The conversation and its messages, oldest first, with citations and timings."""
    record = await _visible(conversations, identity, conversation_id)
    turns = await queries.list(
        identity.tenant_id,
        MAX_TURNS,
        user_id=identity.user_id,
        conversation_id=conversation_id,
        newest_first=False,
    )
    return {**conversation_json(record), "messages": messages_json(turns)}


@router.get("/{conversation_id}/export", response_model=None)
async def export_conversation(
    conversation_id: uuid.UUID,
    identity: IdentityDep,
    conversations: ConversationsDep,
    queries: QueriesDep,
    format: Literal["markdown", "json"] = "markdown",
) -> Response | dict[str, Any]:
    """The conversation as a Markdown document or as JSON, with every citation."""
    record = await _visible(conversations, identity, conversation_id)
    turns = await queries.list(
        identity.tenant_id,
        MAX_TURNS,
        user_id=identity.user_id,
        conversation_id=conversation_id,
        newest_first=False,
    )
    if format == "json":
        return {**conversation_json(record), "messages": messages_json(turns)}
    disposition = f'attachment; filename="conversation-{conversation_id}.md"'
    return Response(
        to_markdown(record, turns),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(
    conversation_id: uuid.UUID, identity: IdentityDep, conversations: ConversationsDep
) -> Response:
    """Delete the conversation and its turns.

    Raises:
        HTTPException: 404 if the caller cannot see it; 403 if they are not its creator.
    """
    record = await _visible(conversations, identity, conversation_id)
    if not record.can_delete(identity.user_id):
        raise HTTPException(403, "only the creator may delete a conversation")
    await conversations.delete(identity.tenant_id, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
