"""``ragbus eval DATASET_DIR``: retrieval quality and latency on a BEIR dataset.

The dataset is a BEIR folder: ``corpus.jsonl``, ``queries.jsonl`` (or
``queries_<split>.jsonl``) and ``qrels/<split>.tsv`` (or ``qrels_<split>.tsv``).
The corpus is ingested through the real pipeline (gateway, ingest, embed) into a
fresh tenant unless ``--tenant`` names one that already holds it; each document is
``title + "\\n\\n" + text``, the BEIR convention for SciFact (``ragbus_tools.beir``). Every
query then goes through the real retrieve service (``POST /v1/retrieve``, top 100
chunks) once per mode, one at a time, so latencies are not inflated by queueing.

Passages are chunks; qrels are documents. A document's rank is that of its best
chunk, so the run holds the distinct documents among the top 100 chunks (fewer
than 100 when documents have several chunks; Recall@100 is over those).
Metrics come from ``pytrec_eval`` (TREC's trec_eval): nDCG@10 (``ndcg_cut_10``),
Recall@100 (``recall_100``) and MRR@10 (``recip_rank`` of the run cut at 10).
The ranked chunks of every query can be kept (``--runs``) to study fusion offline
(``ragbus_tools/tune_fusion.py``).
"""

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ragbus_tools.beir import iter_corpus

log = logging.getLogger(__name__)

MODES = ("dense", "sparse", "hybrid")
TOP_CHUNKS = 100  # MAX_TOP_K of /v1/retrieve

Ranked = dict[str, list[tuple[str, str]]]
"""Per query id, the ``(chunk_id, filename)`` of each passage, best first."""


@dataclass(frozen=True)
class ModeResult:
    """One mode's row of the table; metrics are means over queries, in [0, 1].

    Attributes:
        mode: ``dense``, ``sparse`` or ``hybrid``.
        queries: Queries evaluated.
        ndcg_10: nDCG@10.
        recall_100: Recall@100 (over the documents of the top 100 chunks).
        mrr_10: MRR@10.
        p50_ms: Median wall time of one ``/v1/retrieve`` call seen by the client.
        p95_ms: Its 95th percentile.
        server_p50_ms: Median ``retrieve_ms`` reported by the retrieve service.
    """

    mode: str
    queries: int
    ndcg_10: float
    recall_100: float
    mrr_10: float
    p50_ms: float
    p95_ms: float
    server_p50_ms: float


