"""``ragbus eval DATASET_DIR``: retrieval quality and latency on a BEIR dataset.

The dataset is a BEIR folder: ``corpus.jsonl``, ``queries.jsonl`` (or
``queries_<split>.jsonl``) and ``qrels/<split>.tsv`` (or ``qrels_<split>.tsv``).
The corpus is ingested through the real pipeline (gateway, ingest, embed) into the
API key's tenant unless ``--tenant`` says it already holds it; each document is
``title + "\\n\\n" + text``, the BEIR convention for SciFact (``ragbus_tools.beir``). Every
query then goes through the real retrieve service (``POST /v1/retrieve``, top 100
chunks) once per mode, one at a time, so latencies are not inflated by queueing.

The modes (:data:`MODES`) are request variants: ``hybrid`` is exactly what a client
that names nothing gets (the service's defaults: hybrid search, documents ranked
from their chunks); ``dense`` and ``sparse`` are one side alone, ranked per chunk
(their runs are what :mod:`ragbus_tools.tune_fusion` fuses offline); ``hybrid_chunks``
is hybrid fused per chunk, as before documents were ranked. Every row carries a 95%
bootstrap interval of its nDCG@10 and the paired bootstrap interval of its
difference from ``hybrid`` on the same queries (:mod:`ragbus_tools.bench.bootstrap`).

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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx
import numpy as np

from ragbus_tools.beir import iter_corpus
from ragbus_tools.bench.bootstrap import mean_interval, paired_difference
from ragbus_tools.bench.trec_metrics import document_run, per_query

log = logging.getLogger(__name__)

MODES: dict[str, dict[str, str]] = {
    "hybrid": {},
    "dense": {"mode": "dense", "group_by": "chunk"},
    "sparse": {"mode": "sparse", "group_by": "chunk"},
    "hybrid_chunks": {"mode": "hybrid", "group_by": "chunk"},
}
"""Each evaluated mode's request fields beyond the question and ``top_k``."""
DEFAULT_MODE = "hybrid"
"""The mode every other is compared with: the service's defaults."""
TOP_CHUNKS = 100  # MAX_TOP_K of /v1/retrieve

Ranked = dict[str, list[tuple[str, str, float]]]
"""Per query id, the ``(chunk_id, filename, score)`` of each passage, best first."""


@dataclass(frozen=True)
class ModeResult:
    """One mode's row of the table; metrics are means over queries, in [0, 1].

    Attributes:
        mode: A name of :data:`MODES`.
        queries: Queries evaluated.
        ndcg_10: nDCG@10.
        ndcg_low: Lower bound of nDCG@10's 95% bootstrap interval.
        ndcg_high: Its upper bound.
        recall_100: Recall@100 (over the documents of the top 100 chunks).
        mrr_10: MRR@10.
        p50_ms: Median wall time of one ``/v1/retrieve`` call seen by the client.
        p95_ms: Its 95th percentile.
        server_p50_ms: Median ``retrieve_ms`` reported by the retrieve service.
        delta: nDCG@10 minus :data:`DEFAULT_MODE`'s on the same queries (``None``
            for that mode itself, or when it was not run).
        delta_low: Lower bound of the paired 95% bootstrap interval of ``delta``.
        delta_high: Its upper bound.
    """

    mode: str
    queries: int
    ndcg_10: float
    ndcg_low: float
    ndcg_high: float
    recall_100: float
    mrr_10: float
    p50_ms: float
    p95_ms: float
    server_p50_ms: float
    delta: float | None = None
    delta_low: float | None = None
    delta_high: float | None = None


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


