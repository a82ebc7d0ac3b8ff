"""``ragbus dlq``: list, show and replay dead letters (``RAGBUS_DLQ``)."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import nats
import typer

from ragbus.dead_letters import DeadLetterQueue, StoredDeadLetter
from ragbus_tools.stack_file import nats_connection

app = typer.Typer(help="Dead letters: messages ragbus gave up on.", no_args_is_help=True)
NatsOpt = Annotated[
    str | None,
    typer.Option("--nats-url", envvar="NATS_URL", help="NATS server (default: the stack's)."),
]
DataDirOpt = Annotated[
    Path, typer.Option(envvar="RAGBUS_DATA_DIR", help="Where `ragbus up` keeps its state.")
]
T = TypeVar("T")


def _run(
    nats_url: str | None, data_dir: Path, action: Callable[[DeadLetterQueue], Awaitable[T]]
) -> T:
    """Run ``action`` on the dead-letter queue, connected as ``ragbus-admin``
    (:func:`ragbus_tools.stack_file.nats_connection`)."""
    url, auth = nats_connection(data_dir, nats_url)

    async def main() -> T:
        nc = await nats.connect(
            url,
            name="ragbus-dlq",
            connect_timeout=5,
            max_reconnect_attempts=1,  # NATS down: one line from the CLI, not retries
            reconnect_time_wait=0.5,
            error_cb=_quiet,
            **auth,  # type: ignore[arg-type]
        )
        try:
            return await action(DeadLetterQueue(nc.jetstream()))
        finally:
            await nc.close()

    return asyncio.run(main())


async def _quiet(exc: Exception) -> None:
    """nats-py logs each failed connect with a traceback; the CLI reports it once."""


def _line(entry: StoredDeadLetter) -> str:
    d = entry.letter
    return (
        f"{entry.id:>6}  {d.occurred_at:%Y-%m-%d %H:%M:%S}  {d.original_subject:<20}"
        f"  {d.reason.value:<17}  {d.error_code:<18}  x{d.deliveries:<3}"
        f"  {d.consumer:<16}  {d.tenant_id or '-'}"
    )


@app.command("list")
def list_(
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    nats_url: NatsOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """One line per dead letter, oldest first: id, time, subject, reason, code, deliveries."""
    entries = _run(nats_url, data_dir, lambda q: q.entries(limit=limit))
    typer.echo(
        f"{'id':>6}  {'dead-lettered (UTC)':<19}  {'subject':<20}  {'reason':<17}"
        f"  {'code':<18}  {'del':<4}  {'consumer':<16}  tenant"
    )
    for entry in entries:
        typer.echo(_line(entry))
    typer.echo(f"{len(entries)} dead letter(s)", err=True)


@app.command()
def show(
    entry_id: Annotated[int, typer.Argument(metavar="ID", help="Id from `ragbus dlq list`.")],
    nats_url: NatsOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Everything about one dead letter; the payload as text when it is UTF-8."""
    try:
        entry = _run(nats_url, data_dir, lambda q: q.get(entry_id))
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    shown = entry.letter.model_dump(mode="json", exclude={"data"})
    try:
        shown["data"] = entry.letter.data.decode("utf-8")
    except UnicodeDecodeError:
        shown["data_base64"] = entry.letter.model_dump(mode="json")["data"]
    typer.echo(json.dumps({"id": entry.id, **shown}, indent=2))


@app.command()
def replay(
    entry_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Id from `ragbus dlq list`.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    nats_url: NatsOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Publish a dead letter (or all) to its original subject again, then remove it."""
    if (entry_id is None) == (not all_):
        typer.echo("error: give an ID or --all (not both)", err=True)
        raise typer.Exit(2)
    if all_:
        replayed = _run(nats_url, data_dir, lambda q: q.replay_all())
        typer.echo(f"replayed {len(replayed)} dead letter(s)")
        return
    assert entry_id is not None
    try:
        seq = _run(nats_url, data_dir, lambda q: q.replay(entry_id))
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"replayed {entry_id}: published again as stream sequence {seq}")
