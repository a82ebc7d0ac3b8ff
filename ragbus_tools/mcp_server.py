"""ragbus as a Model Context Protocol server: search, ask, list_documents and upload as tools.

Built on the official ``mcp`` SDK (:class:`mcp.server.mcpserver.MCPServer`); run with
``ragbus mcp`` over stdio or streamable HTTP (:mod:`ragbus_tools.mcp_cli`). Every tool
calls the gateway over HTTP (:class:`~ragbus_tools.client.RagbusClient`) with a
ragbus API key, so it sees exactly that key's tenant and is held to its role,
quotas and audit trail like any other client:

- over stdio, the server's key (``--api-key``, ``RAGBUS_API_KEY`` or the admin key
  ``ragbus up`` wrote under the data dir);
- over HTTP, a client's own ``Authorization: Bearer <ragbus key>`` header when it
  sends one, else the server's key. The server listens on 127.0.0.1 unless told
  otherwise: anyone who reaches it without a header acts with the server's key.

A refusal (bad key, unknown document, a file type ragbus does not read) is a tool
error whose message is the gateway's.
"""

import asyncio
import base64
import binascii
from typing import Any

import httpx
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ragbus_tools.client import FINAL_STATUSES, RagbusClient

INSTRUCTIONS = """\
ragbus answers questions from the documents of one tenant. `search` returns the
passages that match a query, numbered [1], [2]... with their source; `ask` returns
an answer that cites those numbers, with a citation per number; `list_documents`
shows what is indexed; `upload` adds a document (text, or a file as base64)."""

MAX_UPLOAD_WAIT_S = 600.0
"""Longest ``wait_s`` of ``upload``: documents that take longer are followed with
``list_documents``."""


class Passage(BaseModel):
    """A retrieved passage and where it comes from; cite it as ``[n]``."""

    n: int = Field(description="Its number: cite it as [n]")
    text: str
    source: str = Field(description="The file name, then the page or heading, if any")
    document_id: str
    filename: str
    page: int | None = None
    heading: str | None = None
    score: float = Field(description="Retrieval score; higher matches better")
    chunk_id: str


class SearchResult(BaseModel):
    """``search``: the best passages for a query, best first."""

    passages: list[Passage]


class Citation(BaseModel):
    """The source behind an ``[n]`` of an answer."""

    n: int
    source: str
    document_id: str
    filename: str
    page: int | None = None
    heading: str | None = None
    quote: str | None = Field(None, description="The cited passage (may be shortened)")
    score: float


class Answer(BaseModel):
    """``ask``: the answer, its citations (one per ``[n]`` in it), and how sure it is."""

    answer: str
    citations: list[Citation]
    found: bool = Field(description="False when the documents hold no answer")
    confidence: float | None = Field(None, description="0-1: how well the sources matched")
    model: str
    query_id: str


class Document(BaseModel):
    """One document of the tenant."""

    id: str
    filename: str
    status: str = Field(description="uploaded, parsing, embedding, indexed, failed or deleted")
    error: str | None = None
    created_at: str | None = None


class DocumentList(BaseModel):
    """``list_documents``: one page of the tenant's documents, newest first."""

    documents: list[Document]


class Uploaded(BaseModel):
    """``upload``: the document made (or found, for the same bytes) and its status."""

    id: str
    filename: str
    status: str
    duplicate: bool = False
    error: str | None = None


def source_of(item: dict[str, Any]) -> str:
    """``filename``, then ``p. N`` or the heading path when known."""
    where = f"p. {item['page']}" if item.get("page") else item.get("heading")
    return f"{item['filename']}, {where}" if where else str(item["filename"])