async def evaluate_mode(
    client: httpx.AsyncClient,
    mode: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    beir_ids: dict[str, str],
) -> tuple[ModeResult, Ranked, list[float]]:
    """Run every query in ``mode`` through ``/v1/retrieve``.

    Returns:
        The row (without the comparison with the default), the ranked chunks, and
        nDCG@10 per query in ``queries`` order.

    Raises:
        httpx.HTTPStatusError: The gateway refused a query.
    """
    run: dict[str, dict[str, float]] = {}
    ranked: Ranked = {}
    wall: list[float] = []
    server: list[float] = []
    for query_id, text in queries.items():
        started = time.perf_counter()
        body = {"question": text, "top_k": TOP_CHUNKS, **MODES[mode]}
        response = await client.post("/v1/retrieve", json=body)
        wall.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        reply = response.json()
        server.append(reply["timings"].get("retrieve_ms") or 0.0)
        run[query_id] = document_run(reply["passages"], beir_ids)
        ranked[query_id] = [(p["chunk_id"], p["filename"], p["score"]) for p in reply["passages"]]
    table = per_query(run, qrels)
    ndcg = [table[q]["ndcg_10"] for q in queries]
    interval = mean_interval(ndcg)
    row = ModeResult(
        mode=mode,
        queries=len(queries),
        ndcg_10=interval.mean,
        ndcg_low=interval.low,
        ndcg_high=interval.high,
        recall_100=float(np.mean([table[q]["recall_100"] for q in queries])),
        mrr_10=float(np.mean([table[q]["mrr_10"] for q in queries])),
        p50_ms=float(np.percentile(wall, 50)),
        p95_ms=float(np.percentile(wall, 95)),
        server_p50_ms=float(np.percentile(server, 50)),
    )
    return row, ranked, ndcg


def compared(rows: list[ModeResult], ndcg: dict[str, list[float]]) -> list[ModeResult]:
    """``rows`` with each one's paired difference from :data:`DEFAULT_MODE`, if it ran."""
    if DEFAULT_MODE not in ndcg:
        return rows
    out = []
    for row in rows:
        if row.mode != DEFAULT_MODE:
            diff = paired_difference(ndcg[row.mode], ndcg[DEFAULT_MODE])
            row = replace(row, delta=diff.mean, delta_low=diff.low, delta_high=diff.high)
        out.append(row)
    return out


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
    modes: Sequence[str] = tuple(MODES),
    limit: int | None = None,
    indexed_only: bool = False,
    api_key: str | None = None,
) -> tuple[str, list[ModeResult], dict[str, Ranked]]:
    """Ingest (unless ``tenant`` is given) and evaluate every mode.

    Args:
        folder: The BEIR dataset folder.
        url: Gateway URL.
        tenant: Tenant already holding the corpus; ``None`` ingests into a new one.
        split: Which queries and qrels (``test``, ``train``, ``dev``).
        modes: Names in :data:`MODES` to evaluate, in order.
        limit: Evaluate only the first ``limit`` queries.
        indexed_only: Keep only queries whose judged documents are all searchable
            (to measure a partly ingested corpus; scores are then not comparable
            with a full-corpus run, as there are fewer distractors).
        api_key: The caller's key (``Authorization: Bearer``); its tenant is the one
            ingested into and searched, and ``tenant`` only says not to ingest.
            ``None``: ``X-Tenant-ID`` names the tenant (a gateway in
            ``trusted-headers`` mode, or one without authentication).

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
        if api_key is None:
            raise RuntimeError("without an API key, --tenant must name a tenant holding the corpus")
        from ragbus_tools.console import run_ingest

        tenant = "the API key's tenant"
        summary = await run_ingest(url, api_key, [corpus], concurrency=4)
        if summary.failed:
            raise RuntimeError(f"{summary.failed} documents failed to ingest")
    results = []
    ranked: dict[str, Ranked] = {}
    ndcg: dict[str, list[float]] = {}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {"X-Tenant-ID": tenant}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0) as client:
        if indexed_only:
            present = {beir_ids[f] for f in await indexed_files(client) if f in beir_ids}
            queries = {q: t for q, t in queries.items() if set(qrels[q]) <= present}
            qrels = {q: qrels[q] for q in queries}
            beir_ids = {f: b for f, b in beir_ids.items() if b in present}
            log.warning("%d documents searchable, %d queries kept", len(present), len(queries))
        for mode in modes:
            row, ranked[mode], ndcg[mode] = await evaluate_mode(
                client, mode, queries, qrels, beir_ids
            )
            log.info("evaluated %s", asdict(row))
            results.append(row)
    return tenant, compared(results, ndcg), ranked


def write_report(
    path: Path, dataset: Path, tenant: str, split: str, rows: list[ModeResult]
) -> None:
    """Write the results as JSON: dataset, split, tenant and one object per mode."""
    report = {
        "dataset": str(dataset),
        "split": split,
        "tenant": tenant,
        "metrics_library": "pytrec_eval",
        "default_mode": DEFAULT_MODE,
        "intervals": "95% percentile bootstrap over queries, paired for deltas (10,000 resamples)",
        "modes": [asdict(r) for r in rows],
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
