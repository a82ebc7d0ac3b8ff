"""Terminal front-ends of ``ragbus ingest`` and ``ragbus ask`` (rich progress and output)."""

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ragbus_tools.beir import BeirDocument, is_beir_corpus, read_corpus
from ragbus_tools.client import FINAL_STATUSES, RagbusClient, collect_files
from ragbus_tools.follow import MAX_STREAMS, DocumentFollower, DocumentOutcome

SETTLED = (*FINAL_STATUSES, "duplicate", "rejected")
"""Outcomes that need no following: final, or never became a new document."""
FAILED = ("failed", "rejected", "timeout")
MAX_REASONS = 50


@dataclass
class IngestSummary:
    """What ``ragbus ingest`` did: one outcome per file or corpus line."""

    outcomes: list[DocumentOutcome]
    elapsed_s: float

    @property
    def counts(self) -> Counter[str]:
        """How many outcomes ended in each status."""
        return Counter(o.status for o in self.outcomes)

    @property
    def chunks(self) -> int:
        """Chunks of the documents indexed by this run."""
        return sum(o.total for o in self.outcomes if o.status == "indexed")

    @property
    def failed(self) -> int:
        """Outcomes that failed, were rejected by the gateway or timed out."""
        return sum(o.status in FAILED for o in self.outcomes)


@dataclass(frozen=True)
class _Item:
    label: str
    path: Path | None = None
    beir: BeirDocument | None = None

    async def upload(self, client: RagbusClient) -> dict[str, Any]:
        if self.beir is not None:
            doc = self.beir
            return await client.upload_bytes(doc.filename, doc.content.encode(), doc.metadata)
        assert self.path is not None
        return await client.upload(self.path)


def _items(
    paths: list[Path], include: Sequence[str], exclude: Sequence[str], limit: int | None
) -> list[_Item]:
    corpora = [p for p in paths if is_beir_corpus(p)]
    rest = [p for p in paths if not is_beir_corpus(p)]
    items = [_Item(str(p), path=p) for p in collect_files(rest, include=include, exclude=exclude)]
    for corpus in corpora:
        items += [
            _Item(f"{corpus.name}:{d.beir_id}", beir=d) for d in read_corpus(corpus, limit=limit)
        ]
    return items


def _upload_error(exc: httpx.HTTPError) -> str:
    if not isinstance(exc, httpx.HTTPStatusError):
        return f"{type(exc).__name__}: {exc}"
    try:
        detail = exc.response.json().get("detail")
    except ValueError:
        detail = exc.response.text
    return f"HTTP {exc.response.status_code}: {detail}"


class _Display:
    """The two live bars; chunk totals are recomputed at most every 0.2 s."""

    def __init__(self, progress: Progress, count: int, wait: bool) -> None:
        self.progress = progress
        self.uploads = progress.add_task("upload", total=count, note="")
        self.index = progress.add_task("index", total=count, note="", visible=wait)
        self.outcomes: list[DocumentOutcome] = []
        self._settled: set[int] = set()
        self._refreshed = 0.0

    def uploaded(self, outcome: DocumentOutcome) -> None:
        self.outcomes.append(outcome)
        self.progress.advance(self.uploads)
        self.changed(outcome)

    def changed(self, outcome: DocumentOutcome) -> None:
        if outcome.status in SETTLED and id(outcome) not in self._settled:
            self._settled.add(id(outcome))
            self.progress.advance(self.index)
        now = time.monotonic()
        if now - self._refreshed >= 0.2 or outcome.status in SETTLED:
            self._refreshed = now
            done = sum(o.done for o in self.outcomes)
            total = sum(o.total for o in self.outcomes)
            self.progress.update(self.index, note=f"chunks {done}/{total}")


