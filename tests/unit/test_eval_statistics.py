"""``ragbus eval``'s intervals and comparisons, and the cross-validated fusion choice."""

import json
from pathlib import Path

import numpy as np
import pytest

from ragbus_tools import tune_fusion
from ragbus_tools.bench.bootstrap import mean_interval, paired_difference
from ragbus_tools.eval import DEFAULT_MODE, MODES, ModeResult, compared

pytestmark = pytest.mark.unit


def test_the_interval_holds_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(1)
    few = mean_interval(rng.uniform(size=50))
    many = mean_interval(rng.uniform(size=5000), resamples=1000)
    assert few.low < few.mean < few.high
    assert many.low < many.mean < many.high
    assert many.high - many.low < (few.high - few.low) / 5  # about 1 / sqrt(100)
    assert abs(many.mean - 0.5) < 0.02
    assert mean_interval([0.3] * 10) == pytest.approx(mean_interval([0.3] * 10))
    with pytest.raises(ValueError):
        mean_interval([])


def test_pairing_removes_what_both_systems_share():
    rng = np.random.default_rng(2)
    difficulty = rng.uniform(size=400)  # per query, shared by both systems
    a = difficulty + 0.02
    b = difficulty + rng.normal(0, 0.005, size=400)
    paired = paired_difference(a, b)
    assert paired.low > 0  # a is better beyond noise
    assert paired.mean == pytest.approx(0.02, abs=0.002)
    # unpaired intervals overlap: the queries' spread hides the difference
    assert mean_interval(a).low < mean_interval(b).high
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_every_row_is_compared_with_the_default_on_the_same_queries():
    def row(mode: str, ndcg: float) -> ModeResult:
        return ModeResult(mode, 3, ndcg, ndcg, ndcg, 0.0, 0.0, 1.0, 1.0, 1.0)

    ndcg = {DEFAULT_MODE: [0.5, 0.6, 0.7], "dense": [0.4, 0.6, 0.5]}
    rows = compared([row(DEFAULT_MODE, 0.6), row("dense", 0.5)], ndcg)
    assert rows[0].delta is None
    assert rows[1].delta == pytest.approx(-0.1)
    assert rows[1].delta_low is not None and rows[1].delta_high is not None
    assert rows[1].delta_low <= rows[1].delta <= rows[1].delta_high <= 0
    assert compared([row("dense", 0.5)], {"dense": [0.5]})[0].delta is None


def test_the_default_mode_sends_no_options_and_the_single_sides_rank_chunks():
    assert MODES[DEFAULT_MODE] == {}  # exactly what a client that names nothing gets
    assert MODES["dense"] == {"mode": "dense", "group_by": "chunk"}
    assert MODES["sparse"] == {"mode": "sparse", "group_by": "chunk"}


def _dataset(folder: Path, queries: int) -> Path:
    docs = [{"_id": f"d{i}", "title": f"T{i}", "text": f"text {i}"} for i in range(queries + 1)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    qs = [{"_id": f"q{i:03d}", "text": f"question {i}"} for i in range(queries)]
    (folder / "queries_train.jsonl").write_text("\n".join(json.dumps(q) for q in qs) + "\n")
    (folder / "qrels_train.tsv").write_text("".join(f"q{i:03d}\td{i}\t1\n" for i in range(queries)))
    return folder


def test_cross_validation_scores_each_query_with_a_setting_tuned_without_it(tmp_path):
    queries, rng = 40, np.random.default_rng(4)
    folder = _dataset(tmp_path, queries)
    runs: dict[str, dict[str, list[list[object]]]] = {"dense": {}, "sparse": {}}
    for i in range(queries):
        for side, scale in (("dense", 1.0), ("sparse", 10.0)):
            picked = rng.choice(queries, size=5, replace=False)
            ranked = sorted(rng.uniform(size=5) * scale, reverse=True)
            runs[side][f"q{i:03d}"] = [
                [f"00000000-0000-0000-{n:04d}-{d:012d}", f"d{d}.txt", score]
                for n, (d, score) in enumerate(zip(picked, ranked, strict=True))
            ]
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(runs))
    loaded = tune_fusion.Runs(folder, "train", path)
    grid = tune_fusion.GRID[::7]  # every kind of setting, fewer of each: a faster test
    assert {(s.group_by, s.method) for s in grid} == {
        ("chunk", "rrf"),
        ("document", "rrf"),
        ("document", "convex"),
    }
    table = {s: loaded.of(s) for s in grid}
    cv = tune_fusion.cross_validate(loaded, table, folds=4)
    fold = np.arange(queries) % 4
    for f, chosen in enumerate(cv["chosen"]):
        others = {s: table[s][fold != f].mean() for s in grid}
        assert others[chosen] == max(others.values())  # tuned on the other folds only
        assert np.array_equal(cv["per_query"][fold == f], table[chosen][fold == f])
    assert table[cv["deploy"]].mean() == max(v.mean() for v in table.values())
    assert cv["deploy_folds"] == cv["chosen"].count(cv["deploy"])
