"""Service processes of a fault test: started, killed and scraped one by one.

Every process serves its Prometheus metrics on its own port
(``RAGBUS_METRICS_PORT``), so a test can tell which replica did what.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.stack import free_port


@dataclass
class Cluster:
    """Processes named ``<module>#<replica>``, sharing one environment.

    Attributes:
        url: The gateway's base URL.
        env: Environment of every process (NATS_URL, DATABASE_URL, settings).
        data_dir: Logs and local state.
    """

    url: str
    env: dict[str, str]
    data_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, module: str, replica: int = 0) -> str:
        """Start ``python -m module`` as replica ``replica``; returns its name."""
        name = f"{module}#{replica}"
        port = free_port()
        log = (self.data_dir / f"{module}-{replica}-{len(self.logs)}.log").open("wb")
        self.logs.append(log)
        env = {**self.env, "RAGBUS_METRICS_PORT": str(port)}
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.metrics_ports[name] = port
        return name

    def kill(self, name: str) -> None:
        """SIGKILL the process, as a crash or the OOM killer would."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    async def metrics(self, name: str) -> dict[tuple[str, frozenset], float]:
        """The process's samples: ``(sample name, labels) -> value``."""
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"http://127.0.0.1:{self.metrics_ports[name]}/")).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    async def acked(self, name: str, consumer: Callable[[str], bool]) -> float:
        """Messages the process acked for the durables ``consumer`` selects."""
        return sum(
            value
            for (sample, labels), value in (await self.metrics(name)).items()
            if sample == "ragbus_messages_total"
            and dict(labels)["outcome"] == "ack"
            and consumer(dict(labels)["consumer"])
        )

    def stop_all(self) -> None:
        """SIGTERM every process (they drain), SIGKILL what is left after 40 s."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


def cluster_env(nats_url: str, database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The environment of a multi-process stack sharing vectors through pgvector."""
    return {
        **os.environ,
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "RAGBUS_VECTOR_STORE": "pgvector",
        "RAGBUS_DATA_DIR": str(data_dir),
        "RAGBUS_GATEWAY_PORT": str(port),
        # the tests poll hundreds of documents; quotas have their own tests
        "RAGBUS_QUOTA_ENABLED": "false",
    }
