"""``ragbus bench ingest --json`` end to end: it starts its own stack, ingests, reports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

TOPICS = ("otters", "glaciers", "violins", "lichens", "comets", "kilns", "herons", "tides",
          "mosses", "anvils")  # fmt: skip


def test_bench_ingest_json_reports_positive_rates(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n, topic in enumerate(TOPICS):
        (corpus / f"{n:02d}-{topic}.txt").write_text(
            f"A short note about {topic}. Number {n} in a set of ten; it says little else."
        )
    run = subprocess.run(
        [sys.executable, "-c", "from ragbus_tools.cli import main; main()", "bench", "ingest",
         str(corpus), "--json", "--timeout", "240"],
        capture_output=True, text=True, timeout=290,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert (report["documents"], report["indexed"], report["failed"]) == (10, 10, 0)
    assert report["chunks"] == report["raw_chunks"] == 10
    for key in ("pipeline_chunks_per_s", "raw_chunks_per_s", "ratio", "docs_per_s",
                "raw_before_chunks_per_s", "raw_after_chunks_per_s"):  # fmt: skip
        assert report[key] > 0, key
    assert 0 < report["p50_searchable_ms"] <= report["p95_searchable_ms"]
    assert report["stages"]["embed + store (embedding -> indexed)"]["documents"] == 10
    assert report["peak_rss_mb"]["ragbus up (gateway + 4 services)"] > 100


def test_bench_ingest_with_the_fake_embedder_reports_the_bus_ceiling(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for n, topic in enumerate(TOPICS[:5]):
        (corpus / f"{n:02d}-{topic}.txt").write_text(f"A short note about {topic}, number {n}.")
    run = subprocess.run(
        [sys.executable, "-c", "from ragbus_tools.cli import main; main()", "bench", "ingest",
         str(corpus), "--embedder", "fake", "--json", "--timeout", "120"],
        capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert (report["documents"], report["indexed"], report["failed"]) == (5, 5, 0)
    assert report["embedder"] == "fake"
    assert report["chunks"] == report["plain_loop_chunks"] == 5
    positive = (
        "pipeline_chunks_per_s",
        "plain_loop_chunks_per_s",
        "ratio_to_plain_loop",
        "cpu_ms_per_chunk",
        "cpu_ms_per_document",
        "plain_loop_cpu_ms_per_chunk",
    )
    for key in positive:
        assert report[key] > 0, key
    processes = {"ragbus up (gateway + 4 services)", "nats-server", "postgres"}
    assert set(report["cpu_s"]) == set(report["cpu_ms_per_chunk_by_process"]) == processes
    assert report["cpu_s_total"] == pytest.approx(sum(report["cpu_s"].values()))
    assert len(report["load_avg"]["start"]) == len(report["load_avg"]["end"]) == 3
    assert report["raw_chunks_per_s"] is None  # no model, no raw run
    for line in ("pipeline / plain loop", "pipeline CPU ms per chunk", "load average 1 min"):
        assert line in run.stdout
