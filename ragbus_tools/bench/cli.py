"""``ragbus bench ingest`` and ``ragbus bench query``: the typer front-end."""

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from ragbus.settings import default_all_in_one_threads

app = typer.Typer(help="Reproducible throughput and latency benchmarks.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option(help="Gateway of a running stack; default: start one in a temporary directory."),
]
NatsOpt = Annotated[
    str | None,
    typer.Option(help="NATS of the stack at --url (for stage times and the no-op round trip)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Last line printed: the report as JSON.")]
LimitOpt = Annotated[int | None, typer.Option(min=1, help="Only the first N documents.")]
ThreadsOpt = Annotated[
    int | None, typer.Option(min=1, help="onnxruntime threads of the services and the raw run.")
]


def _env(**settings: object) -> dict[str, str]:
    """``RAGBUS_<NAME>`` variables for the settings given (``None`` ones left out)."""
    return {f"RAGBUS_{k.upper()}": str(v) for k, v in settings.items() if v is not None}


@app.command("ingest")
def ingest(
    path: Annotated[Path, typer.Argument(help="A BEIR corpus.jsonl, a folder or a file.")],
    limit: LimitOpt = None,
    url: UrlOpt = None,
    nats_url: NatsOpt = None,
    embed_workers: Annotated[
        int, typer.Option(min=1, max=8, help="Embed processes (>1 switches to pgvector).")
    ] = 1,
    threads: ThreadsOpt = None,
    precision: Annotated[
        str | None, typer.Option(help="fp32 or int8 for the services and the raw run.")
    ] = None,
    vector_store: Annotated[
        str | None, typer.Option(help="qdrant or pgvector for a started stack; default qdrant.")
    ] = None,
    peer: Annotated[
        bool, typer.Option(help="Also run LlamaIndex's IngestionPipeline (extra 'bench').")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for indexing.")] = 3600.0,
    embedder: Annotated[
        str,
        typer.Option(
            help="model, or fake: hashing vectors instead of the model (the bus's ceiling), "
            "compared with a plain loop over the same documents."
        ),
    ] = "model",
    as_json: JsonOpt = False,
) -> None:
    """Ingest PATH through the real pipeline; compare with raw fastembed on the same chunks.

    With --embedder fake the model costs nothing: the pipeline is compared with a
    plain loop (parse, chunk, embed, upsert; no bus, no Postgres) on the same
    documents, and cpu_ms_per_chunk is the CPU every pipeline process spent per chunk.
    """
    from ragbus_tools.beir import BeirFormatError
    from ragbus_tools.bench import ingest as bench_ingest
    from ragbus_tools.bench.report import emit, ingest_tables

    logging.basicConfig(level=logging.WARNING)
    _check_embedder(embedder, url=url, embed_workers=embed_workers, peer=peer, precision=precision)
    if url is not None and embed_workers > 1:
        raise typer.BadParameter("--embed-workers applies only to a stack the bench starts")
    if vector_store not in (None, "qdrant", "pgvector"):
        raise typer.BadParameter(f"--vector-store must be qdrant or pgvector, not {vector_store}")
    if embed_workers > 1 and vector_store == "qdrant":
        raise typer.BadParameter(
            "Qdrant local mode has one opener: more embed workers need pgvector"
        )
    if precision not in (None, "fp32", "int8"):
        raise typer.BadParameter(f"--precision must be fp32 or int8, not {precision}")
    if threads is None and url is None and "RAGBUS_EMBED_THREADS" not in os.environ:
        # What `ragbus up` gives its model by default, for the raw run too: the
        # ratio compares the pipeline with raw fastembed at the same settings.
        threads = default_all_in_one_threads()
    model = _env(embed_threads=threads, embed_precision=precision)
    os.environ.update(model)  # the raw run in this process reads the same settings
    options = bench_ingest.IngestOptions(
        path=path,
        limit=limit,
        url=url,
        nats_url=nats_url,
        embed_workers=embed_workers,
        env={**model, **_env(vector_store=vector_store)},
        timeout_s=timeout,
        peer=peer,
    )
    if embedder == "fake":
        from ragbus_tools.bench.bus_ceiling import run as run_bench
    else:
        run_bench = bench_ingest.run
    try:
        report = asyncio.run(run_bench(options))
    except (FileNotFoundError, BeirFormatError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    emit(ingest_tables(report), report, as_json=as_json)


def _check_embedder(
    embedder: str, *, url: str | None, embed_workers: int, peer: bool, precision: str | None
) -> None:
    """Refuse what ``--embedder fake`` cannot do: only ``ragbus up`` reads the switch."""
    if embedder not in ("model", "fake"):
        raise typer.BadParameter(f"--embedder must be model or fake, not {embedder}")
    if embedder == "model":
        return
    for given, flag in ((url, "--url"), (embed_workers > 1, "--embed-workers"),
                        (peer, "--peer"), (precision, "--precision")):  # fmt: skip
        if given:
            raise typer.BadParameter(f"--embedder fake starts its own stack; drop {flag}")


@app.command("query")
def query(
    path: Annotated[Path, typer.Argument(help="Corpus to ingest and ask about (BEIR or folder).")],
    limit: LimitOpt = 300,
    url: UrlOpt = None,
    nats_url: NatsOpt = None,
    tenant: Annotated[
        str | None, typer.Option(help="Query this tenant's documents instead of ingesting PATH.")
    ] = None,
    seconds: Annotated[
        float, typer.Option(min=0.1, help="Seconds per mode and concurrency.")
    ] = 10.0,
    concurrency: Annotated[
        list[int] | None, typer.Option(min=1, help="Clients at once (repeatable); 1, 8, 32.")
    ] = None,
    mode: Annotated[
        list[str] | None, typer.Option(help="retrieve and/or query (repeatable); both.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load /v1/retrieve and /v1/query at each concurrency; p50/p95/p99, QPS, errors."""
    from ragbus_tools.beir import BeirFormatError
    from ragbus_tools.bench import query as bench_query
    from ragbus_tools.bench.report import emit, query_tables

    logging.basicConfig(level=logging.WARNING)
    if tenant is not None and url is None:
        raise typer.BadParameter("--tenant needs --url: a started stack has no documents yet")
    modes = tuple(mode or bench_query.MODES)
    unknown = set(modes) - set(bench_query.MODES)
    if unknown:
        raise typer.BadParameter(f"unknown mode {sorted(unknown)}; choose {bench_query.MODES}")
    options = bench_query.QueryOptions(
        path=path,
        limit=limit,
        url=url,
        nats_url=nats_url,
        tenant=tenant,
        seconds=seconds,
        concurrency=tuple(concurrency or bench_query.CONCURRENCY),
        modes=modes,
    )
    try:
        report = asyncio.run(bench_query.run(options))
    except (FileNotFoundError, BeirFormatError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    emit(query_tables(report), report, as_json=as_json)
