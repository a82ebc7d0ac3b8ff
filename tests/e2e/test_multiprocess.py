"""Each of the five services as its own OS process against one nats-server.

Qdrant local mode allows a single opener, so the processes share vectors through
pgvector (Postgres from pgserver). Blobs live in one local folder all can read.
"""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragbus_tools.client import RagbusClient
from tests.credentials import key_on
from tests.e2e.stack import free_port, wait_final, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

SERVICES = ("ingest_svc", "embed_svc", "retrieve_svc", "generate_svc", "gateway")


@pytest.fixture(scope="module")
def processes(
    nats_server_factory, pgvector_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, subprocess.Popen]]]:
    data_dir = tmp_path_factory.mktemp("multiprocess")
    nats_server = nats_server_factory(data_dir / "nats")
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": nats_server.url,
        "DATABASE_URL": pgvector_database_url,
        "RAGBUS_VECTOR_STORE": "pgvector",
        "RAGBUS_DATA_DIR": str(data_dir),
        "RAGBUS_GATEWAY_PORT": str(port),
    }
    procs = {}
    for name in SERVICES:
        log = (data_dir / f"{name}.log").open("wb")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", name], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield f"http://127.0.0.1:{port}", procs
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"{name} did not stop within 40 s of SIGTERM")


async def test_five_processes_answer_with_citations(
    processes, shared_dir: Path, pgvector_database_url: str
) -> None:
    url, procs = processes
    await wait_ready(url, timeout_s=180)
    corpus = shared_dir / "corpus"
    files = [
        corpus / "nodejs-api" / "child_process.md",
        corpus / "nodejs-api" / "os.md",
        corpus / "nodejs-api" / "path.md",
        corpus / "pdf" / "shared-mime-info-spec.pdf",
    ]
    tenant = f"mp-{uuid.uuid4().hex[:8]}"
    async with RagbusClient(url, await key_on(pgvector_database_url, tenant)) as client:
        uploaded = await asyncio.gather(*(client.upload(p) for p in files))
        docs = await wait_final(client, [d["id"] for d in uploaded], 600)
        assert {d["status"] for d in docs.values()} == {"indexed"}, docs
        answer = await client.query("How do I spawn a child process and read its output?")
        pdf = await client.query("Where are the shared MIME database XML files installed?")
    assert "child_process.md" in [c["filename"] for c in answer["citations"]]
    assert any(c["page"] for c in pdf["citations"] if c["filename"].endswith(".pdf")), pdf
    pids = {name: p.pid for name, p in procs.items()}
    assert len(set(pids.values())) == len(SERVICES)
    assert all(p.poll() is None for p in procs.values()), "a service process died"
