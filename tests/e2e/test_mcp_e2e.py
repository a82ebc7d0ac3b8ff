"""``ragbus mcp`` driven by the official MCP client (the ``mcp`` SDK) against a real stack.

The server runs as its own process, as an agent or IDE would start it: over stdio
with the tenant's key in ``RAGBUS_API_KEY``, and over streamable HTTP where each
client's ``Authorization: Bearer`` key picks its tenant. Real gateway, nats-server,
Postgres and model; the offline extractive answerer.
"""

import asyncio
import base64
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.stack import RunningStack, index_texts
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RAGBUS = str(Path(sys.executable).with_name("ragbus"))
TOOLS = {"search", "ask", "list_documents", "upload"}
DOC = (
    "The spawn function starts a new child process that runs the given command.\n"
    "To stop a running child process, call its kill method, which sends SIGTERM.\n"
)
BELLS = base64.b64encode(b"# Bells\n\nThe bronze bell rings at noon.\n").decode()
OTHER = "The lighthouse on the north cape flashes white every six seconds.\n"


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without ragbus's own variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGBUS_")}
    return env | extra


@pytest.fixture(scope="module")
async def tenants(stack: RunningStack) -> dict[str, str]:
    """Two tenants' keys: ``procs`` holds the child-process text, ``light`` the lighthouse."""
    keys = {}
    for name, text in (("procs", DOC), ("light", OTHER)):
        keys[name] = await stack.key(f"mcp-{name}-{uuid.uuid4().hex[:6]}")
        await index_texts(stack.url, keys[name], {f"{name}.txt": text})
    return keys


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


async def test_stdio_lists_the_tools_and_answers_with_citations(
    stack: RunningStack, tenants: dict[str, str], tmp_path: Path
) -> None:
    server = StdioServerParameters(
        command=RAGBUS,
        args=["mcp", "--url", stack.url],
        env=environment(RAGBUS_API_KEY=tenants["procs"], RAGBUS_DATA_DIR=str(tmp_path)),
    )
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        found = structured(
            await client.call_tool("search", {"query": "How do I stop a child process?"})
        )
        answer = structured(
            await client.call_tool("ask", {"question": "How do I stop a child process?"})
        )
    assert set(tools) == TOOLS
    assert tools["ask"].output_schema and "citations" in tools["ask"].output_schema["properties"]
    first = found["passages"][0]
    assert (first["n"], first["filename"], first["source"]) == (1, "procs.txt", "procs.txt")
    assert "kill" in " ".join(p["text"] for p in found["passages"])
    assert answer["found"] is True and "kill" in answer["answer"]
    cited = answer["citations"]
    assert cited and all(f"[{c['n']}]" in answer["answer"] for c in cited)
    assert {c["filename"] for c in cited} == {"procs.txt"}


@contextlib.asynccontextmanager
async def http_server(stack: RunningStack, key: str, tmp_path: Path) -> AsyncIterator[str]:
    """``ragbus mcp --transport http`` on a free port with ``key``; yields its endpoint."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        RAGBUS,
        *("mcp", "--transport", "http", "--port", str(port), "--url", stack.url),
        env=environment(RAGBUS_API_KEY=key, RAGBUS_DATA_DIR=str(tmp_path)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                assert process.returncode is None, "ragbus mcp exited"
                await asyncio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        await process.wait()


@contextlib.asynccontextmanager
async def http_client(endpoint: str, key: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(endpoint, http_client=http)) as client:
            yield client


async def test_http_clients_act_as_their_own_key_and_tenant(
    stack: RunningStack, tenants: dict[str, str], tmp_path: Path
) -> None:
    async with http_server(stack, tenants["procs"], tmp_path) as endpoint:
        async with http_client(endpoint, tenants["light"]) as light:
            tools = {t.name for t in (await light.list_tools()).tools}
            theirs = structured(await light.call_tool("search", {"query": "child process"}))
            uploaded = structured(
                await light.call_tool(
                    "upload",
                    {
                        "filename": "bells.md",
                        "content_base64": base64.b64encode(
                            b"# Bells\n\nThe bell rings.\n"
                        ).decode(),
                    },
                )
            )
            listed = structured(await light.call_tool("list_documents", {}))
        async with http_client(endpoint, None) as server_key:
            ours = structured(await server_key.call_tool("search", {"query": "child process"}))
        async with http_client(endpoint, "rbk_000000000000_" + "x" * 43) as bad:
            refused = await bad.call_tool("ask", {"question": "anything?"})
    assert tools == TOOLS
    assert {p["filename"] for p in theirs["passages"]} == {"light.txt"}
    assert {p["filename"] for p in ours["passages"]} == {"procs.txt"}
    assert (uploaded["filename"], uploaded["status"]) == ("bells.md", "indexed")
    assert {d["filename"] for d in listed["documents"]} == {"light.txt", "bells.md"}
    assert refused.is_error and "401" in str(refused.content)
