"""Hostile input and heavy callers: clear 4xx naming the field, nothing half-stored, 429s.

NUL characters, non-finite and out-of-range numbers each get a 4xx that names
what was wrong (they were unhandled 500s); a failed upload leaves no blob behind;
bodies over their limit are refused before they are read; rate limits and upload
quotas answer 429 with ``Retry-After``.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.auth.settings import QuotaSettings
from gateway.settings import GatewaySettings
from ragbus.settings import InfraSettings
from tests.e2e.stack import RunningStack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

MAX_UPLOAD = 64 * 1024


@pytest.fixture(scope="module")
async def guarded(
    nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    """A stack with small upload limits and a low rate limit, to reach them quickly."""
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("guard")
    )
    gateway = GatewaySettings(max_upload_bytes=MAX_UPLOAD, max_upload_request_bytes=4 * MAX_UPLOAD)
    quotas = QuotaSettings(requests_per_minute=40, upload_bytes_per_day=10 * MAX_UPLOAD)
    async with running_stack(infra, gateway=gateway, quotas=quotas, name="ragbus-guard") as s:
        yield s


async def client(stack: RunningStack, tenant: str) -> httpx.AsyncClient:
    headers = await stack.headers(tenant)
    return httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=60)


def blobs_of(stack: RunningStack, tenant: str) -> list[Path]:
    root = stack.infra.data_dir / "blobs" / tenant
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def raw_post(stack: RunningStack, authorization: str, *, declared: int) -> bytes:
    """POST a JSON upload that declares ``declared`` bytes but sends two; the reply."""
    host, port = stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            "POST /v1/documents HTTP/1.1\r\n"
            f"Host: {host}\r\nAuthorization: {authorization}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{}}"
        ).encode()
    )
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    return reply


def names(response: httpx.Response, *words: str) -> None:
    """A 422 whose message names each of ``words``."""
    assert response.status_code == 422, response.text
    text = json.dumps(response.json())
    assert all(word in text for word in words), text


async def test_nul_and_non_finite_values_are_422s_naming_the_field(guarded: RunningStack) -> None:
    tenant = f"in-{uuid.uuid4().hex[:8]}"
    async with await client(guarded, tenant) as http:
        boundary = "nulboundary"
        form = (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="bad\x00name.txt"\r\n'
            "Content-Type: text/plain\r\n\r\ntext\r\n"
            f"--{boundary}--\r\n"
        ).encode()
        multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
        names(await http.post("/v1/documents", content=form, headers=multipart), "filename")
        good_file = [("file", ("ok.txt", b"text", "text/plain"))]
        meta = {"metadata": json.dumps({"owner": "a\x00b"})}
        names(await http.post("/v1/documents", files=good_file, data=meta), "metadata", "owner")
        nan_meta = {"metadata": '{"score": NaN}'}
        names(await http.post("/v1/documents", files=good_file, data=nan_meta), "score")
        text = {"filename": "t.txt", "text": "x", "metadata": {"k": "v\x00"}}
        names(await http.post("/v1/documents", json=text), "metadata.k")
        raw = '{"question": "why\\u0000", "top_k": 2}'
        names(
            await http.post("/v1/query", content=raw, headers={"content-type": "application/json"}),
            "question",
        )
        huge = '{"question": "why", "top_k": 1e400}'
        names(
            await http.post(
                "/v1/retrieve", content=huge, headers={"content-type": "application/json"}
            ),
            "top_k",
        )
        nan = '{"question": "why", "mmr_lambda": NaN}'
        names(
            await http.post(
                "/v1/retrieve", content=nan, headers={"content-type": "application/json"}
            ),
            "mmr_lambda",
        )
        names(await http.get("/v1/documents", params={"offset": "1e20"}), "offset")
        names(await http.get("/v1/documents", params={"offset": str(10**20)}), "offset")
        long_chat = {"messages": [{"role": "user", "content": "x" * 40_000}]}
        chat = await http.post("/v1/chat/completions", json=long_chat)  # OpenAI's 400
        assert chat.status_code == 400, chat.text
        assert chat.json()["error"]["param"] == "messages.0.content", chat.text
        assert (await http.get("/v1/documents")).json()["documents"] == []
    assert blobs_of(guarded, tenant) == []  # no refused upload left a blob


async def test_bodies_over_their_limit_are_refused_before_they_are_read(
    guarded: RunningStack,
) -> None:
    tenant = f"big-{uuid.uuid4().hex[:8]}"
    async with await client(guarded, tenant) as http:
        declared = await raw_post(guarded, http.headers["authorization"], declared=10**9)
        assert declared.startswith(b"HTTP/1.1 413"), declared[:200]
        assert b"body_too_large" in declared

        async def chunked() -> AsyncIterator[bytes]:
            yield b'{"filename": "a.txt", "text": "'
            for _ in range(64):
                yield b"y" * 8192  # 512 KiB, over the 2 x 64 KiB + 64 KiB JSON limit
            yield b'"}'

        streamed = await http.post(
            "/v1/documents", content=chunked(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        big = [("file", ("big.txt", b"z" * (MAX_UPLOAD + 1), "text/plain"))]
        assert (await http.post("/v1/documents", files=big)).status_code == 413

        async def many_files() -> AsyncIterator[bytes]:  # 5 x 64 KiB, over the 256 KiB cap
            for i in range(5):
                yield (
                    f'--b\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="f{i}.txt"\r\nContent-Type: text/plain\r\n\r\n'
                ).encode()
                yield b"z" * MAX_UPLOAD + b"\r\n"
            yield b"--b--\r\n"

        multipart = {"content-type": "multipart/form-data; boundary=b"}
        streamed_form = await http.post("/v1/documents", content=many_files(), headers=multipart)
        assert streamed_form.status_code == 413
        assert (await http.get("/v1/documents")).json()["documents"] == []
    assert blobs_of(guarded, tenant) == []


async def test_rate_limits_and_quotas_answer_429_with_retry_after(guarded: RunningStack) -> None:
    tenant = f"rate-{uuid.uuid4().hex[:8]}"
    async with await client(guarded, tenant) as http:
        statuses = [(await http.get("/v1/usage")).status_code for _ in range(45)]
        assert statuses[:39] == [200] * 39 and statuses[-1] == 429, statuses
        limited = await http.get("/v1/usage")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["quota"] == "requests_per_minute"
    other = f"rate-{uuid.uuid4().hex[:8]}"
    async with await client(guarded, other) as http:  # another tenant has its own budget
        assert (await http.get("/v1/usage")).status_code == 200
        usage = (await http.get("/v1/usage")).json()
        assert usage["upload_bytes_per_day"]["limit"] == 10 * MAX_UPLOAD
        file = [("file", ("q.txt", b"w" * MAX_UPLOAD, "text/plain"))]
        accepted = 0
        for i in range(12):
            file = [("file", (f"q{i}.txt", bytes([65 + i]) * MAX_UPLOAD, "text/plain"))]
            reply = await http.post("/v1/documents", files=file)
            if reply.status_code == 429:
                assert reply.json()["quota"] == "upload_bytes_per_day"
                assert int(reply.headers["retry-after"]) >= 1
                break
            assert reply.status_code == 202, reply.text
            accepted += 1
        assert accepted == 10
    assert len(blobs_of(guarded, other)) == 10  # the refused one stored nothing
