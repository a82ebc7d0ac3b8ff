"""``ragbus reindex``: rebuild the tenant's index with another model, precision or
chunking while queries keep being answered, and follow it to the switch.

Calls ``/v1/admin/index`` with an admin key (the local stack's by default, see
:mod:`ragbus_tools.stack_file`): ``POST .../rebuild`` starts a new index version,
then ``GET /v1/admin/index`` is followed until it is active (exit 0) or ends
otherwise (aborted or failed: exit 1). ``--abort`` stops a rebuild; the active
version never changes. docs/retrieval.md, "Changing the model or chunking".
"""

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ragbus_tools.keys_cli import DataDirOpt, KeyOpt, UrlOpt, admin_call
from schemas import ChunkingStrategy

POLL_S = 0.5
"""Seconds between looks at the build's progress."""


class Precision(StrEnum):
    """How the model runs (``RAGBUS_EMBED_PRECISION``)."""

    FP32 = "fp32"
    INT8 = "int8"


def describe(index: dict[str, Any]) -> str:
    """One line naming an index version and what it is made of."""
    chunking = index.get("chunking") or "each document's own chunking"
    return (
        f"index {index['id']} {index['status']}: {index['model']} {index['precision']}, {chunking}"
    )


def progress_line(index: dict[str, Any]) -> str:
    """``index 7: 12/40 documents`` for a building version."""
    progress = index.get("progress") or {}
    return f"index {index['id']}: {progress.get('done', 0)}/{progress.get('total', 0)} documents"


def reindex(
    model: Annotated[
        str | None, typer.Option(help="Embedding model (default: the active one's).")
    ] = None,
    precision: Annotated[
        Precision | None, typer.Option(help="Model precision (default: the active one's).")
    ] = None,
    chunking: Annotated[
        ChunkingStrategy | None,
        typer.Option(help="Cut every document this way (default: each document's own)."),
    ] = None,
    abort: Annotated[bool, typer.Option("--abort", help="Stop the running rebuild.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Show the index versions.")] = False,
    follow: Annotated[bool, typer.Option(help="Follow the rebuild until it ends.")] = True,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Rebuild your tenant's index (another model, precision or chunking) without downtime.

    Queries keep using the active index; the new one is switched in when every
    document is indexed in it, and the old one is dropped after a grace period.
    """
    if abort:
        aborted = admin_call("POST", "/v1/admin/index/abort", url, api_key, data_dir)["index"]
        typer.echo(f"{describe(aborted)}; the active index is unchanged")
        return
    if status:
        for index in admin_call("GET", "/v1/admin/index", url, api_key, data_dir)["versions"]:
            typer.echo(describe(index))
        return
    body = {"model": model, "precision": precision, "chunking": chunking}
    started = admin_call("POST", "/v1/admin/index/rebuild", url, api_key, data_dir, json=body)[
        "index"
    ]
    typer.echo(describe(started))
    if follow:
        raise typer.Exit(follow_rebuild(started["id"], url, api_key, data_dir))


def follow_rebuild(index_id: int, url: str | None, api_key: str | None, data_dir: Path) -> int:
    """Print the build's progress as it changes until it ends; returns the exit code
    (0 switched in, 1 aborted or failed)."""
    shown = ""
    while True:
        versions = admin_call("GET", "/v1/admin/index", url, api_key, data_dir)["versions"]
        index = next(v for v in versions if v["id"] == index_id)
        line = progress_line(index) if index["status"] == "building" else describe(index)
        if line != shown:
            typer.echo(line)
            shown = line
        if index["status"] in ("active", "retired", "dropped"):
            typer.echo("queries now use it; the previous index is dropped after the grace period")
            return 0
        if index["status"] in ("aborted", "failed"):
            if index.get("error"):
                typer.echo(f"error: {index['error']}", err=True)
            return 1
        time.sleep(POLL_S)
