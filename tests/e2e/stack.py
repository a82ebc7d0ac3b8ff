"""Run the whole ragbus stack inside a test's event loop, with a real HTTP port."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import uvicorn

from gateway.app import create_app
from gateway.auth.settings import AuthSettings, QuotaSettings
from gateway.settings import GatewaySettings
from ragbus.resources import Resources
from ragbus.runtime import ServiceBuilder, start_bus
from ragbus.settings import InfraSettings
from ragbus_tools.client import RagbusClient
from ragbus_tools.stack import SERVICE_BUILDERS
from tests.credentials import bearer, key_for, principal_id
from tests.servers import free_port


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
    client: RagbusClient,
    ids: list[str],
    timeout_s: float,
    *,
    poll_s: float = 0.3,
    absent_ok: bool = False,
) -> dict[str, dict]:
    """Poll every document until it is indexed, failed or deleted; the last JSON of each.

    ``absent_ok`` is for documents published straight onto ``document.uploaded``:
    the gateway knows them only once ingest_svc has recorded them, so a 404 means
    "not yet" until ``timeout_s`` runs out.

    Raises:
        AssertionError: some document is still in progress (or, with ``absent_ok``,
            still unknown) after ``timeout_s`` seconds.
        httpx.HTTPStatusError: a document answers 404 without ``absent_ok``, or any
            other error status.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    docs: dict[str, dict] = {}
    pending = set(ids)
    while pending:
        for doc_id in list(pending):
            try:
                docs[doc_id] = doc = await client.document(doc_id)
            except httpx.HTTPStatusError as error:
                if not (absent_ok and error.response.status_code == 404):
                    raise
                continue
            if doc["status"] in ("indexed", "failed", "deleted"):
                pending.discard(doc_id)
        if pending:
            assert asyncio.get_running_loop().time() < deadline, f"not final: {pending}"
            await asyncio.sleep(poll_s)
    return docs


async def index_texts(
    url: str, key: str, texts: Mapping[str, str], timeout_s: float = 300.0
) -> list[str]:
    """Post each ``filename: text`` as a document of ``key``'s tenant; wait until all are indexed.

    Returns:
        The documents' ids, in the order of ``texts``.

    Raises:
        AssertionError: a post is not accepted (202), or a document does not end
            ``indexed`` within ``timeout_s`` seconds.
    """
    async with RagbusClient(url, key) as client:
        ids = []
        for filename, text in texts.items():
            raw = await client._http.post(
                "/v1/documents", json={"filename": filename, "text": text}
            )
            assert raw.status_code == 202, raw.text
            ids.append(raw.json()["documents"][0]["id"])
        docs = await wait_final(client, ids, timeout_s)
    assert all(d["status"] == "indexed" for d in docs.values()), docs
    return ids


@dataclass
class RunningStack:
    """A started in-process stack, and API keys for any tenant on it."""

    url: str
    infra: InfraSettings
    resources: Resources
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    async def key(self, tenant: str, role: str = "admin") -> str:
        """An API key of ``role`` in ``tenant`` (made once per tenant and role)."""
        if (tenant, role) not in self._keys:
            self._keys[tenant, role] = await key_for(await self.resources.pool(), tenant, role)
        return self._keys[tenant, role]

    async def user(self, tenant: str, name: str, role: str = "member") -> tuple[str, str]:
        """A key of principal ``name`` (``role``) in ``tenant``, and the principal's id."""
        pool = await self.resources.pool()
        key = await key_for(pool, tenant, role, name)
        return key, await principal_id(pool, tenant, name)

    async def headers(self, tenant: str, role: str = "admin") -> dict[str, str]:
        """``Authorization: Bearer`` with :meth:`key`."""
        return bearer(await self.key(tenant, role))

    @contextlib.asynccontextmanager
    async def client(self, tenant: str, role: str = "admin") -> AsyncIterator[RagbusClient]:
        """A :class:`RagbusClient` authenticated as ``role`` of ``tenant``."""
        async with RagbusClient(self.url, await self.key(tenant, role)) as client:
            yield client


@contextlib.asynccontextmanager
async def running_stack(
    infra: InfraSettings,
    *,
    builders: Sequence[ServiceBuilder] | None = None,
    gateway: GatewaySettings | None = None,
    name: str = "ragbus-test",
    auth: AuthSettings | None = None,
    quotas: QuotaSettings | None = None,
) -> AsyncIterator[RunningStack]:
    """The services on one broker plus the gateway on a free port.

    Args:
        infra: Servers and data directory of every service.
        builders: The services to run; all four by default (a test swaps one in to
            configure it, e.g. generate_svc with an LLM).
        gateway: Gateway settings, e.g. a smaller upload limit; the port is always
            a free one.
        name: The broker's client name.
        auth: Authentication settings (default: API keys and ragbus's own tokens).
        quotas: Default quotas (default: the gateway's).
    """
    resources = Resources(infra)
    # Read at call time, so a test that swaps an entry of SERVICE_BUILDERS gets it.
    chosen = list(SERVICE_BUILDERS.values()) if builders is None else list(builders)
    bus = await start_bus(infra, resources, chosen, name=name)
    port = free_port()
    settings = (gateway or GatewaySettings()).model_copy(update={"port": port})
    app = create_app(
        infra, settings, resources=resources, auth_settings=auth, quota_settings=quotas
    )
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
