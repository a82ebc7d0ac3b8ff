"""A small HTTP client for the gateway, used by the CLI and the end-to-end tests."""

import asyncio
import json
import mimetypes
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from schemas import SUPPORTED_EXTENSIONS

FINAL_STATUSES = frozenset({"indexed", "failed", "deleted"})


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Every supported file under ``paths`` (folders walked recursively), sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
            )
        elif path.is_file():
            found.add(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return sorted(found)


class RagbusClient:
    """Async client of the ragbus HTTP API.

    Args:
        base_url: Gateway URL, e.g. ``http://127.0.0.1:8000``.
        tenant: Sent as ``X-Tenant-ID``.
        timeout_s: Per-request timeout in seconds.
    """

    def __init__(self, base_url: str, tenant: str, *, timeout_s: float = 300.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"X-Tenant-ID": tenant}, timeout=timeout_s
        )

    async def __aenter__(self) -> "RagbusClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def upload(self, path: Path, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Upload one file; returns its ``documents[0]`` entry.

        Raises:
            httpx.HTTPStatusError: on 4xx/5xx (the body names what was wrong).
        """
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data_bytes = await asyncio.to_thread(path.read_bytes)
        files = [("file", (path.name, data_bytes, content_type))]
        data = {"metadata": json.dumps(metadata)} if metadata else None
        response = await self._http.post("/v1/documents", files=files, data=data)
        response.raise_for_status()
        return response.json()["documents"][0]  # type: ignore[no-any-return]

    async def document(self, document_id: str) -> dict[str, Any]:
        """``GET /v1/documents/{id}``."""
        response = await self._http.get(f"/v1/documents/{document_id}")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def delete(self, document_id: str) -> None:
        """``DELETE /v1/documents/{id}``."""
        (await self._http.delete(f"/v1/documents/{document_id}")).raise_for_status()

    async def retrieve(self, question: str, top_k: int = 5) -> dict[str, Any]:
        """``POST /v1/retrieve``."""
        response = await self._http.post(
            "/v1/retrieve", json={"question": question, "top_k": top_k}
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def query(self, question: str, top_k: int = 5) -> dict[str, Any]:
        """``POST /v1/query`` as JSON."""
        response = await self._http.post(
            "/v1/query", json={"question": question, "top_k": top_k, "stream": False}
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def query_stream(self, question: str, top_k: int = 5) -> AsyncIterator[tuple[str, Any]]:
        """``POST /v1/query`` as SSE; yields ``(event, data)`` pairs until ``done``/``error``."""
        body = {"question": question, "top_k": top_k, "stream": True}
        async with aconnect_sse(self._http, "POST", "/v1/query", json=body) as source:
            source.response.raise_for_status()
            async for sse in source.aiter_sse():
                yield sse.event, json.loads(sse.data)
                if sse.event in ("done", "error"):
                    return
