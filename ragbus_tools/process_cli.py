"""The CLI of process mode (``ragbus up --processes``) and ``ragbus status`` (any stack)."""

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer


def up_processes(
    host: str, port: int, data_dir: Path, replicas: str, cluster: int, tenant: str
) -> None:
    """``ragbus up --processes``: see :mod:`ragbus_tools.process_stack`."""
    from ragbus.settings import InfraSettings
    from ragbus_tools.process_stack import MODULES, ProcessPlan, run_processes
    from ragbus_tools.stack import PortTakenError
    from ragbus_tools.supervisor import parse_replicas

    try:
        counts = parse_replicas(replicas, list(MODULES))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--replicas") from None
    plan = ProcessPlan(counts, cluster=cluster, host=host, port=port, tenant=tenant)
    try:
        asyncio.run(run_processes(InfraSettings(data_dir=data_dir), plan))
    except PortTakenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None


def status(
    data_dir: Annotated[
        Path, typer.Option(envvar="RAGBUS_DATA_DIR", help="Where the stack keeps its state.")
    ] = Path(".ragbus"),
    url: Annotated[
        str | None, typer.Option(envvar="RAGBUS_URL", help="Gateway URL (default: the stack's).")
    ] = None,
    nats_url: Annotated[
        str | None, typer.Option("--nats-url", help="NATS server (default: the stack's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """The running stack: its URLs, each stage's backlog, dead letters and, in process
    mode, every replica (pid, state, ready, restarts, memory).

    Exits 0 when the gateway and every replica are ready, 1 when one is not, 5 when
    no stack answers (see the README's exit codes).
    """
    import httpx

    from ragbus_tools.process_status import PROCESSES_FILE, read_status, status_lines
    from ragbus_tools.stack_file import nats_connection
    from ragbus_tools.stack_status import backlogs, gateway_ready, where
    from ragbus_tools.stack_status import status_lines as stack_lines

    current = where(data_dir, url, nats_url)
    _, auth = nats_connection(data_dir, current["nats"])  # as ragbus-admin
    current.update(asyncio.run(backlogs(current["nats"], auth=auth)))
    ready = gateway_ready(current["gateway"])
    current["gateway_ready"] = ready["ready"]
    processes = None
    if (data_dir / PROCESSES_FILE).exists():
        with contextlib.suppress(OSError, ValueError, httpx.HTTPError):  # left by an old run
            processes = current["processes"] = read_status(data_dir)
    if as_json:
        typer.echo(json.dumps(current, indent=2))
    else:
        lines = stack_lines(current) + (status_lines(processes) if processes else [])
        typer.echo("\n".join(lines))
    all_ready = current["gateway_ready"] and (processes is None or processes["ready"])
    raise typer.Exit(0 if all_ready else 1)
