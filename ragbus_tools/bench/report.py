"""How ``ragbus bench`` prints: rich tables for people, then one JSON line for tools."""

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

NOISE = "2 shared cores: absolute rates are noisy; compare ratios measured in the same run."


def fmt(value: Any, digits: int = 1) -> str:
    """A number with ``digits`` decimals, ``-`` when missing; anything else as ``str``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def ingest_tables(report: dict[str, Any]) -> list[Table]:
    """The ingest report as tables: rates, stages, peak RSS."""
    rates = Table(title="ragbus bench ingest", caption=NOISE)
    rates.add_column("measure")
    rates.add_column("value", justify="right")
    rows = [
        (
            "documents (indexed / failed / duplicates)",
            f"{report['indexed']} / {report['failed']} / {report['duplicates']}",
        ),
        ("chunks", fmt(report["chunks"])),
        ("wall, first upload -> last indexed (s)", fmt(report["wall_s"])),
        ("pipeline docs/s", fmt(report["docs_per_s"], 2)),
        ("pipeline chunks/s", fmt(report["pipeline_chunks_per_s"], 2)),
        ("raw fastembed chunks/s (same chunks, one process)", fmt(report["raw_chunks_per_s"], 2)),
        (
            "  raw before / after the pipeline",
            f"{fmt(report.get('raw_before_chunks_per_s'), 2)} / "
            f"{fmt(report.get('raw_after_chunks_per_s'), 2)}",
        ),
        ("pipeline / raw", fmt(report["ratio"], 3)),
        ("upload -> searchable p50 (ms)", fmt(report["p50_searchable_ms"], 0)),
        ("upload -> searchable p95 (ms)", fmt(report["p95_searchable_ms"], 0)),
    ]
    if "plain_loop_chunks_per_s" in report:
        rows += [
            ("plain loop chunks/s (no bus)", fmt(report["plain_loop_chunks_per_s"], 2)),
            ("pipeline / plain loop", fmt(report["ratio_to_plain_loop"], 3)),
            ("plain loop CPU ms per chunk", fmt(report["plain_loop_cpu_ms_per_chunk"], 2)),
        ]
    if report.get("cpu_ms_per_chunk") is not None:
        rows += [
            ("pipeline CPU ms per chunk (every process)", fmt(report["cpu_ms_per_chunk"], 2)),
            ("pipeline CPU ms per document", fmt(report["cpu_ms_per_document"], 2)),
            ("cores busy (pipeline CPU s / wall s)", fmt(report["cpu_cores_busy"], 2)),
            ("load average 1 min: start / max / end", _loads(report["load_avg"])),
        ]
    if "raw_fp32_chunks_per_s" in report:
        rows += [
            ("raw fastembed fp32 chunks/s (same chunks)", fmt(report["raw_fp32_chunks_per_s"], 2)),
            (f"{report['precision']} pipeline / raw fp32", fmt(report["ratio_to_raw_fp32"], 3)),
        ]
    if "peer_docs_per_s" in report:
        rows += [
            ("LlamaIndex IngestionPipeline docs/s", fmt(report["peer_docs_per_s"], 2)),
            ("LlamaIndex chunks (nodes)", fmt(report["peer_chunks"])),
            ("ragbus / LlamaIndex (docs/s)", fmt(report["ragbus_over_peer"], 3)),
        ]
    for row in rows:
        rates.add_row(*row)
    stages = Table(title="time per stage, per document (from document.status events)")
    for column in ("stage", "documents", "p50 ms", "p95 ms"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for name, s in report["stages"].items():
        stages.add_row(name, fmt(s["documents"]), fmt(s["p50_ms"], 0), fmt(s["p95_ms"], 0))
    rss = Table(title="peak RSS per process (psutil, sampled every 0.25 s)")
    rss.add_column("process")
    rss.add_column("MiB", justify="right")
    for label, mb in report["peak_rss_mb"].items():
        rss.add_row(label, fmt(mb, 0))
    tables = [rates, stages, rss]
    if report.get("cpu_s"):
        cpu = Table(title="CPU per process, first upload -> last indexed (psutil)")
        for column in ("process", "CPU s", "ms per chunk"):
            cpu.add_column(column, justify="left" if column == "process" else "right")
        chunks = report["chunks"] or 0
        for label, seconds in report["cpu_s"].items():
            per_chunk = seconds * 1000 / chunks if chunks else None
            cpu.add_row(label, fmt(seconds, 2), fmt(per_chunk, 2))
        tables.append(cpu)
    return tables


def _loads(load_avg: dict[str, Any]) -> str:
    if not load_avg:
        return "-"
    return f"{load_avg['start'][0]} / {load_avg['max_1m']} / {load_avg['end'][0]}"


def query_tables(report: dict[str, Any]) -> list[Table]:
    """The query report as one table: a row per mode and concurrency."""
    table = Table(
        title="ragbus bench query (the NATS row: one no-op request-reply hop)", caption=NOISE
    )
    for column in ("mode", "clients", "requests", "errors", "QPS", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(
            column, justify="left" if column == "mode" else "right", no_wrap=column == "mode"
        )
    for mode in ("retrieve", "query"):
        for concurrency, s in report.get(mode, {}).items():
            table.add_row(
                mode, concurrency, fmt(s["requests"]), fmt(s["errors"]), fmt(s["qps"]),
                fmt(s["p50_ms"]), fmt(s["p95_ms"]), fmt(s["p99_ms"]),
            )  # fmt: skip
    noop = report.get("nats_noop")
    if noop:
        table.add_row(
            "NATS", "1", fmt(noop["requests"]), fmt(noop["errors"]),
            fmt(noop["qps"]), fmt(noop["p50_ms"], 2), fmt(noop["p95_ms"], 2),
            fmt(noop["p99_ms"], 2),
        )  # fmt: skip
    return [table]


def emit(tables: list[Table], report: dict[str, Any], *, as_json: bool) -> None:
    """Print the tables; with ``as_json``, then the report as the last line (one JSON object)."""
    console = Console()
    for table in tables:
        console.print(table)
    if as_json:
        typer.echo(json.dumps(report))  # not rich: it would wrap the line
