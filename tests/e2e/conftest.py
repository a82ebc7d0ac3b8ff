"""Fixtures of the end-to-end tier: a whole ragbus stack per test module."""

import pytest

from ragbus.settings import InfraSettings
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
