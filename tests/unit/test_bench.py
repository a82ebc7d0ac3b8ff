"""Pure parts of ``ragbus bench``: percentiles, summaries, output shape and arguments."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ragbus_tools.bench import query as bench_query
from ragbus_tools.bench.corpus import BenchDocument, load_documents
from ragbus_tools.bench.ingest import summarize
from ragbus_tools.bench.raw import RawRate
from ragbus_tools.bench.report import emit, ingest_tables, query_tables
from ragbus_tools.bench.stats import latency_summary, percentile, rate, ratio, stage_summary
from ragbus_tools.bench.target import RssSampler, Target
from ragbus_tools.bench.uploads import Upload
from ragbus_tools.cli import app

pytestmark = pytest.mark.unit

INGEST_KEYS = {
    "pipeline_chunks_per_s",
    "raw_chunks_per_s",
    "ratio",
    "docs_per_s",
    "p50_searchable_ms",
    "p95_searchable_ms",
}


def test_percentile_interpolates_linearly() -> None:
    samples = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(samples, 50) == 30.0
    assert percentile(samples, 95) == pytest.approx(48.0)
    assert percentile(samples, 0) == 10.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="percentile"):
        percentile(samples, 101)


def test_rate_and_ratio_refuse_zero_time() -> None:
    assert rate(30, 1.5) == 20.0
    assert rate(30, 0.0) is None
    assert ratio(9.0, 10.0) == 0.9
    assert ratio(None, 10.0) is None
    assert ratio(9.0, 0.0) is None


def test_latency_summary_counts_successes_per_second() -> None:
    summary = latency_summary([5.0] * 90 + [50.0] * 10, errors=3, elapsed_s=10.0)
    assert summary["requests"] == 100
    assert summary["errors"] == 3
    assert summary["qps"] == 10.0
    assert summary["p50_ms"] == 5.0
    assert summary["p99_ms"] == 50.0
    assert set(summary) == {"requests", "errors", "qps", "p50_ms", "p95_ms", "p99_ms"}


def test_stage_summary_in_milliseconds() -> None:
    stages = stage_summary({"embed": [1.0, 2.0, 3.0], "empty": []})
    assert stages["embed"] == {"p50_ms": 2000.0, "p95_ms": pytest.approx(2900.0), "documents": 3}
    assert stages["empty"] == {"p50_ms": None, "p95_ms": None, "documents": 0}


def _upload(sent: float, indexed: float | None, status: str = "indexed", chunks: int = 2) -> Upload:
    at = datetime.fromtimestamp(indexed, UTC).isoformat() if indexed else None
    doc = {"id": f"d{sent}", "status": status, "chunks": chunks, "indexed_at": at}
    upload = Upload(BenchDocument("a.txt", b"a"), sent, doc)
    upload.first_status_at = {"parsing": sent + 0.5, "embedding": sent + 1.0}
    if indexed:
        upload.first_status_at["indexed"] = indexed
    return upload


def test_summarize_rates_over_first_upload_to_last_indexed() -> None:
    uploads = [
        _upload(1000.0, 1002.0),
        _upload(1001.0, 1010.0),
        _upload(1002.0, None, status="failed"),
    ]
    duplicate = _upload(1003.0, None, status="indexed")
    duplicate.duplicate = True
    report = summarize([*uploads, duplicate], RawRate(chunks=4, seconds=0.5), {"up": 512.0})
    assert (report["indexed"], report["failed"], report["duplicates"]) == (2, 1, 1)
    assert report["wall_s"] == pytest.approx(10.0)
    assert report["docs_per_s"] == pytest.approx(0.2)
    assert report["pipeline_chunks_per_s"] == pytest.approx(0.4)
    assert report["raw_chunks_per_s"] == 8.0
    assert report["ratio"] == pytest.approx(0.05)
    assert report["p50_searchable_ms"] == pytest.approx(5500.0)
    embed = report["stages"]["embed + store (embedding -> indexed)"]
    assert embed["documents"] == 2
    assert embed["p50_ms"] == pytest.approx(4500.0)
    assert report["peak_rss_mb"] == {"up": 512.0}


def test_emit_prints_the_report_as_the_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    report = summarize([_upload(1000.0, 1002.0)], RawRate(2, 0.1), {"ragbus up": 500.0})
    emit(ingest_tables(report), report, as_json=True)
    out = capsys.readouterr().out.rstrip("\n").splitlines()
    assert "pipeline / raw" in "\n".join(out)
    last = json.loads(out[-1])
    assert INGEST_KEYS <= set(last)
    assert all(last[k] > 0 for k in INGEST_KEYS)


def test_query_table_and_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    row = latency_summary([1.0, 2.0], 0, 1.0)
    report = {"retrieve": {"1": row, "8": row}, "query": {"1": row}, "nats_noop": row}
    emit(query_tables(report), report, as_json=True)
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert any(line.startswith("│ NATS ") for line in lines)
    assert json.loads(lines[-1])["retrieve"]["8"]["p99_ms"] == pytest.approx(1.99)


async def test_load_counts_errors_and_successes() -> None:
    calls = 0

    async def flaky(question: str) -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise httpx.ConnectError("refused")

    summary = await bench_query.load(flaky, ["q"], concurrency=2, seconds=0.05)
    assert summary["errors"] + summary["requests"] == calls
    assert summary["errors"] >= 1 and summary["requests"] >= 1


def test_questions_from_beir_queries_else_openings(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "1", "title": "Cats", "text": "Cats purr when content."}\n')
    docs = load_documents(corpus)
    assert bench_query.questions_for(corpus, docs) == ["Cats Cats purr when content."]
    (tmp_path / "queries_train.jsonl").write_text('{"_id": "q1", "text": "Why do cats purr?"}\n')
    assert bench_query.questions_for(corpus, docs) == ["Why do cats purr?"]


def test_load_documents_from_a_folder_with_limit(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "c.bin"):
        (tmp_path / name).write_text(f"text of {name}")
    assert [d.filename for d in load_documents(tmp_path)] == ["a.txt", "b.md"]
    assert [d.filename for d in load_documents(tmp_path, limit=1)] == ["a.txt"]


def test_rss_sampler_reads_a_live_process() -> None:
    target = Target("http://unused", None, processes={"me": os.getpid(), "gone": 2**22 + 1})
    RssSampler(target).sample()
    assert target.peak_rss_mb["me"] > 1.0
    assert "gone" not in target.peak_rss_mb


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "query", "x.jsonl", "--tenant", "t"], "--tenant needs --url"),
        (["bench", "query", "x.jsonl", "--mode", "nope"], "unknown mode"),
        (["bench", "ingest", "x", "--url", "http://h", "--embed-workers", "2"], "embed-workers"),
        (["bench", "ingest", "x", "--embed-workers", "2", "--vector-store", "qdrant"], "pgvector"),
        (["bench", "ingest", "x", "--vector-store", "chroma"], "qdrant or pgvector"),
        (["bench", "ingest", "x", "--precision", "fp16"], "fp32 or int8"),
        (["bench", "ingest", "x", "--embedder", "gpu"], "model or fake"),
        (["bench", "ingest", "x", "--embedder", "fake", "--url", "http://h"], "drop --url"),
        (["bench", "ingest", "x", "--embedder", "fake", "--peer"], "drop --peer"),
        (["bench", "ingest", "x", "--embedder", "fake", "--precision", "int8"], "drop --precision"),
        (["bench", "ingest", "x", "--embedder", "fake", "--embed-workers", "2"], "drop --embed"),
    ],
)
def test_bench_rejects_bad_arguments(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_bench_ingest_missing_path_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no such file" in result.output
