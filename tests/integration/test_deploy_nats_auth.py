"""The shipped NATS configuration authenticates, run by the real nats-server.

``deploy/compose/nats.conf`` (the same ``accounts``/``authorization`` blocks as the
Kubernetes ConfigMap) is started as compose starts it: with the variables of
``ragbus nats-secrets`` in its environment, on free ports and a temporary store.
A service identity connects with its password and publishes its subjects, but no
other's; a client without credentials, or with another identity's password, is
refused; KEDA's ``/jsz`` reading needs no credentials and finds the streams in the
``RAGBUS`` account.
"""

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from gjson import get as gjson_get
from nats.errors import Error as NatsError

from deploy.jetstream import CHUNKS_STREAM, JetStreamSettings, ensure_streams
from deploy.nats_security import ADMIN, GATEWAY, INGEST
from ragbus_tools.deploy_files import compose_nats_config
from ragbus_tools.k8s_scaling import JSZ_QUERY, stream_messages_path
from ragbus_tools.nats_env import new_values, password_var
from ragbus_tools.servers import free_port
from ragbus_tools.servers.nats_server import nats_server_binary
from schemas import subjects as s

pytestmark = pytest.mark.integration

TENANT = "tenant-auth"


@dataclass(frozen=True)
class ShippedServer:
    """The compose nats-server, moved to free ports, and the secrets it runs with."""

    url: str
    monitor: str
    secrets: dict[str, str]

    def password(self, identity: str) -> str:
        return self.secrets[password_var(identity)]


def relocated(text: str, port: int, http_port: int, store: Path) -> str:
    """The compose config with its ports and store moved; everything else as shipped."""
    moves = {
        'listen: "0.0.0.0:4222"': f'listen: "127.0.0.1:{port}"',
        'http: "0.0.0.0:8222"': f'http: "127.0.0.1:{http_port}"',
        'store_dir: "/data/jetstream"': f'store_dir: "{store}"',
    }
    for shipped, here in moves.items():
        assert text.count(shipped) == 1, shipped
        text = text.replace(shipped, here)
    return text


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedServer]:
    secrets = new_values()
    port, http_port = free_port(), free_port()
    config = tmp_path / "nats.conf"
    config.write_text(relocated(compose_nats_config(), port, http_port, tmp_path / "js"))
    log = (tmp_path / "nats.log").open("wb")
    argv = [str(nats_server_binary()), "-c", str(config)]
    proc = subprocess.Popen(argv, env={**os.environ, **secrets}, stdout=log, stderr=log)
    monitor = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "nats.log").read_text()
            try:
                if httpx.get(f"{monitor}/healthz?js-enabled-only=true", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "nats-server did not become healthy"
            time.sleep(0.1)
        yield ShippedServer(f"nats://127.0.0.1:{port}", monitor, secrets)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


async def connect(url: str, errors: list[Exception] | None = None, **auth: str) -> nats.NATS:
    async def record(exc: Exception) -> None:
        if errors is not None:
            errors.append(exc)

    return await nats.connect(
        url,
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=5,
        error_cb=record,
        **auth,
    )


async def test_a_service_identity_publishes_its_subjects_and_no_others(
    shipped: ShippedServer,
) -> None:
    errors: list[Exception] = []
    ingest = await connect(shipped.url, errors, user=INGEST, password=shipped.password(INGEST))
    admin = await connect(shipped.url, user=ADMIN, password=shipped.password(ADMIN))
    try:
        seen = await admin.subscribe(s.every_tenant(s.QUERY_REQUESTED))
        await admin.flush()
        js = ingest.jetstream()
        await ensure_streams(js, JetStreamSettings(replicas=1))  # every process declares them
        ack = await js.publish(s.chunks_ready_for(TENANT), b"batch", timeout=5)
        assert ack.stream == CHUNKS_STREAM.name
        # query.requested is the gateway's and clients' to publish, not ingest's
        await ingest.publish(s.subject_for(s.QUERY_REQUESTED, TENANT), b"question")
        await ingest.flush()
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(nats.errors.TimeoutError):
            await seen.next_msg(timeout=0.5)
    finally:
        await ingest.close()
        await admin.close()
    assert any("permissions violation for publish" in str(e).lower() for e in errors), errors
    async with httpx.AsyncClient() as http:  # what KEDA reads: no credentials
        body = (await http.get(f"{shipped.monitor}/jsz?{JSZ_QUERY}")).json()
    assert gjson_get(body, stream_messages_path(CHUNKS_STREAM.name or "")) == 1


async def test_no_credentials_or_another_identitys_password_is_refused(
    shipped: ShippedServer,
) -> None:
    with pytest.raises(NatsError, match="Authorization Violation"):  # no callout answer
        await connect(shipped.url)
    with pytest.raises(NatsError, match="Authorization Violation"):
        await connect(shipped.url, user=INGEST, password=shipped.password(GATEWAY))
    gateway = await connect(shipped.url, user=GATEWAY, password=shipped.password(GATEWAY))
    assert gateway.is_connected
    await gateway.close()
