"""Latency of ``POST /v1/retrieve``, per mode: ``python -m ragbus_tools.bench.retrieve_latency``.

Sends questions one at a time (no queueing in the figures) to a running gateway
and prints, per mode, the client's wall-time percentiles and the retrieve
service's own medians (embed, filter, search). Each question is sent twice: the
first pass misses the query-embedding cache, the second hits it; both are shown.

Example (SciFact ingested into tenant ``scifact``)::

    python -m ragbus_tools.bench.retrieve_latency --url http://127.0.0.1:8401 --api-key $KEY \\
        --queries ../shared/datasets/scifact/queries_train.jsonl --n 200
"""

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

MODES = ("dense", "sparse", "hybrid")


def _questions(path: Path | None, n: int) -> list[str]:
    if path is None:
        base = ["What does the retrieve service do?", "How are documents versioned?"]
        return [f"{q} ({i})" for i in range(n) for q in base][:n]
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row["text"] for row in rows[:n]]


async def _pass(
    client: httpx.AsyncClient, questions: list[str], mode: str, top_k: int
) -> dict[str, Any]:
    wall: list[float] = []
    server: dict[str, list[float]] = {"embed_ms": [], "filter_ms": [], "search_ms": []}
    for question in questions:
        started = time.perf_counter()
        response = await client.post(
            "/v1/retrieve", json={"question": question, "top_k": top_k, "mode": mode}
        )
        wall.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        timings = response.json()["timings"]
        for key, values in server.items():
            values.append(timings.get(key) or 0.0)
    pct = np.percentile(wall, [50, 95, 99])
    return {
        "p50_ms": float(pct[0]),
        "p95_ms": float(pct[1]),
        "p99_ms": float(pct[2]),
        **{f"{k}_p50": float(np.median(v)) for k, v in server.items()},
    }


async def bench(
    url: str, api_key: str, questions: list[str], modes: list[str], top_k: int
) -> list[dict[str, Any]]:
    """Per mode and cache state, the latency figures (milliseconds)."""
    rows = []
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0) as client:
        await _pass(client, questions[:3], modes[0], top_k)  # warm connections and model
        for mode in modes:
            for cache in ("cold", "warm"):  # the cold pass fills the cache for the warm one
                figures = await _pass(client, questions, mode, top_k)
                rows.append({"mode": mode, "cache": cache, "n": len(questions), **figures})
    return rows


def main() -> None:
    """Parse arguments, run the benchmark, print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("RAGBUS_API_KEY"),
        help="a key of the tenant whose documents are searched (default: RAGBUS_API_KEY)",
    )
    parser.add_argument("--queries", type=Path, help="a BEIR queries .jsonl file")
    parser.add_argument("--n", type=int, default=200, help="questions per pass")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--mode", action="append", choices=MODES, help="repeatable")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    questions = _questions(args.queries, args.n)
    rows = asyncio.run(
        bench(args.url, args.api_key, questions, args.mode or list(MODES), args.top_k)
    )
    header = f"{'mode':<7} {'cache':<5} {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7}"
    print(header + f" {'embed':>7} {'filter':>7} {'search':>7}  (ms; server medians)")
    for r in rows:
        print(
            f"{r['mode']:<7} {r['cache']:<5} {r['n']:>4} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}"
            f" {r['p99_ms']:>7.1f} {r['embed_ms_p50']:>7.1f} {r['filter_ms_p50']:>7.1f}"
            f" {r['search_ms_p50']:>7.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