def build_server(gateway_url: str, api_key: str | None) -> MCPServer:
    """The MCP server; tools call the gateway at ``gateway_url``.

    Args:
        gateway_url: The ragbus gateway, e.g. ``http://127.0.0.1:8000``.
        api_key: The key used when a request brings none (see the module doc).
    """
    mcp = MCPServer("ragbus", instructions=INSTRUCTIONS, version="0.1.0")

    def client(ctx: Context) -> RagbusClient:
        key = bearer(ctx) or api_key
        if not key:
            raise ToolError("no ragbus API key: send Authorization: Bearer <key>")
        return RagbusClient(gateway_url, key, timeout_s=300.0)

    @mcp.tool()
    async def search(ctx: Context, query: str, top_k: int = 5) -> SearchResult:
        """Find the passages of the tenant's documents that best match ``query``
        (1-100 passages, best first), each numbered [n] with its source."""
        async with client(ctx) as ragbus:
            found = await gateway(ragbus.retrieve(query, top_k=top_k))
        return SearchResult(
            passages=[
                Passage(n=n, source=source_of(p), **p)
                for n, p in enumerate(found["passages"], start=1)
            ]
        )

    @mcp.tool()
    async def ask(ctx: Context, question: str, top_k: int = 5) -> Answer:
        """Answer ``question`` from the tenant's documents; the answer cites its
        sources as [n] and ``citations`` says which passage each [n] is."""
        async with client(ctx) as ragbus:
            done = await gateway(ragbus.query(question, top_k=top_k))
        citations = [Citation(source=source_of(c), **c) for c in done["citations"]]
        return Answer(
            answer=done["answer"],
            citations=citations,
            found=done["found"],
            confidence=done.get("confidence"),
            model=done["model"],
            query_id=done["query_id"],
        )

    @mcp.tool()
    async def list_documents(ctx: Context, limit: int = 50, offset: int = 0) -> DocumentList:
        """List the tenant's documents, newest first, with their status."""
        async with client(ctx) as ragbus:
            documents = await gateway(ragbus.documents(limit=limit, offset=offset))
        return DocumentList(documents=[Document(**d) for d in documents])

    @mcp.tool()
    async def upload(
        ctx: Context,
        filename: str,
        text: str | None = None,
        content_base64: str | None = None,
        wait_s: float = 120.0,
    ) -> Uploaded:
        """Add a document: ``text`` (plain text or Markdown), or a file's bytes as
        ``content_base64`` (PDF, DOCX, HTML, ...; the type comes from ``filename``).
        Waits up to ``wait_s`` seconds (at most 600) for it to be indexed; ``status``
        says where it got."""
        data = _content(text, content_base64)
        async with client(ctx) as ragbus:
            doc = await gateway(ragbus.upload_bytes(filename, data))
            uploaded = Uploaded(**doc)
            if uploaded.status not in FINAL_STATUSES and wait_s > 0:
                await follow(ragbus, uploaded, min(wait_s, MAX_UPLOAD_WAIT_S))
        return uploaded

    return mcp


def bearer(ctx: Context) -> str | None:
    """The key of an HTTP request's ``Authorization: Bearer`` header; None over stdio."""
    try:
        headers = ctx.headers
    except ValueError:  # no request (a direct call)
        return None
    value = (headers or {}).get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def gateway(call: Any) -> Any:
    """Await a gateway call; a refusal or an unreachable gateway becomes a tool error.

    Raises:
        ToolError: with the gateway's reason, or saying it cannot be reached.
    """
    try:
        return await call
    except httpx.HTTPStatusError as exc:
        raise ToolError(f"ragbus answered {exc.response.status_code}: {_reason(exc)}") from None
    except httpx.TransportError as exc:
        raise ToolError(f"cannot reach the ragbus gateway ({type(exc).__name__})") from None


def _reason(exc: httpx.HTTPStatusError) -> str:
    try:
        body = exc.response.json()
    except (ValueError, httpx.ResponseNotRead):
        return exc.response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return str(detail)


def _content(text: str | None, content_base64: str | None) -> bytes:
    if (text is None) == (content_base64 is None):
        raise ToolError("give either text or content_base64")
    if text is not None:
        return text.encode("utf-8")
    try:
        return base64.b64decode(content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise ToolError("content_base64 is not valid base64") from None


async def follow(ragbus: RagbusClient, uploaded: Uploaded, wait_s: float) -> None:
    """Follow the document's events until it is final or ``wait_s`` passes; updates
    ``uploaded.status`` and ``error`` in place."""
    try:
        async with asyncio.timeout(wait_s):
            async for event, data in ragbus.events(uploaded.id):
                if event in ("document", "status"):
                    uploaded.status, uploaded.error = data["status"], data.get("error")
                if uploaded.status in FINAL_STATUSES:
                    return
    except TimeoutError:
        return
