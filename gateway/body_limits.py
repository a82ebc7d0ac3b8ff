"""Request bodies capped while they stream in, before anything is buffered.

An ASGI middleware: a ``Content-Length`` over the route's limit is answered 413
without reading a byte; a body sent without one (chunked) is counted as it
arrives and refused with 413 the moment it passes the limit. So four 250 MB
bodies cost the gateway their headers, not their bytes.
"""

import json
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.embeddings_openai import MAX_BODY_BYTES as EMBEDDINGS_BODY_BYTES
from gateway.openai_errors import is_openai_path, openai_body

LimitFor = Callable[[str, str, str], int]
"""``(method, path, content type) -> largest body in bytes`` of that request."""


class BodyTooLargeError(HTTPException):
    """A body over its limit (HTTP 413); an ``HTTPException``, so FastAPI's own
    body reading passes it on unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over its limit of {limit} bytes")


class BodyLimits:
    """Caps every request body at ``limit_for(method, path, content_type)`` bytes.

    Args:
        app: The ASGI app inside.
        limit_for: The limit of one request.
    """

    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, its body capped."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.limit_for(scope["method"], scope["path"], content_type)
        declared = headers.get(b"content-length")
        if declared is not None and _over(declared, limit):
            await _refuse(send, limit, openai=is_openai_path(scope["path"]))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        await self.app(scope, counted, send)


def _over(declared: bytes, limit: int) -> bool:
    try:
        return int(declared) > limit
    except ValueError:
        return False  # malformed: the server rejects it itself


async def _refuse(send: Send, limit: int, *, openai: bool) -> None:
    message = f"the request body is over its limit of {limit} bytes"
    shape = openai_body(413, message, code="body_too_large") if openai else None
    body = json.dumps(shape or {"detail": message, "code": "body_too_large"}).encode()
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


def route_limits(
    *, max_upload_bytes: int, max_upload_request_bytes: int, max_json_bytes: int
) -> LimitFor:
    """The gateway's limits per route.

    - ``POST /v1/documents``, multipart: ``max_upload_request_bytes`` (all files
      together; each file is also held to ``max_upload_bytes``);
    - ``POST /v1/documents``, JSON: twice ``max_upload_bytes`` plus 64 KiB, which
      fits the largest text JSON-encoded with its escapes (larger texts: multipart);
    - ``POST /v1/embeddings``: 2 MiB (its own reader names the limits of the texts);
    - every other body: ``max_json_bytes``.
    """
    json_upload = json_upload_limit(max_upload_bytes)

    def limit_for(method: str, path: str, content_type: str) -> int:
        if method == "POST" and path.rstrip("/") == "/v1/documents":
            multipart = content_type.lower().startswith("multipart/")
            return max_upload_request_bytes if multipart else json_upload
        if path.rstrip("/") == "/v1/embeddings":
            return EMBEDDINGS_BODY_BYTES
        return max_json_bytes

    return limit_for


def json_upload_limit(max_upload_bytes: int) -> int:
    """Largest JSON body of a text upload, in bytes: 2 x the text limit + 64 KiB."""
    return 2 * max_upload_bytes + 65_536
