"""The process supervisor with real child processes: restart, backoff, health, drain.

The children are small Python programs standing in for a service (the real
services under the supervisor are tests/e2e/test_cluster_faults.py's).
"""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ragbus.health import Health, nats_connected, serve_health
from ragbus.metrics import MetricsSettings
from ragbus_tools.servers import free_port
from ragbus_tools.supervisor import Backoff, ReplicaSpec, Supervisor, parse_replicas

pytestmark = pytest.mark.integration

FAST = Backoff(initial_s=0.1, factor=2.0, max_s=0.4, reset_after_s=60)
SLEEPER = "import time; time.sleep(120)"
DRAINS = (
    "import signal, sys, time\n"
    "def stop(*_):\n"
    "    open(sys.argv[1] + '.drained', 'w').close()\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "open(sys.argv[1] + '.listening', 'w').close()\n"
    "time.sleep(120)\n"
)
DEAF = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open(sys.argv[1] + '.listening', 'w').close()\n"
    "time.sleep(120)\n"
)


def spec(
    tmp_path: Path, name: str, code: str, *args: str, health: str | None = None
) -> ReplicaSpec:
    argv = [sys.executable, "-c", code, *args]
    return ReplicaSpec(name, argv, dict(os.environ), health, tmp_path / f"{name}.log")


async def until(predicate, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def supervisors() -> AsyncIterator[list[Supervisor]]:
    started: list[Supervisor] = []
    yield started
    for supervisor in started:
        await supervisor.stop(grace_s=2)


def test_backoff_doubles_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.5, factor=2.0, max_s=30.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4, 7, 20)] == [0.5, 1.0, 2.0, 4.0, 30.0, 30.0]


def test_replicas_are_parsed_with_one_of_each_by_default() -> None:
    services = ("gateway", "ingest", "embed")
    assert parse_replicas("embed=2, ingest=3", services) == {"gateway": 1, "ingest": 3, "embed": 2}
    assert parse_replicas("", services) == dict.fromkeys(services, 1)
    for bad in ("embedd=2", "embed=0", "embed=x"):
        with pytest.raises(ValueError):
            parse_replicas(bad, services)


async def test_a_killed_replica_is_started_again(tmp_path: Path, supervisors) -> None:
    supervisor = Supervisor([spec(tmp_path, "worker#0", SLEEPER)], backoff=FAST)
    supervisors.append(supervisor)
    await supervisor.start()
    state = supervisor.replicas["worker#0"].state
    await until(lambda: state.ready)  # no health URL: a live pid is ready
    first = state.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await until(lambda: state.pid not in (None, first) and state.ready)
    assert (state.restarts, state.last_exit) == (1, -signal.SIGKILL)


async def test_a_replica_that_keeps_crashing_keeps_being_restarted(
    tmp_path: Path, supervisors
) -> None:
    supervisor = Supervisor([spec(tmp_path, "bad#0", "import sys; sys.exit(3)")], backoff=FAST)
    supervisors.append(supervisor)
    await supervisor.start()
    state = supervisor.replicas["bad#0"].state
    await until(lambda: state.restarts >= 4)
    assert state.last_exit == 3 and state.crashes_in_a_row >= 4
    assert state.state in ("backoff", "starting")


async def test_readiness_comes_from_the_health_url(tmp_path: Path, supervisors) -> None:
    port = free_port()
    server = (
        "import http.server as h\n"
        f"h.HTTPServer(('127.0.0.1', {port}), h.SimpleHTTPRequestHandler).serve_forever()"
    )
    good = spec(tmp_path, "web#0", server, health=f"http://127.0.0.1:{port}/")
    silent = spec(tmp_path, "mute#0", SLEEPER, health=f"http://127.0.0.1:{free_port()}/readyz")
    supervisor = Supervisor([good, silent], backoff=FAST, probe_s=0.2)
    supervisors.append(supervisor)
    await supervisor.start()
    await until(lambda: supervisor.replicas["web#0"].state.ready)
    mute = supervisor.replicas["mute#0"].state
    assert mute.pid is not None and not mute.ready and mute.state == "starting"
    assert not supervisor.all_ready()


async def test_stop_drains_with_sigterm_and_kills_what_ignores_it(tmp_path: Path) -> None:
    drains, deaf = tmp_path / "drains", tmp_path / "deaf"
    supervisor = Supervisor(
        [
            spec(tmp_path, "drains#0", DRAINS, str(drains)),
            spec(tmp_path, "deaf#0", DEAF, str(deaf)),
        ],
        backoff=FAST,
    )
    await supervisor.start()
    # until both have set up their SIGTERM handling
    await until(lambda: all(os.path.exists(f"{p}.listening") for p in (drains, deaf)))
    codes = await supervisor.stop(grace_s=2)
    assert codes == {"drains#0": 0, "deaf#0": -signal.SIGKILL}
    assert os.path.exists(f"{drains}.drained")  # noqa: ASYNC240 (a stat, once)
    assert {r["state"] for r in supervisor.status()} == {"stopped"}


async def test_a_worker_reports_live_ready_and_draining() -> None:
    port = free_port()
    health = Health()
    serve_health(health, MetricsSettings(port=port, host="127.0.0.1"))
    connected = True
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503  # not started
        health.started(lambda: connected)
        assert (await http.get("/readyz")).status_code == 200
        connected = False  # NATS gone: not ready, still live
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200
        connected = True
        health.draining()
        assert (await http.get("/readyz")).status_code == 503
        assert "python_info" in (await http.get("/metrics")).text
    assert nats_connected(object())() is False
