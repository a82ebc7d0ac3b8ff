"""Latency of the local cross-encoder reranker on real passages, in this process.

Loads a cross-encoder export with :class:`retrieve_svc.cross_encoder.CrossEncoderReranker`
and reranks ``--candidates`` chunks of a corpus folder (the first chunks of its
Markdown files, cut to about ``--words`` words) against a question, ``--runs``
times after one warm-up call. Prints p50 and p95 in milliseconds per rerank call.

The cost depends on the architecture, not on the weights: a MiniLM-L6 export
(``cross-encoder/ms-marco-MiniLM-L-6-v2``, or the seeded test model that
``tests/integration/cross_encoder_model.py`` builds from all-MiniLM-L6-v2) times the
same. Usage::

    python -m ragbus_tools.bench.rerank MODEL_DIR ../shared/corpus/nodejs-api --candidates 20
"""

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from retrieve_svc.cross_encoder import CrossEncoderReranker


def passages(folder: Path, count: int, words: int) -> list[str]:
    """``count`` pieces of about ``words`` words from the folder's Markdown files."""
    pieces: list[str] = []
    for path in sorted(folder.glob("*.md")):
        tokens = path.read_text(errors="ignore").split()
        pieces += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)][:2]
        if len(pieces) >= count:
            break
    return pieces[:count]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--words", type=int, default=150)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    texts = passages(args.corpus, args.candidates, args.words)
    batch, threads = args.batch_size, args.threads
    reranker = CrossEncoderReranker(args.model_dir, batch_size=batch, threads=threads)
    started = time.perf_counter()
    reranker.warm_up()
    load_ms = (time.perf_counter() - started) * 1000
    question = "How do I stop a running child process?"
    await reranker.rerank(question, texts)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        await reranker.rerank(question, texts)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"{len(texts)} passages of ~{args.words} words, batch {args.batch_size}: "
        f"load {load_ms:.0f} ms, p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
