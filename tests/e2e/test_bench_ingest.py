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
