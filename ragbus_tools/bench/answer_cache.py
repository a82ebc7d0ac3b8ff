"""What the answer cache saves: ``POST /v1/query`` latency on a hit vs a miss.

Indexes ``--docs`` for a fresh tenant (see ``ragbus_tools.bench.live``), asks each
question once to fill the cache, then ``--rounds`` times, taking turns, asks it
with ``"cache": false`` (a miss: retrieval and generation run) and without (a
hit). Times are wall clock at the client.

Usage, against a running stack (``ragbus up`` answers offline unless
``RAGBUS_LLM_MODEL`` is set)::

    python -m ragbus_tools.bench.answer_cache --url http://127.0.0.1:8000 --rounds 30
"""

import asyncio
import statistics
import time
from itertools import cycle

import httpx

from ragbus_tools.bench.live import arguments, indexed_tenant, summary
from ragbus_tools.client import auth_headers

QUESTIONS = [
    "How do I spawn a child process and read its output?",
    "How do I read a file asynchronously?",
    "How do I listen for an event only once?",
    "How do I pipe one stream into another?",
]


async def ask(http: httpx.AsyncClient, question: str, *, cache: bool) -> tuple[float, dict]:
    """Milliseconds for one ``POST /v1/query`` and its JSON."""
    started = time.perf_counter()
    raw = await http.post("/v1/query", json={"question": question, "cache": cache})
    elapsed = (time.perf_counter() - started) * 1000
    raw.raise_for_status()
    return elapsed, raw.json()


async def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    tenant, key = await indexed_tenant(args, "cache-bench", args.docs, timeout_s=900)
    misses: list[float] = []
    hits: list[float] = []
    usage: list[dict] = []
    async with httpx.AsyncClient(base_url=args.url, headers=auth_headers(key)) as http:
        http.timeout = httpx.Timeout(180)
        for question in QUESTIONS:
            await ask(http, question, cache=True)  # fills the cache (and warms up)
        for _, question in zip(range(args.rounds), cycle(QUESTIONS), strict=False):
            miss_ms, miss = await ask(http, question, cache=False)
            hit_ms, hit = await ask(http, question, cache=True)
            if not hit.get("cached") or miss.get("cached"):
                raise RuntimeError(f"expected a miss then a hit for {question!r}")
            misses.append(miss_ms)
            hits.append(hit_ms)
            if miss.get("usage"):
                usage.append(miss["usage"])
    print(f"{args.rounds} rounds of miss then hit, tenant {tenant} at {args.url}")
    print(f"miss {summary(misses)}")
    print(f"hit  {summary(hits)}")
    print(f"p50 saved per hit: {statistics.median(misses) - statistics.median(hits):.1f} ms")
    if usage:
        tokens = statistics.median(u["prompt_tokens"] + u["completion_tokens"] for u in usage)
        costs = [u["cost_usd"] for u in usage if u.get("cost_usd") is not None]
        cost = f"{statistics.median(costs):.6f} USD" if costs else "unpriced"
        print(f"LLM saved per hit (p50 of misses): {tokens:.0f} tokens, {cost}")


if __name__ == "__main__":
    asyncio.run(main())
