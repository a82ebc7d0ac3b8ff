"""Fixtures of the end-to-end tier: a whole ragbus stack per test module."""

import uuid

import httpx
import pytest

from ragbus.settings import InfraSettings
from ragbus_tools.client import RagbusClient
from tests.credentials import bearer
from tests.e2e.stack import running_stack


@pytest.fixture(scope="module")
async def stack(nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory):
    """All services and the gateway in this process, against real servers."""
    infra = InfraSettings(
        nats_url=nats_url,
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("ragbus-stack"),
    )
    async with running_stack(infra) as running:
        yield running


@pytest.fixture
async def http(stack):
    """A fresh tenant's raw HTTP client and :class:`RagbusClient` on the module's stack,
    both authenticated with an admin key of that tenant."""
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    key = await stack.key(tenant)
    async with (
        httpx.AsyncClient(base_url=stack.url, headers=bearer(key), timeout=60) as h,
        RagbusClient(stack.url, key) as client,
    ):
        yield h, client
