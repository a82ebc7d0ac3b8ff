"""``ragbus eval`` pieces that need no server: reading BEIR files, runs and metrics."""

import json
import math
from pathlib import Path

import pytest

from ragbus_tools.bench.trec_metrics import document_run, score
from ragbus_tools.eval import load_queries

pytestmark = pytest.mark.unit


def _dataset(folder: Path) -> Path:
    (folder / "queries_train.jsonl").write_text(
        "\n".join(
            json.dumps(q)
            for q in (
                {"_id": "1", "text": "first"},
                {"_id": "2", "text": "second"},
                {"_id": "3", "text": "not judged"},
            )
        )
    )
    (folder / "qrels_train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\tA\t1\n2\tB\t1\n2\tC\t1\n"
    )
    return folder


def test_only_judged_queries_are_kept_and_the_header_is_skipped(tmp_path):
    queries, qrels = load_queries(_dataset(tmp_path), "train")
    assert queries == {"1": "first", "2": "second"}
    assert qrels == {"1": {"A": 1}, "2": {"B": 1, "C": 1}}


def test_the_beir_layout_with_a_qrels_folder_is_read_too(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("q\tA\t2\n")
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "t"}) + "\n")
    assert load_queries(tmp_path, "test") == ({"q": "t"}, {"q": {"A": 2}})
    with pytest.raises(FileNotFoundError, match="qrels"):
        load_queries(tmp_path, "dev")


def test_a_document_ranks_at_its_best_chunk_whatever_the_score_scale():
    passages = [
        {"filename": "B.txt", "score": 0.02},
        {"filename": "A.txt", "score": 0.019},
        {"filename": "B.txt", "score": 0.018},
        {"filename": "unknown.txt", "score": 0.01},
    ]
    run = document_run(passages, {"A.txt": "A", "B.txt": "B"})
    assert sorted(run, key=lambda d: -run[d]) == ["B", "A"]


def test_metrics_are_trec_eval_s():
    qrels = {"1": {"A": 1}, "2": {"B": 1, "C": 1}}
    run = {"1": {"X": 3.0, "A": 2.0}, "2": {"C": 5.0}}
    result = score(run, qrels)
    ndcg_1 = 1 / math.log2(3)  # A at rank 2, one relevant document
    ndcg_2 = 1 / (1 + 1 / math.log2(3))  # C at rank 1 of two relevant
    assert result["ndcg_10"] == pytest.approx((ndcg_1 + ndcg_2) / 2)
    assert result["recall_100"] == pytest.approx((1 + 0.5) / 2)
    assert result["mrr_10"] == pytest.approx((0.5 + 1) / 2)


def test_a_query_with_no_hits_counts_as_zero():
    result = score({"1": {"A": 1.0}}, {"1": {"A": 1}, "2": {"B": 1}})
    assert result["ndcg_10"] == pytest.approx(0.5)
