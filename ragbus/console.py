"""Terminal front-ends of ``ragbus ingest`` and ``ragbus ask`` (rich progress and output)."""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragbus.client import FINAL_STATUSES, RagbusClient, collect_files

POLL_S = 0.5


@dataclass
class Outcome:
    """What happened to one file."""

    path: Path
    status: str
    document_id: str | None = None
    chunks: int = 0
    error: str | None = None


def _http_error(exc: httpx.HTTPStatusError) -> str:
    try:
        detail = exc.response.json().get("detail")
    except ValueError:
        detail = exc.response.text
    return f"HTTP {exc.response.status_code}: {detail}"


async def run_ingest(
    url: str,
    tenant: str,
    paths: list[Path],
    *,
    concurrency: int = 4,
    wait: bool = True,
    timeout_s: float = 3600.0,
    console: Console | None = None,
) -> int:
    """Upload every supported file under ``paths``, follow them to a final status.

    Returns:
        The number of files that failed.
    """
    console = console or Console(stderr=True)
    files = collect_files(paths)
    outcomes: dict[Path, Outcome] = {}
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    async with RagbusClient(url, tenant) as client:
        with Progress(*columns, console=console) as progress:
            uploads = progress.add_task("upload", total=len(files), note="")
            indexing = progress.add_task("index", total=len(files), note="", visible=wait)
            sem = asyncio.Semaphore(concurrency)

            async def upload(path: Path) -> None:
                async with sem:
                    try:
                        doc = await client.upload(path)
                    except httpx.HTTPStatusError as exc:
                        outcomes[path] = Outcome(path, "rejected", error=_http_error(exc))
                    else:
                        status = "duplicate" if doc.get("duplicate") else doc["status"]
                        outcomes[path] = Outcome(path, status, document_id=doc["id"])
                progress.advance(uploads)

            await asyncio.gather(*(upload(p) for p in files))
            if wait:
                await _follow(client, outcomes, progress, indexing, timeout_s)
    _summary(console, outcomes, time.perf_counter() - started)
    return sum(o.status in ("failed", "rejected", "timeout") for o in outcomes.values())


async def _follow(
    client: RagbusClient,
    outcomes: dict[Path, Outcome],
    progress: Progress,
    task: object,
    timeout_s: float,
) -> None:
    deadline = time.monotonic() + timeout_s
    pending = {p for p, o in outcomes.items() if o.status not in (*FINAL_STATUSES, "rejected")}
    progress.update(task, completed=len(outcomes) - len(pending))  # type: ignore[arg-type]
    while pending and time.monotonic() < deadline:
        done = total = 0
        for path in list(pending):
            outcome = outcomes[path]
            doc = await client.document(outcome.document_id or "")
            outcome.status, outcome.error = doc["status"], doc.get("error")
            outcome.chunks = doc.get("chunks") or 0
            done += doc["progress"]["done"]
            total += doc["progress"]["total"]
            if outcome.status in FINAL_STATUSES:
                pending.discard(path)
        progress.update(
            task,  # type: ignore[arg-type]
            completed=len(outcomes) - len(pending),
            note=f"chunks {done}/{total} in flight",
        )
        if pending:
            await asyncio.sleep(POLL_S)
    for path in pending:
        outcomes[path].status = "timeout"


def _summary(console: Console, outcomes: dict[Path, Outcome], elapsed_s: float) -> None:
    counts = Counter(o.status for o in outcomes.values())
    chunks = sum(o.chunks for o in outcomes.values())
    console.print(
        f"[bold]{len(outcomes)} files in {elapsed_s:.1f} s:[/bold] "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f"; {chunks} chunks"
    )
    bad = [o for o in outcomes.values() if o.error or o.status in ("rejected", "timeout")]
    if bad:
        table = Table("file", "status", "reason")
        for o in bad:
            table.add_row(str(o.path), o.status, o.error or "")
        console.print(table)


async def run_ask(
    url: str, tenant: str, question: str, *, top_k: int = 5, console: Console | None = None
) -> bool:
    """Stream the answer to stdout, then its citations; returns whether it was found."""
    console = console or Console()
    found = False
    async with RagbusClient(url, tenant) as client:
        async for event, data in client.query_stream(question, top_k=top_k):
            if event == "delta":
                console.print(data["text"], end="", markup=False, highlight=False)
            elif event == "citations":
                console.print()
                for c in data:
                    where = f"p. {c['page']}" if c.get("page") else (c.get("heading") or "")
                    console.print(
                        f"  [{c['n']}] {c['filename']}  {where}  (score {c['score']:.2f})",
                        markup=False,
                        highlight=False,
                    )
            elif event == "done":
                found = bool(data.get("found"))
                t = data["timings"]
                console.print(
                    f"retrieve {t['retrieve_ms'] or 0:.0f} ms, generate "
                    f"{t['generate_ms'] or 0:.0f} ms, total {t['total_ms']:.0f} ms",
                    style="dim",
                )
            elif event == "error":
                console.print(f"error: {data}", style="red")
    return found