async def run_ingest(
    url: str,
    api_key: str | None,
    paths: list[Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    limit: int | None = None,
    concurrency: int = 4,
    wait: bool = True,
    timeout_s: float = 3600.0,
    max_streams: int = MAX_STREAMS,
    console: Console | None = None,
) -> IngestSummary:
    """Upload files and BEIR corpora, follow each document live, print a summary.

    Args:
        url: Gateway URL.
        api_key: The caller's API key; the documents go to its tenant.
        paths: Files, folders (walked with ``include``/``exclude``, see
            :func:`~ragbus_tools.client.collect_files`) and ``.jsonl`` BEIR corpora.
        include: Globs a file found in a folder must match (one of).
        exclude: Globs that leave a file found in a folder out.
        limit: Most documents read from each BEIR corpus.
        concurrency: Uploads in flight at once.
        wait: Follow the documents to a final status.
        timeout_s: How long to follow them; unfinished ones count as ``timeout``.
        max_streams: Most SSE streams open at once (see :class:`DocumentFollower`).
        console: Where the bars and the summary go (default: stderr).

    Raises:
        FileNotFoundError: a path does not exist.
        BeirFormatError: a corpus line is malformed (nothing is uploaded then).
        httpx.TransportError: the gateway cannot be reached (checked first).
        httpx.HTTPStatusError: it refused the credential (checked first).
    """
    console = console or Console(stderr=True)
    items = _items(paths, include, exclude, limit)
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    async with RagbusClient(url, api_key) as client:
        await client.check_access()  # a stack that is down or a bad key: one error, not N
        with Progress(*columns, console=console) as progress:
            display = _Display(progress, len(items), wait)
            follower = DocumentFollower(client, max_streams=max_streams, on_change=display.changed)
            sem = asyncio.Semaphore(concurrency)

            async def upload(item: _Item) -> None:
                async with sem:
                    try:
                        doc = await item.upload(client)
                    except httpx.HTTPError as exc:
                        outcome = DocumentOutcome(item.label, "rejected", error=_upload_error(exc))
                    else:
                        status = "duplicate" if doc.get("duplicate") else doc["status"]
                        outcome = DocumentOutcome(item.label, status, document_id=doc["id"])
                display.uploaded(outcome)
                if wait and outcome.status not in SETTLED:
                    follower.add(outcome)

            uploads = asyncio.gather(*(upload(i) for i in items))
            if not wait:
                await uploads
            else:
                try:
                    async with asyncio.timeout(timeout_s):
                        await follower.run(uploads)
                except TimeoutError:
                    for outcome in follower.pending:
                        outcome.error = f"still {outcome.status} after {timeout_s:.0f} s"
                        outcome.status = "timeout"
                    seen = {o.label for o in display.outcomes}
                    display.outcomes += [
                        DocumentOutcome(i.label, "timeout", error="not uploaded in time")
                        for i in items
                        if i.label not in seen
                    ]
    summary = IngestSummary(display.outcomes, time.perf_counter() - started)
    print_summary(console, summary)
    return summary


def print_summary(console: Console, summary: IngestSummary) -> None:
    """Counts, chunks and rates, then every failure with its reason."""
    counts, elapsed = summary.counts, max(summary.elapsed_s, 1e-9)
    table = Table("outcome", "count", title=f"{len(summary.outcomes)} documents", min_width=30)
    for status in ("indexed", "duplicate", "failed", "rejected"):
        table.add_row(status, str(counts.get(status, 0)))
    for status, n in sorted(counts.items()):
        if status not in ("indexed", "duplicate", "failed", "rejected"):
            table.add_row(status, str(n))
    table.add_section()
    table.add_row("chunks", str(summary.chunks))
    table.add_row("elapsed", f"{summary.elapsed_s:.1f} s")
    table.add_row("docs/s", f"{counts.get('indexed', 0) / elapsed:.1f}")
    table.add_row("chunks/s", f"{summary.chunks / elapsed:.1f}")
    console.print(table)
    bad = [o for o in summary.outcomes if o.status in FAILED]
    if bad:
        reasons = Table("document", "status", "reason", title="not indexed")
        for o in bad[:MAX_REASONS]:
            reasons.add_row(o.label, o.status, o.error or "")
        if len(bad) > MAX_REASONS:
            reasons.add_row(f"... and {len(bad) - MAX_REASONS} more", "", "")
        console.print(reasons)


async def run_ask(
    url: str,
    api_key: str | None,
    question: str,
    *,
    top_k: int = 5,
    console: Console | None = None,
) -> bool:
    """Stream the answer to stdout, then its citations; returns whether it was found."""
    console = console or Console()
    found = False
    async with RagbusClient(url, api_key) as client:
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
