"""Run the whole ragbus stack inside a test's event loop, with a real HTTP port."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from ragbus.client import RagbusClient
from ragbus.resources import Resources
from ragbus.runtime import start_bus
from ragbus.settings import InfraSettings
from ragbus.stack import SERVICE_BUILDERS


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, timeout_s: float = 120.0) -> None:
    """Poll ``GET /readyz`` until it answers 200."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/readyz")).status_code == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url}/readyz not ready after {timeout_s} s")
            await asyncio.sleep(0.2)


async def wait_final(
    client: RagbusClient, ids: list[str], timeout_s: float, *, poll_s: float = 0.3
) -> dict[str, dict]:
    """Poll every document until it is indexed, failed or deleted; the last JSON of each.

    Raises:
        AssertionError: some document is still in progress after ``timeout_s`` seconds.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    docs: dict[str, dict] = {}
    pending = set(ids)
    while pending:
        for doc_id in list(pending):
            docs[doc_id] = doc = await client.document(doc_id)
            if doc["status"] in ("indexed", "failed", "deleted"):
                pending.discard(doc_id)
        if pending:
            assert asyncio.get_running_loop().time() < deadline, f"not final: {pending}"
            await asyncio.sleep(poll_s)
    return docs


@dataclass
class RunningStack:
    """A started in-process stack."""

    url: str
    infra: InfraSettings
    resources: Resources


@contextlib.asynccontextmanager
async def running_stack(infra: InfraSettings) -> AsyncIterator[RunningStack]:
    """All four services on one broker plus the gateway on a free port."""
    resources = Resources(infra)
    bus = await start_bus(infra, resources, list(SERVICE_BUILDERS.values()), name="ragbus-test")
    port = free_port()
    app = create_app(infra, GatewaySettings(port=port), resources=resources)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url)
        yield RunningStack(url, infra, resources)
    finally:
        server.should_exit = True
        await task
        await bus.stop()
        await resources.close()
