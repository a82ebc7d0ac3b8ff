"""Supervised replicas: each one an OS process, restarted with backoff when it dies.

The worker pool of process mode (``ragbus up --processes``). NATS spreads the work:
replicas of a service bind one durable consumer (or queue group) and split it, so
the supervisor only keeps the processes alive and reports on them:

- a replica that exits while the supervisor is not stopping is started again after
  a backoff (0.5 s doubling to 30 s; back to 0.5 s once it has run a minute);
- each replica's ``/readyz`` is probed every second, and :meth:`Supervisor.status`
  reports pid, state, readiness, restarts, last exit code and memory;
- :meth:`Supervisor.stop` sends every replica SIGTERM at once (they drain: see
  :func:`ragbus.runtime.run_services`) and SIGKILLs what is left after the grace.

It is plain asyncio child-process management, not a supervisor library: the
candidates (supervisord, circus) run as daemons with their own configuration and
control sockets, cannot share the stack's embedded servers and settings, and give
no health probe; what is needed here is one loop per replica and a probe.
Children get SIGKILL if the supervisor itself dies (Linux parent-death signal).
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ragbus_tools.servers.process import pdeathsig_hook

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between restarts of a replica that keeps dying.

    Attributes:
        initial_s: Delay before the first restart.
        factor: Each further restart in a row waits this many times longer.
        max_s: Longest delay.
        reset_after_s: A replica that ran this long starts over at ``initial_s``.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        """Seconds to wait before restarting after the ``crashes_in_a_row``-th crash."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, crashes_in_a_row - 1))


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """How to run one replica.

    Attributes:
        name: ``<service>#<index>``.
        argv: Command line.
        env: Its whole environment.
        health_url: Its readiness URL (``/readyz``), or ``None`` to trust a live pid.
        log_path: File receiving its stdout and stderr (appended).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    health_url: str | None
    log_path: Path


@dataclass
class ReplicaState:
    """What the supervisor knows of a replica now."""

    pid: int | None = None
    state: str = "starting"  # starting | running | backoff | stopping | stopped
    ready: bool = False
    restarts: int = 0
    last_exit: int | None = None
    started_at: float | None = None
    crashes_in_a_row: int = 0


@dataclass
class Replica:
    """A replica's spec, its state and its current process."""

    spec: ReplicaSpec
    state: ReplicaState = field(default_factory=ReplicaState)
    proc: asyncio.subprocess.Process | None = None


def rss_mib(pid: int | None) -> float | None:
    """Resident memory of ``pid`` in MiB (Linux), or ``None``."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


class Supervisor:
    """Runs replicas, restarts those that die, probes their health."""

    def __init__(
        self, specs: Sequence[ReplicaSpec], *, backoff: Backoff | None = None, probe_s: float = 1.0
    ) -> None:
        self.replicas = {spec.name: Replica(spec) for spec in specs}
        self.backoff = backoff or Backoff()
        self.probe_s = probe_s
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start every replica, each kept alive by its own task, and the prober."""
        for replica in self.replicas.values():
            self._tasks.append(asyncio.create_task(self._keep_alive(replica)))
        self._tasks.append(asyncio.create_task(self._probe_forever()))

    def status(self) -> list[dict[str, Any]]:
        """Every replica: name, pid, state, ready, restarts, last exit, uptime, memory."""
        now = time.monotonic()
        return [
            {
                "name": name,
                "pid": r.state.pid,
                "state": r.state.state,
                "ready": r.state.ready,
                "restarts": r.state.restarts,
                "last_exit": r.state.last_exit,
                "uptime_s": round(now - r.state.started_at, 1) if r.state.started_at else None,
                "rss_mib": rss_mib(r.state.pid),
            }
            for name, r in self.replicas.items()
        ]

    def all_ready(self) -> bool:
        """Whether every replica runs and answers ready."""
        return all(r.state.ready for r in self.replicas.values())

    async def stop(self, grace_s: float = 40.0) -> dict[str, int | None]:
        """SIGTERM every replica at once, SIGKILL any still running after ``grace_s``.

        Returns:
            Each replica's exit code (negative: the signal that ended it).
        """
        self._stopping.set()
        codes = await asyncio.gather(*(self._terminate(r, grace_s) for r in self.replicas.values()))
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return dict(zip(self.replicas, codes, strict=True))

    async def _spawn(self, replica: Replica) -> asyncio.subprocess.Process:
        spec = replica.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as out:
            return await asyncio.create_subprocess_exec(
                *spec.argv,
                env=dict(spec.env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=pdeathsig_hook(),
            )

    async def _keep_alive(self, replica: Replica) -> None:
        state = replica.state
        while not self._stopping.is_set():
            state.state, state.ready = "starting", False
            replica.proc = await self._spawn(replica)
            state.pid, state.started_at = replica.proc.pid, time.monotonic()
            log.info("replica started", extra={"replica": replica.spec.name, "pid": state.pid})
            code = await replica.proc.wait()
            ran_s = time.monotonic() - state.started_at
            state.pid, state.ready, state.last_exit = None, False, code
            if self._stopping.is_set():
                break
            state.crashes_in_a_row = (
                1 if ran_s >= self.backoff.reset_after_s else (state.crashes_in_a_row + 1)
            )
            delay = self.backoff.delay(state.crashes_in_a_row)
            log.warning(
                "replica exited; restarting",
                extra={"replica": replica.spec.name, "code": code, "in_s": delay},
            )
            state.state, state.restarts = "backoff", state.restarts + 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        state.state = "stopped"

    async def _terminate(self, replica: Replica, grace_s: float) -> int | None:
        proc = replica.proc
        if proc is None or proc.returncode is not None:
            replica.state.state = "stopped"
            return proc.returncode if proc else None
        replica.state.state, replica.state.ready = "stopping", False
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            log.warning(
                "replica did not drain in time; killed", extra={"replica": replica.spec.name}
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            return await proc.wait()

    async def _probe_forever(self) -> None:
        async with httpx.AsyncClient(timeout=self.probe_s) as http:
            while True:
                await asyncio.gather(*(self._probe(http, r) for r in self.replicas.values()))
                await asyncio.sleep(self.probe_s)

    async def _probe(self, http: httpx.AsyncClient, replica: Replica) -> None:
        state = replica.state
        pid = state.pid
        if pid is None or state.state == "stopping":
            return
        ready = replica.spec.health_url is None
        if not ready:
            with contextlib.suppress(httpx.HTTPError):
                assert replica.spec.health_url is not None
                ready = (await http.get(replica.spec.health_url)).status_code == 200
        # Only for the process probed: it may have died and been replaced meanwhile.
        if state.pid == pid and state.state != "stopping":
            state.ready = ready
            state.state = "running" if ready else "starting"


def parse_replicas(text: str, services: Sequence[str]) -> dict[str, int]:
    """``"embed=2,ingest=2"`` -> a count for every service (1 where not named).

    Raises:
        ValueError: An unknown service, or a count that is not a positive integer.
    """
    counts = dict.fromkeys(services, 1)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if name not in counts:
            raise ValueError(f"unknown service {name!r}; choose from {', '.join(services)}")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"replicas of {name} must be a positive integer, got {count!r}")
        counts[name] = int(count)
    return counts
