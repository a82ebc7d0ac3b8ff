"""The status of a process-mode stack: served by it, read by ``ragbus status``.

``GET /status`` answers JSON: every replica (name, pid, state, ready, restarts,
last exit code, uptime, memory) and, in a cluster, every nats-server node.
``GET /readyz`` answers the same with 200 when every replica is ready and 503
otherwise. It listens on loopback only, on a free port recorded in
``<data dir>/processes.json``.
"""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from ragbus_tools.servers.nats_cluster import NatsCluster
from ragbus_tools.supervisor import Supervisor, rss_mib

PROCESSES_FILE = "processes.json"


def snapshot(supervisor: Supervisor, cluster: NatsCluster | None) -> dict[str, Any]:
    """The stack's status as a JSON-ready dict."""
    nodes = [
        {
            "name": node.server_name,
            "url": node.url,
            "pid": node.pid,
            "monitor_port": node.http_port,
            "rss_mib": rss_mib(node.pid),
        }
        for node in (cluster.nodes if cluster else [])
    ]
    return {"ready": supervisor.all_ready(), "replicas": supervisor.status(), "nats": nodes}


async def serve_status(supervisor: Supervisor, cluster: NatsCluster | None) -> asyncio.Server:
    """Serve ``/status`` and ``/readyz`` on a free loopback port (HTTP/1.0, one reply)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request.split()
            path = parts[1].decode(errors="replace") if len(parts) > 1 else ""
            body = snapshot(supervisor, cluster)
            code = 200
            if path == "/readyz" and not body["ready"]:
                code = 503
            elif path not in ("/status", "/readyz"):
                code, body = 404, {"error": "not found"}
            data = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            head = f"HTTP/1.0 {code} {reason}\r\nContent-Type: application/json\r\n"
            writer.write(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def read_status(data_dir: Path, timeout_s: float = 5.0) -> dict[str, Any]:
    """Ask the process-mode stack under ``data_dir`` for its status.

    Raises:
        FileNotFoundError: No process-mode stack runs there.
        httpx.HTTPError: It did not answer.
    """
    record = json.loads((data_dir / PROCESSES_FILE).read_text())
    reply = httpx.get(f"{record['status_url']}/status", timeout=timeout_s)
    reply.raise_for_status()
    return dict(reply.json())


def status_lines(status: dict[str, Any]) -> list[str]:
    """A table of the replicas and nodes, for people."""
    lines = [f"{'replica':<12} {'pid':>7} {'state':<9} {'ready':<5} {'restarts':>8} {'MiB':>7}"]
    for r in status["replicas"]:
        ready = "yes" if r["ready"] else "no"
        lines.append(
            f"{r['name']:<12} {r['pid'] or '-':>7} {r['state']:<9} {ready:<5}"
            f" {r['restarts']:>8} {r['rss_mib'] or '-':>7}"
        )
    for n in status["nats"]:
        up = "running" if n["pid"] else "down"
        lines.append(f"{n['name']:<22} {n['pid'] or '-':>7} {up:<9} {n['url']}")
    lines.append("all replicas ready" if status["ready"] else "NOT all replicas ready")
    return lines
