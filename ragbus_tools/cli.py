"""The ``ragbus`` command line: run the stack or one service, ingest, ask, export schemas."""

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from ragbus_tools.bench.cli import app as bench_app
from ragbus_tools.dead_letters_cli import app as dlq_app
from ragbus_tools.keys_cli import keys_app, signing_app, tenants_app
from ragbus_tools.mcp_cli import mcp
from ragbus_tools.nats_cli import nats_app, nats_secrets
from ragbus_tools.process_cli import status, up_processes
from ragbus_tools.reindex_cli import reindex
from ragbus_tools.schemas_cli import schemas_app

app = typer.Typer(help="ragbus: event-driven RAG over NATS.", no_args_is_help=True)
model_app = typer.Typer(help="The embedding model.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(model_app, name="model")
app.add_typer(dlq_app, name="dlq")
app.add_typer(bench_app, name="bench")
app.command()(status)
app.command()(mcp)
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")
app.add_typer(signing_app, name="signing-keys")
app.add_typer(nats_app, name="nats")
app.command("nats-secrets")(nats_secrets)
app.command()(reindex)

DEFAULT_URL = "http://127.0.0.1:8000"
UrlOpt = Annotated[
    str | None,
    typer.Option(envvar="RAGBUS_URL", help="Gateway URL (default: the stack in --data-dir)."),
]
TenantOpt = Annotated[str, typer.Option(envvar="RAGBUS_TENANT", help="Tenant id.")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="RAGBUS_API_KEY",
        help="API key (default: the admin key of the stack in --data-dir).",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path, typer.Option(envvar="RAGBUS_DATA_DIR", help="Where `ragbus up` keeps its state.")
]
SERVICES = ("gateway", "ingest", "embed", "retrieve", "generate")


def _logging(level: str = "INFO") -> None:
    """Text or JSON logs (``RAGBUS_LOG_FORMAT``) at ``RAGBUS_LOG_LEVEL``, else ``level``."""
    from ragbus.logs import LogSettings, configure_logging

    configure_logging(LogSettings(level=os.environ.get("RAGBUS_LOG_LEVEL", level)))


def connection(url: str | None, api_key: str | None, data_dir: Path) -> tuple[str, str | None]:
    """The gateway URL and API key to use: flags and environment, else the local stack's."""
    from ragbus_tools.stack_file import api_key as recorded_key
    from ragbus_tools.stack_file import gateway_url

    return gateway_url(data_dir, url), recorded_key(data_dir, api_key)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Interface for the HTTP gateway.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the HTTP gateway.")] = 8000,
    processes: Annotated[
        bool, typer.Option(help="Run each service in its own supervised processes.")
    ] = False,
    replicas: Annotated[
        str, typer.Option(help="Replicas per service with --processes, e.g. embed=2,ingest=2.")
    ] = "",
    cluster: Annotated[
        int,
        typer.Option(min=1, max=5, help="nats-server nodes: a JetStream cluster, R3 streams."),
    ] = 1,
    data_dir: DataDirOpt = Path(".ragbus"),
    tenant: Annotated[
        str,
        typer.Option(envvar="RAGBUS_TENANT", help="Tenant of the admin key made on first start."),
    ] = "default",
) -> None:
    """Start nats-server, Postgres, every service and the gateway in one process.

    The model gets one core fewer than the process may use, unless
    RAGBUS_EMBED_THREADS says otherwise (see ``default_all_in_one_threads``).
    """
    from gateway.settings import GatewaySettings
    from ragbus.settings import InfraSettings, set_all_in_one_threads
    from ragbus_tools.stack import PortTakenError, check_port_free, run_stack

    try:  # before anything logs or starts: a taken port is one line and exit 3
        check_port_free(host, port)
    except PortTakenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    _logging()
    if processes or cluster > 1:  # a cluster's services run as processes too
        up_processes(host, port, data_dir, replicas, cluster, tenant)
        return
    threads = set_all_in_one_threads()
    logging.getLogger(__name__).info("embedding model threads", extra={"threads": threads})
    infra = InfraSettings(data_dir=data_dir)
    try:
        asyncio.run(run_stack(infra, GatewaySettings(host=host, port=port), tenant=tenant))
    except PortTakenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")],
) -> None:
    """Run one service in this process against NATS_URL / DATABASE_URL."""
    _logging()
    if service == "gateway":
        from gateway.app import main as gateway_main

        gateway_main()
        return
    from ragbus.runtime import run_services
    from ragbus_tools.stack import SERVICE_BUILDERS

    if service not in SERVICE_BUILDERS:
        raise typer.BadParameter(f"unknown service {service!r}; choose one of {SERVICES}")
    asyncio.run(run_services([SERVICE_BUILDERS[service]], name=f"{service}-svc"))


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files, folders (walked recursively) or BEIR corpus.jsonl files."),
    ],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
    include: Annotated[
        list[str] | None,
        typer.Option(help="Only files in folders matching this glob (repeatable), e.g. '*.md'."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Leave out files in folders matching this glob (repeatable)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Most documents read from each corpus.jsonl.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Uploads at once.")] = 4,
    wait: Annotated[bool, typer.Option(help="Follow every document until it is final.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for indexing.")] = 3600.0,
) -> None:
    """Upload documents, follow them live, then print a summary (exit 1 if any failed).

    Globs match each file's path relative to its folder; without '/', also its name.

    A .jsonl file is a BEIR corpus: each line {"_id", "title", "text"} becomes <_id>.txt.
    """
    from ragbus_tools.beir import BeirFormatError
    from ragbus_tools.console import run_ingest

    try:
        summary = asyncio.run(
            run_ingest(
                *connection(url, api_key, data_dir),
                paths,
                include=include or (),
                exclude=exclude or (),
                limit=limit,
                concurrency=concurrency,
                wait=wait,
                timeout_s=timeout,
            )
        )
    except (FileNotFoundError, BeirFormatError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(1 if summary.failed else 0)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 5,
) -> None:
    """Stream an answer with its citations (exit 1 when nothing relevant was found)."""
    from ragbus_tools.console import run_ask

    found = asyncio.run(run_ask(*connection(url, api_key, data_dir), question, top_k=top_k))
    raise typer.Exit(0 if found else 1)


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries, qrels.")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
    tenant: Annotated[
        str | None, typer.Option(help="Search this tenant (X-Tenant-ID without a key); no ingest.")
    ] = None,
    split: Annotated[str, typer.Option(help="Queries and qrels split.")] = "test",
    mode: Annotated[
        list[str] | None,
        typer.Option(help="hybrid, dense, sparse or hybrid_chunks (repeatable); default all."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N queries.")] = None,
    out: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("eval.json"),
    runs: Annotated[
        Path | None, typer.Option(help="Also write every query's ranked chunks here (JSON).")
    ] = None,
    indexed_only: Annotated[
        bool, typer.Option(help="Only queries whose judged documents are all searchable.")
    ] = False,
) -> None:
    """Ingest a BEIR dataset; print nDCG@10 with its 95% interval, its difference from
    the default mode (paired bootstrap), Recall@100, MRR@10 and latency per mode."""
    from rich.console import Console
    from rich.table import Table

    from ragbus_tools.eval import DEFAULT_MODE, MODES, run_eval, write_report

    _logging("WARNING")
    modes = mode or list(MODES)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        typer.echo(f"error: unknown mode {unknown[0]!r}; known: {', '.join(MODES)}", err=True)
        raise typer.Exit(2)
    gateway, key = connection(url, api_key, data_dir)
    try:
        used, rows, ranked = asyncio.run(
            run_eval(
                dataset,
                url=gateway,
                tenant=tenant,
                split=split,
                modes=modes,
                limit=limit,
                indexed_only=indexed_only,
                api_key=key,
            )
        )
    except (FileNotFoundError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    table = Table(title=f"{dataset.name} ({split}), tenant {used}; 95% bootstrap intervals")
    columns = ("mode", "queries", "nDCG@10", "95% CI", f"vs {DEFAULT_MODE} (95% CI)")
    for column in (*columns, "Recall@100", "MRR@10", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in rows:
        delta = (
            "" if r.delta is None else f"{r.delta:+.3f} ({r.delta_low:+.3f}, {r.delta_high:+.3f})"
        )
        table.add_row(
            *(r.mode, str(r.queries), f"{r.ndcg_10:.3f}", f"{r.ndcg_low:.3f}-{r.ndcg_high:.3f}"),
            *(delta, f"{r.recall_100:.3f}", f"{r.mrr_10:.3f}"),
            *(f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}"),
        )
    Console().print(table)
    write_report(out, dataset, used, split, rows)
    typer.echo(f"wrote {out}")
    if runs is not None:
        runs.write_text(json.dumps(ranked) + "\n")
        typer.echo(f"wrote {runs}")


@model_app.command("prepare")
def model_prepare() -> None:
    """Resolve the embedding model (export to ONNX and cache it) and print where it is."""
    from ragbus.embedding import resolve_model
    from ragbus.settings import InfraSettings

    _logging()
    resolved = resolve_model(InfraSettings())
    typer.echo(f"{resolved.model_id} dim={resolved.dim} source={resolved.source} {resolved.path}")


def main() -> None:
    """Console-script entry point: every error is one line and an exit code
    (:mod:`ragbus_tools.cli_errors`, listed in the README)."""
    from ragbus_tools.cli_errors import run_cli

    raise SystemExit(run_cli(app))
