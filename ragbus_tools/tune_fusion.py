"""Choose hybrid's fusion by cross-validation on a split's dense and sparse runs.

``ragbus eval ... --runs runs.json`` keeps every query's dense and sparse top 100
chunks (``[chunk_id, filename, score]``, fused by nothing); the retrieval lab
(:mod:`ragbus_tools.bench.retrieval_lab`) writes the same lists with corpus ids.
This module fuses them offline with the service's own code
(:func:`ragbus.stores.vectors.fusion.fuse`: RRF per chunk, or per document by RRF
or a convex mix of scores) for every setting of :data:`GRID`, and scores each query
like ``ragbus eval`` does.

Tuning and scoring on the same queries flatters the winner, so settings are chosen
by K-fold cross-validation: queries sorted by id, fold ``i`` holds positions
``i, i + K, ...``; each fold is scored with the setting that was best (mean
nDCG@10) on the other folds. The cross-validated figure is the mean over all
queries of those held-out scores: no query is scored by a setting tuned on it.
The setting to deploy is the one best on the whole split; the report says how
many folds chose it. Usage::

    python -m ragbus_tools.tune_fusion DATASET_DIR SPLIT runs.json [report.json]
"""

import itertools
import json
import sys
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, astuple, dataclass
from pathlib import Path

import numpy as np

from ragbus.stores.vectors.base import ChunkRecord, Fusion, ScoredChunk
from ragbus.stores.vectors.fusion import fuse
from ragbus_tools.beir import iter_corpus
from ragbus_tools.bench.bootstrap import mean_interval
from ragbus_tools.bench.trec_metrics import per_query
from ragbus_tools.eval import load_queries

KS = (1, 2, 5, 10, 20, 60)
SPARSE_WEIGHTS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
DECAYS = (0.0, 0.1, 0.25)
ALPHAS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)
FOLDS = 5
PER_DOCUMENT = 3


@dataclass(frozen=True, order=True)
class Setting:
    """One way to fuse (``Fusion``'s fields): per chunk or document, RRF or convex."""

    group_by: str
    method: str = "rrf"
    k: int = 60
    sparse_weight: float = 1.0
    decay: float = 0.0
    alpha: float = 0.5

    def fusion(self) -> Fusion:
        """The service's ``Fusion`` of this setting (dense weight 1, 100 candidates)."""
        return Fusion(
            k=self.k,
            sparse_weight=self.sparse_weight,
            group_by="chunk" if self.group_by == "chunk" else "document",
            decay=self.decay,
            per_document=PER_DOCUMENT,
            method="convex" if self.method == "convex" else "rrf",
            alpha=self.alpha,
        )

    def fuse(self, dense: list[ScoredChunk], sparse: list[ScoredChunk]) -> list[ScoredChunk]:
        """The fused top 100, computed by the service's own :func:`fuse`."""
        return fuse([dense, sparse], self.fusion(), 100)


GRID = (
    [Setting("chunk", "rrf", k, w) for k, w in itertools.product(KS, SPARSE_WEIGHTS)]
    + [
        Setting("document", "rrf", k, w, d)
        for k, w, d in itertools.product(KS, SPARSE_WEIGHTS, DECAYS)
    ]
    + [
        Setting("document", "convex", decay=d, alpha=a)
        for d, a in itertools.product(DECAYS, ALPHAS)
    ]
)


def hits(ranked: Iterable[list[object]], document_of: dict[str, str]) -> list[ScoredChunk]:
    """``[chunk_id, name, score]`` rows as hits; the document is ``document_of[name]``."""
    out = []
    for chunk_id, name, score in ranked:
        corpus_id = document_of.get(str(name), str(name))
        document_id = uuid.uuid5(uuid.NAMESPACE_URL, corpus_id)
        record = ChunkRecord(
            uuid.UUID(str(chunk_id)), "t", document_id, 1, 0, "", corpus_id, None, None, None, 0
        )
        out.append(ScoredChunk(record, float(str(score))))
    return out


