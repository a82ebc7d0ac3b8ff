"""The CLI of process mode: ``ragbus up --processes`` and ``ragbus status``."""

import asyncio
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON as served.")] = False,
) -> None:
    """Each replica of `ragbus up --processes`: pid, state, ready, restarts, memory.

    Exits 1 unless every replica is ready, 2 when no such stack runs in DATA_DIR.
    """
    import httpx

    from ragbus_tools.process_status import read_status, status_lines

    try:
        current = read_status(data_dir)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        typer.echo(f"no process-mode stack answers in {data_dir}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(current, indent=2) if as_json else "\n".join(status_lines(current)))
    raise typer.Exit(0 if current["ready"] else 1)
