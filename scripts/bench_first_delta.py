"""Time to first delta: how long a streamed ``POST /v1/query`` takes to show text.

Uploads a few documents for a fresh tenant (``--docs``, default the Node.js API docs
child_process.md, fs.md, events.md and stream.md next to the repository), waits
until they are indexed, then asks ``--questions`` questions one after another with
``"stream": true`` and measures, per question, from sending the request:

* ``query``: the ``query`` event (the question was accepted and published);
* ``first delta``: the first ``delta`` event (retrieval and the start of generation);
* ``done``: the ``done`` event (the whole answer with citations).

Usage, against a running stack (``ragbus up`` answers offline unless
``RAGBUS_LLM_MODEL`` is set)::

    python scripts/bench_first_delta.py --url http://127.0.0.1:8000 --questions 30
"""

import argparse
import asyncio
import json
import statistics
import time
import uuid
from itertools import cycle
from pathlib import Path

import httpx
from httpx_sse import aconnect_sse

from ragbus.client import RagbusClient

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "nodejs-api"
DEFAULT_DOCS = [CORPUS / f for f in ("child_process.md", "fs.md", "events.md", "stream.md")]
QUESTIONS = [
    "How do I spawn a child process and read its output?",
    "How do I read a file asynchronously?",
    "How do I listen for an event only once?",
    "What happens when a readable stream is paused?",
    "How do I kill a child process?",
    "How do I watch a directory for changes?",
    "How do I remove an event listener?",
    "How do I pipe one stream into another?",
]


async def one(http: httpx.AsyncClient, question: str) -> dict[str, float]:
    """Ask one streamed question; milliseconds from the request to each event."""
    marks: dict[str, float] = {}
    started = time.perf_counter()
    body = {"question": question, "stream": True}
    async with aconnect_sse(http, "POST", "/v1/query", json=body) as source:
        async for sse in source.aiter_sse():
            elapsed = (time.perf_counter() - started) * 1000
            name = {"query": "query", "delta": "first delta"}.get(sse.event, sse.event)
            marks.setdefault(name, elapsed)
            if sse.event in ("done", "error"):
                if sse.event == "error":
                    raise RuntimeError(f"{question!r} failed: {json.loads(sse.data)}")
                break
    return marks


def summary(values: list[float]) -> str:
    """``p50 / p95 / max`` in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--docs", type=Path, nargs="*", default=DEFAULT_DOCS)
    parser.add_argument("--questions", type=int, default=30)
    args = parser.parse_args()

    tenant = f"ttfd-{uuid.uuid4().hex[:8]}"
    async with RagbusClient(args.url, tenant) as client:
        ids = [(await client.upload(path))["id"] for path in args.docs]
        deadline = time.monotonic() + 600
        while ids:
            docs = [await client.document(i) for i in ids]
            ids = [d["id"] for d in docs if d["status"] not in ("indexed", "failed")]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed in 600 s: {ids}")
            await asyncio.sleep(0.5)
    headers = {"X-Tenant-ID": tenant}
    runs: list[dict[str, float]] = []
    async with httpx.AsyncClient(base_url=args.url, headers=headers, timeout=120) as http:
        await one(http, QUESTIONS[0])  # warm-up, not counted
        for _, question in zip(range(args.questions), cycle(QUESTIONS), strict=False):
            runs.append(await one(http, question))
    print(f"{len(runs)} streamed questions, one at a time, tenant {tenant} at {args.url}")
    for name in ("query", "first delta", "done"):
        print(f"{name:12s} {summary([r[name] for r in runs])}")


if __name__ == "__main__":
    asyncio.run(main())
