"""BEIR-style metrics of ranked passages, with pytrec_eval (TREC's trec_eval).

Passages are chunks and qrels are documents: :func:`document_run` ranks each
document where its first (best) passage ranks. nDCG@10 is ``ndcg_cut_10``,
Recall@100 ``recall_100`` and MRR@10 ``recip_rank`` of the run cut at 10.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np


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


def per_query(
    run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """nDCG@10, Recall@100 and MRR@10 of every judged query, with pytrec_eval.

    A query with no hits counts, with 0 for every metric.
    """
    import pytrec_eval

    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:10]) for q, d in run.items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    return {
        q: {
            "ndcg_10": full.get(q, {}).get("ndcg_cut_10", 0.0),
            "recall_100": full.get(q, {}).get("recall_100", 0.0),
            "mrr_10": mrr.get(q, {}).get("recip_rank", 0.0),
        }
        for q in qrels
    }


def score(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 of ``run`` with pytrec_eval."""
    table = per_query(run, qrels)
    return {
        key: float(np.mean([table[q][key] for q in qrels]))
        for key in ("ndcg_10", "recall_100", "mrr_10")
    }
