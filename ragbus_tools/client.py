"""A small HTTP client for the gateway, used by the CLI and the end-to-end tests."""

import asyncio
import json
import logging
import mimetypes
from collections.abc import AsyncIterator, Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from schemas import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({"indexed", "failed", "deleted"})


def collect_files(
    paths: Iterable[Path], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[Path]:
    """Every supported file under ``paths`` (folders walked recursively), sorted.

    Args:
        paths: Files (always taken) and folders (walked).
        include: Globs; when given, a file found in a folder must match one of them.
        exclude: Globs; a file found in a folder matching any of them is left out.

    A glob is matched against the file's path relative to the folder given, with
    ``/`` separators (``*`` also crosses folders, so ``*.md`` matches ``a/b.md``);
    a glob without ``/`` also matches the bare file name (``LICENSE*``).
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_EXTENSIONS
                and _selected(p.relative_to(path).as_posix(), include, exclude)
            )
        elif path.is_file():
            found.add(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return sorted(found)


def _matches(relative: str, globs: Sequence[str]) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatchcase(relative, g) or ("/" not in g and fnmatchcase(name, g)) for g in globs)


def _selected(relative: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    if include and not _matches(relative, include):
        return False
    return not _matches(relative, exclude)


def auth_headers(api_key: str | None, tenant: str | None = None) -> dict[str, str]:
    """The headers that say who is calling: ``Authorization: Bearer <api_key>``, and
    ``X-Tenant-ID`` only for a gateway in ``trusted-headers`` mode."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if tenant:
        headers["X-Tenant-ID"] = tenant
    return headers


class RagbusClient:
    """Async client of the ragbus HTTP API.

    Args:
        base_url: Gateway URL, e.g. ``http://127.0.0.1:8000``.
        api_key: A ragbus API key (``rbk_...``) or access token; the tenant is its.
        tenant: Sent as ``X-Tenant-ID``, for a gateway behind a trusted proxy only.
        timeout_s: Per-request timeout in seconds.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        tenant: str | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=auth_headers(api_key, tenant), timeout=timeout_s
        )

    async def __aenter__(self) -> "RagbusClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def health(self) -> None:
        """``GET /healthz`` (no credential needed).

        Raises:
            httpx.TransportError: the gateway cannot be reached.
            httpx.HTTPStatusError: it answered with an error.
        """
        (await self._http.get("/healthz")).raise_for_status()

    async def check_access(self) -> None:
        """One cheap authenticated call (``GET /v1/documents?limit=1``), to fail fast.

        Raises:
            httpx.TransportError: the gateway cannot be reached.
            httpx.HTTPStatusError: it refused the credential (401) or the role (403).
        """
        response = await self._http.get("/v1/documents", params={"limit": 1})
        response.raise_for_status()

    async def upload(self, path: Path, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """Upload one file; returns its ``documents[0]`` entry.

        Raises:
            httpx.HTTPStatusError: on 4xx/5xx (the body names what was wrong).
        """
        data = await asyncio.to_thread(path.read_bytes)
        return await self.upload_bytes(path.name, data, metadata)

    async def upload_bytes(
        self, filename: str, data: bytes, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Upload ``data`` as a file named ``filename``; returns its ``documents[0]`` entry.

        Raises:
            httpx.HTTPStatusError: on 4xx/5xx (the body names what was wrong).
        """
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        files = [("file", (filename, data, content_type))]
        form = {"metadata": json.dumps(metadata)} if metadata else None
        response = await self._http.post("/v1/documents", files=files, data=form)
        response.raise_for_status()
        return response.json()["documents"][0]  # type: ignore[no-any-return]

    async def document(self, document_id: str) -> dict[str, Any]:
        """``GET /v1/documents/{id}``."""
        response = await self._http.get(f"/v1/documents/{document_id}")
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def documents(self, *, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        """``GET /v1/documents``: one page of the tenant's documents, newest first."""
        response = await self._http.get("/v1/documents", params={"limit": limit, "offset": offset})
        response.raise_for_status()
        return response.json()["documents"]  # type: ignore[no-any-return]

    async def events(self, document_id: str) -> AsyncIterator[tuple[str, Any]]:
        """``GET /v1/documents/{id}/events``: yields ``(event, data)`` until ``end``.

        The first event is ``document`` (the document as stored), then ``status``
        events with ``status``, ``progress`` and ``error``, then ``end``.

        Raises:
            httpx.HTTPStatusError: 404 when the tenant has no such document.
        """
        url = f"/v1/documents/{document_id}/events"
        # No read timeout: a long embedding can be quiet for a while (the server
        # sends a heartbeat comment every 15 s anyway).
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        async with aconnect_sse(self._http, "GET", url, timeout=timeout) as source:
            if source.response.is_error:
                await source.response.aread()
                source.response.raise_for_status()
            async for sse in source.aiter_sse():
                yield sse.event, json.loads(sse.data)
                if sse.event == "end":
                    return

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
            if source.response.is_error:
                await source.response.aread()  # so the error names the gateway's reason
                source.response.raise_for_status()
            async for sse in source.aiter_sse():
                yield sse.event, json.loads(sse.data)
                if sse.event in ("done", "error"):
                    return
