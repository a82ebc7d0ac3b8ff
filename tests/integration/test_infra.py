"""The servers ragbus starts from wheels: nats-server, pgserver and SeaweedFS."""

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StorageType

from ragbus_tools.servers import NatsServer, S3Server
from ragbus_tools.servers.postgres_server import drop_database, ensure_database, has_pgvector

pytestmark = pytest.mark.integration


async def test_jetstream_publish_is_acked(nats_server: NatsServer, unique_name: str) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=unique_name, subjects=[f"{unique_name}.>"])
        ack = await js.publish(f"{unique_name}.hello", b"hi", headers={"Nats-Msg-Id": "m1"})
        duplicate = await js.publish(f"{unique_name}.hello", b"hi", headers={"Nats-Msg-Id": "m1"})
    finally:
        await nc.close()
    assert (ack.stream, ack.seq) == (unique_name, 1)
    assert duplicate.duplicate and duplicate.seq == 1


async def test_killed_server_keeps_stored_messages(nats_server_factory, unique_name: str) -> None:
    with nats_server_factory(sync_always=True) as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name=unique_name, subjects=[unique_name], storage=StorageType.FILE)
        await js.publish(unique_name, b"survives")
        await nc.close()
        old_pid, old_url = server.pid, server.url

        server.kill()
        assert server.pid is None
        server.restart()

        assert server.url == old_url and server.pid not in (None, old_pid)
        nc = await nats.connect(server.url)
        try:
            message = await nc.jetstream().get_msg(unique_name, 1)
        finally:
            await nc.close()
        assert message.data == b"survives"
        assert "sync_interval: always" in server.config_path.read_text()


def test_server_dies_with_its_parent(tmp_path: Path) -> None:
    """A SIGKILLed parent (a crashed test run) must not leave nats-server behind."""
    script = (
        "import sys, time; from pathlib import Path; "
        "from ragbus_tools.servers import start_nats_server; "
        "print(start_nats_server(Path(sys.argv[1])).pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],  # the repository, so ragbus imports
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while _is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _is_running(child)


def _is_running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_shared_nats_url_has_jetstream(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().account_info()
    finally:
        await nc.close()
    assert info.limits is not None
    assert nc.max_payload >= 1024 * 1024


async def test_pgserver_dsn_works_with_asyncpg_and_pgvector(pgserver_url: str) -> None:
    assert await has_pgvector(pgserver_url)
    url = await ensure_database(pgserver_url, "ragbus_infra_probe")
    assert url == await ensure_database(pgserver_url, "ragbus_infra_probe")  # idempotent
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        distance = await conn.fetchval("SELECT '[1,0]'::vector <-> '[0,0]'::vector")
        assert await conn.fetchval("SELECT current_database()") == "ragbus_infra_probe"
    finally:
        await conn.close()
    await drop_database(pgserver_url, "ragbus_infra_probe")
    assert distance == 1.0


async def test_session_databases_are_fresh(database_url: str, pgvector_database_url: str) -> None:
    for url in (database_url, pgvector_database_url):
        conn = await asyncpg.connect(url)
        try:
            name = await conn.fetchval("SELECT current_database()")
        finally:
            await conn.close()
        assert re.fullmatch(r"ragbus_test(_vec)?_[0-9a-f]{10}", name)
    assert await has_pgvector(pgvector_database_url)


def test_seaweedfs_round_trip(s3_server: S3Server, unique_name: str) -> None:
    client = s3_server.client()
    bucket = unique_name.replace("_", "-")
    data = os.urandom(5 * 1024 * 1024 + 3)  # above the 4 MB filer chunk size
    client.make_bucket(bucket)
    client.put_object(bucket, "a/b.bin", io.BytesIO(data), len(data))
    response = client.get_object(bucket, "a/b.bin")
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    client.remove_object(bucket, "a/b.bin")
    assert list(client.list_objects(bucket, recursive=True)) == []
    client.remove_bucket(bucket)
    assert not client.bucket_exists(bucket)


def test_seaweedfs_rejects_unknown_keys(s3_server: S3Server) -> None:
    from minio import Minio
    from minio.error import S3Error

    stranger = Minio(s3_server.endpoint, access_key="nobody", secret_key="wrong", secure=False)
    with pytest.raises(S3Error) as caught:
        stranger.list_buckets()
    assert caught.value.code == "InvalidAccessKeyId"