class Runs:
    """The dense and sparse lists of a runs file, with the split's judgements.

    Args:
        folder: The BEIR dataset folder (its corpus maps file names to corpus ids).
        split: Which qrels.
        runs_path: ``{"dense": {query: rows}, "sparse": {query: rows}}``.
    """

    def __init__(self, folder: Path, split: str, runs_path: Path) -> None:
        document_of = {d.filename: d.beir_id for d in iter_corpus(folder / "corpus.jsonl")}
        _, qrels = load_queries(folder, split)
        runs = json.loads(runs_path.read_text())
        self.queries = sorted(q for q in runs["dense"] if q in qrels)
        self.dense = {q: hits(runs["dense"][q], document_of) for q in self.queries}
        self.sparse = {q: hits(runs["sparse"].get(q, []), document_of) for q in self.queries}
        self.qrels = {q: qrels[q] for q in self.queries}

    def ndcg(self, lists: dict[str, list[ScoredChunk]]) -> np.ndarray:
        """nDCG@10 per query (in :attr:`queries` order) of ranked chunk lists."""
        run = {}
        for q, ranked in lists.items():
            documents: dict[str, float] = {}
            for rank, hit in enumerate(ranked):
                documents.setdefault(hit.chunk.filename, float(len(ranked) - rank))
            run[q] = documents
        scores = per_query(run, self.qrels)
        return np.asarray([scores[q]["ndcg_10"] for q in self.queries])

    def of(self, setting: Setting) -> np.ndarray:
        """nDCG@10 per query of ``setting``."""
        return self.ndcg({q: setting.fuse(self.dense[q], self.sparse[q]) for q in self.queries})


def cross_validate(runs: Runs, table: dict[Setting, np.ndarray], folds: int = FOLDS) -> dict:
    """Held-out nDCG@10 per query, and the setting each fold was scored with.

    The candidates are the settings of ``table`` (each one's nDCG@10 per query);
    ties go to the one listed first.
    """
    held_out = np.zeros(len(runs.queries))
    chosen = []
    positions = np.arange(len(runs.queries))
    settings = list(table)
    for fold in range(folds):
        test = positions % folds == fold
        best = max(settings, key=lambda s: table[s][~test].mean())
        held_out[test] = table[best][test]
        chosen.append(best)
    overall = max(settings, key=lambda s: table[s].mean())
    return {
        "per_query": held_out,
        "chosen": chosen,
        "deploy": overall,
        "deploy_folds": Counter(chosen)[overall],
    }


def report(folder: Path, split: str, runs_path: Path) -> dict[str, object]:
    """The grid's means, the cross-validated result and the setting to deploy."""
    runs = Runs(folder, split, runs_path)
    table = {s: runs.of(s) for s in GRID}
    cv = cross_validate(runs, table)
    dense = runs.ndcg(runs.dense)
    sparse = runs.ndcg(runs.sparse)
    return {
        "queries": len(runs.queries),
        "dense": float(dense.mean()),
        "sparse": float(sparse.mean()),
        "cross_validated": float(cv["per_query"].mean()),
        "cross_validated_ci95": list(astuple(mean_interval(cv["per_query"]))[1:]),
        "folds": [asdict(s) for s in cv["chosen"]],
        "deploy": asdict(cv["deploy"]),
        "deploy_chosen_by_folds": cv["deploy_folds"],
        "deploy_on_all": float(table[cv["deploy"]].mean()),
        "best_chunk_setting": asdict(
            max((s for s in GRID if s.group_by == "chunk"), key=lambda s: table[s].mean())
        ),
        "grid": {json.dumps(asdict(s)): float(v.mean()) for s, v in table.items()},
    }


if __name__ == "__main__":
    result = report(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
    grid = result.pop("grid")
    assert isinstance(grid, dict)
    for name, value in sorted(grid.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{value:.4f} {name}")
    print(json.dumps(result, indent=2))
    if len(sys.argv) > 4:
        Path(sys.argv[4]).write_text(json.dumps({**result, "grid": grid}, indent=2) + "\n")
