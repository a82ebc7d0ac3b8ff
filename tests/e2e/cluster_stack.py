"""A process-mode stack on a 3-node JetStream cluster, driven over HTTP, for fault tests.

The test owns the cluster (:func:`~ragbus_tools.servers.nats_cluster.start_nats_cluster`,
the helper ``ragbus up --cluster`` uses) and Postgres, so it can kill and restart
nodes when it chooses; the services run under ``ragbus up --processes`` (the real
CLI and supervisor), pointed at all three nodes with R3 streams.
"""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ragbus_tools.process_status import PROCESSES_FILE, status_lines
from ragbus_tools.servers.nats_cluster import NatsCluster
from ragbus_tools.servers.ports import free_port

FINAL = ("indexed", "failed", "deleted")


def consecutive_free_ports(count: int) -> int:
    """A port ``p`` such that ``p .. p + count - 1`` are all free now."""
    while True:
        first = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for port in range(first, first + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


@dataclass
class ProcessStack:
    """``ragbus up --processes`` as a child process, and how to reach it."""

    proc: subprocess.Popen
    data_dir: Path
    gateways: list[str]

    def status(self) -> dict[str, Any]:
        """The supervisor's ``/status`` (what ``ragbus status --json`` prints)."""
        record = json.loads((self.data_dir / PROCESSES_FILE).read_text())
        return dict(httpx.get(f"{record['status_url']}/status", timeout=5).json())

    def replica(self, name: str) -> dict[str, Any]:
        """One replica's entry in the status."""
        return next(r for r in self.status()["replicas"] if r["name"] == name)

    def table(self) -> str:
        """``ragbus status`` as printed for people."""
        return "\n".join(status_lines(self.status()))

    def kill(self, name: str) -> int:
        """SIGKILL replica ``name``; returns the pid killed."""
        pid = int(self.replica(name)["pid"])
        os.kill(pid, signal.SIGKILL)
        return pid

    async def wait_all_ready(self, timeout_s: float) -> None:
        """Until the supervisor reports every replica ready (bounded)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            with contextlib.suppress(OSError, ValueError, httpx.HTTPError):
                if self.status()["ready"]:
                    return
            assert self.proc.poll() is None, f"ragbus up exited with {self.proc.returncode}"
            assert asyncio.get_running_loop().time() < deadline, "replicas not ready in time"
            await asyncio.sleep(0.5)

    async def wait_back(self, name: str, old_pid: int, timeout_s: float) -> float:
        """Seconds from now until replica ``name`` runs again under a new pid, ready."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            r = self.replica(name)
            if r["pid"] not in (None, old_pid) and r["ready"]:
                return loop.time() - start
            assert loop.time() - start < timeout_s, f"{name} not back after {timeout_s} s: {r}"
            await asyncio.sleep(0.2)

    def stop(self, timeout_s: float = 90.0) -> int:
        """SIGTERM ``ragbus up`` (every replica drains); its exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def start_process_stack(
    data_dir: Path,
    nats: NatsCluster,
    database_url: str,
    replicas: str,
    gateways: int,
    settings: dict[str, str],
) -> ProcessStack:
    """Run ``ragbus up --processes --replicas ...`` against ``nats`` and Postgres."""
    port = consecutive_free_ports(gateways)
    env = {
        **os.environ,
        **settings,
        "NATS_URL": ",".join(nats.urls),
        # each replica connects as its own identity (ragbus up hands out the passwords)
        "RAGBUS_NATS_CREDENTIALS": str(nats.credentials.path) if nats.credentials else "",
        "DATABASE_URL": database_url,
        "RAGBUS_JETSTREAM_REPLICAS": "3",
        # X-Tenant-ID is trusted here; authentication has its own tests.
        "RAGBUS_AUTH_MODE": "trusted-headers",
        "RAGBUS_QUOTA_ENABLED": "false",
    }
    argv = [sys.executable, "-c", "from ragbus_tools.cli import main; main()", "up"]
    argv += ["--processes"]
    argv += ["--replicas", f"{replicas},gateway={gateways}", "--port", str(port)]
    argv += ["--data-dir", str(data_dir)]
    log = (data_dir / "ragbus-up.log").open("ab")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    urls = [f"http://127.0.0.1:{port + i}" for i in range(gateways)]
    return ProcessStack(proc, data_dir, urls)


class Uploader:
    """Uploads documents as a client should: a refused one (503, a dropped
    connection) is sent again, to the next gateway, until one answers 202.

    Attributes:
        acknowledged: Document id -> (file name, bytes) of every upload answered 202.
        refused: Answers other than 202 seen on the way, retried.
    """

    def __init__(self, gateways: list[str], tenant: str) -> None:
        self.gateways = gateways
        self.headers = {"X-Tenant-ID": tenant}
        self.acknowledged: dict[str, tuple[str, bytes]] = {}
        self.refused = 0
        self._turn = 0

    async def upload(self, http: httpx.AsyncClient, filename: str, text: str) -> str:
        """Upload until acknowledged (bounded); returns the document id."""
        deadline = asyncio.get_running_loop().time() + 180
        while True:
            url = self.gateways[self._turn % len(self.gateways)]
            self._turn += 1
            try:
                reply = await http.post(
                    f"{url}/v1/documents",
                    json={"filename": filename, "text": text},
                    headers=self.headers,
                )
                if reply.status_code == 202:
                    doc_id = str(reply.json()["documents"][0]["id"])
                    self.acknowledged[doc_id] = (filename, text.encode())
                    return doc_id
            except httpx.HTTPError:
                pass
            self.refused += 1
            assert asyncio.get_running_loop().time() < deadline, f"{filename} never accepted"
            await asyncio.sleep(0.5)


async def document(
    http: httpx.AsyncClient, gateways: list[str], headers: dict[str, str], doc_id: str
) -> dict[str, Any]:
    """``GET /v1/documents/{id}`` from the first gateway that answers."""
    for url in gateways:
        with contextlib.suppress(httpx.HTTPError):
            reply = await http.get(f"{url}/v1/documents/{doc_id}", headers=headers)
            if reply.status_code == 200:
                return dict(reply.json())
    raise AssertionError(f"no gateway answered for {doc_id}")


async def wait_final(
    http: httpx.AsyncClient,
    gateways: list[str],
    headers: dict[str, str],
    ids: list[str],
    timeout_s: float,
) -> dict[str, dict[str, Any]]:
    """Every document's last JSON once all are final (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    docs: dict[str, dict[str, Any]] = {}
    pending = set(ids)
    while pending:
        for doc_id in list(pending):
            with contextlib.suppress(AssertionError):
                docs[doc_id] = await document(http, gateways, headers, doc_id)
                if docs[doc_id]["status"] in FINAL:
                    pending.discard(doc_id)
        if pending:
            assert asyncio.get_running_loop().time() < deadline, f"not final: {len(pending)}"
            await asyncio.sleep(0.5)
    return docs
