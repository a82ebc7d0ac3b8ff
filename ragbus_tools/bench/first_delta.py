"""Time to first delta: how long a streamed ``POST /v1/query`` takes to show text.

Indexes ``--docs`` for a fresh tenant (see ``ragbus_tools.bench.live``), then asks
``--questions`` questions one after another with ``"stream": true`` and measures,
per question, from sending the request:

* ``query``: the ``query`` event (the question was accepted and published);
* ``first delta``: the first ``delta`` event (retrieval and the start of generation);
* ``done``: the ``done`` event (the whole answer with citations).

Usage, against a running stack (``ragbus up`` answers offline unless
``RAGBUS_LLM_MODEL`` is set)::

    python -m ragbus_tools.bench.first_delta --url http://127.0.0.1:8000 --questions 30
"""

import asyncio
import json
import time
from itertools import cycle

import httpx
from httpx_sse import aconnect_sse

from ragbus_tools.bench.live import arguments, indexed_tenant, summary
from ragbus_tools.client import auth_headers

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


async def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=30)
    args = parser.parse_args()

    tenant, key = await indexed_tenant(args, "ttfd", args.docs, timeout_s=600)
    headers = auth_headers(key)
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