def _first(folder: Path, *names: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has none of {', '.join(names)}")


def load_queries(folder: Path, split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """The split's queries that have judgements, and the judgements (qrels).

    Returns:
        ``({query_id: text}, {query_id: {corpus_id: relevance}})``.

    Raises:
        FileNotFoundError: No queries or qrels file for the split.
    """
    qrels_path = _first(folder, f"qrels/{split}.tsv", f"qrels_{split}.tsv")
    queries_path = _first(folder, f"queries_{split}.jsonl", "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for line in qrels_path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 3 or not parts[-1].strip().lstrip("-").isdigit():
            continue  # the header "query-id corpus-id score"
        qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = int(parts[-1])
    queries = {}
    for line in queries_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if str(row["_id"]) in qrels:
                queries[str(row["_id"])] = row["text"]
    return queries, {q: qrels[q] for q in queries}


def document_run(passages: Sequence[dict[str, Any]], beir_ids: dict[str, str]) -> dict[str, float]:
    """``{corpus_id: score}`` ranking each document by its best chunk (rank 0 best).

    The score is ``len(passages) - rank`` so that trec_eval's sort by score keeps
    the service's order whatever the mode's score scale is.
    """
    run: dict[str, float] = {}
    for rank, passage in enumerate(passages):
        corpus_id = beir_ids.get(passage["filename"])
        if corpus_id is not None and corpus_id not in run:
            run[corpus_id] = float(len(passages) - rank)
    return run


def score(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 of ``run`` with pytrec_eval."""
    import pytrec_eval

    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:10]) for q, d in run.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    queries = list(qrels)  # a query with no hits still counts, as 0

    def mean(table: dict[str, dict[str, float]], key: str) -> float:
        return float(np.mean([table.get(q, {}).get(key, 0.0) for q in queries]))

    return {
        "ndcg_10": mean(full, "ndcg_cut_10"),
        "recall_100": mean(full, "recall_100"),
        "mrr_10": mean(mrr, "recip_rank"),
    }


async def evaluate_mode(
    client: httpx.AsyncClient,
    mode: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    beir_ids: dict[str, str],
) -> tuple[ModeResult, Ranked]:
    """Run every query in ``mode`` through ``/v1/retrieve``; returns the row and chunks.

    Raises:
        httpx.HTTPStatusError: The gateway refused a query.
    """
    run: dict[str, dict[str, float]] = {}
    ranked: Ranked = {}
    wall: list[float] = []
    server: list[float] = []
    for query_id, text in queries.items():
        started = time.perf_counter()
        response = await client.post(
            "/v1/retrieve", json={"question": text, "top_k": TOP_CHUNKS, "mode": mode}
        )
        wall.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        body = response.json()
        server.append(body["timings"].get("retrieve_ms") or 0.0)
        run[query_id] = document_run(body["passages"], beir_ids)
        ranked[query_id] = [(p["chunk_id"], p["filename"]) for p in body["passages"]]
    metrics = score(run, qrels)
    row = ModeResult(
        mode=mode,
        queries=len(queries),
        p50_ms=float(np.percentile(wall, 50)),
        p95_ms=float(np.percentile(wall, 95)),
        server_p50_ms=float(np.percentile(server, 50)),
        **metrics,
    )
    return row, ranked


async def indexed_files(client: httpx.AsyncClient) -> set[str]:
    """File names of the tenant's documents that are searchable (``GET /v1/documents``)."""
    names: set[str] = set()
    offset = 0
    while True:
        response = await client.get("/v1/documents", params={"limit": 1000, "offset": offset})
        response.raise_for_status()
        page = response.json()["documents"]
        names |= {d["filename"] for d in page if d.get("searchable_version") is not None}
        if len(page) < 1000:
            return names
        offset += len(page)


async def run_eval(
    folder: Path,
    *,
    url: str,
    tenant: str | None,
    split: str = "test",
    modes: Sequence[str] = MODES,
    limit: int | None = None,
    indexed_only: bool = False,
) -> tuple[str, list[ModeResult], dict[str, Ranked]]:
    """Ingest (unless ``tenant`` is given) and evaluate every mode.

    Args:
        folder: The BEIR dataset folder.
        url: Gateway URL.
        tenant: Tenant already holding the corpus; ``None`` ingests into a new one.
        split: Which queries and qrels (``test``, ``train``, ``dev``).
        modes: Modes to evaluate, in order.
        limit: Evaluate only the first ``limit`` queries.
        indexed_only: Keep only queries whose judged documents are all searchable
            (to measure a partly ingested corpus; scores are then not comparable
            with a full-corpus run, as there are fewer distractors).

    Returns:
        The tenant used, one result per mode, and the ranked chunks per mode.

    Raises:
        FileNotFoundError: A dataset file is missing.
        RuntimeError: Some documents failed to ingest.
    """
    corpus = folder / "corpus.jsonl"
    beir_ids = {doc.filename: doc.beir_id for doc in iter_corpus(corpus)}
    queries, qrels = load_queries(folder, split)
    if limit is not None:
        queries = dict(list(queries.items())[:limit])
        qrels = {q: qrels[q] for q in queries}
    if tenant is None:
        from ragbus_tools.console import run_ingest

        tenant = f"eval-{folder.name}-{uuid.uuid4().hex[:8]}"
        summary = await run_ingest(url, tenant, [corpus], concurrency=4)
        if summary.failed:
            raise RuntimeError(f"{summary.failed} documents failed to ingest into {tenant}")
    results = []
    ranked: dict[str, Ranked] = {}
    async with httpx.AsyncClient(
        base_url=url, headers={"X-Tenant-ID": tenant}, timeout=60.0
    ) as client:
        if indexed_only:
            present = {beir_ids[f] for f in await indexed_files(client) if f in beir_ids}
            queries = {q: t for q, t in queries.items() if set(qrels[q]) <= present}
            qrels = {q: qrels[q] for q in queries}
            beir_ids = {f: b for f, b in beir_ids.items() if b in present}
            log.warning("%d documents searchable, %d queries kept", len(present), len(queries))
        for mode in modes:
            row, ranked[mode] = await evaluate_mode(client, mode, queries, qrels, beir_ids)
            log.info("evaluated %s", asdict(row))
            results.append(row)
    return tenant, results, ranked


def write_report(
    path: Path, dataset: Path, tenant: str, split: str, rows: list[ModeResult]
) -> None:
    """Write the results as JSON: dataset, split, tenant and one object per mode."""
    report = {
        "dataset": str(dataset),
        "split": split,
        "tenant": tenant,
        "metrics_library": "pytrec_eval",
        "modes": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
