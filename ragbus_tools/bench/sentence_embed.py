"""An answer's sentences embedded, timed: ``python -m ragbus_tools.bench.sentence_embed``.

For each of ``--n`` SciFact claims, five corpus abstracts stand in for the
retrieved passages; their sentences are split and shortlisted as
:class:`~generate_svc.extractive.ExtractiveAnswerer` does, and the chosen ``k``
sentences are embedded two ways through an ``asyncio.to_thread`` hop:

* ``passages``: :meth:`FastEmbedEmbedder.embed_documents`, fastembed's session with
  ``RAGBUS_EMBED_THREADS`` threads (``ragbus up`` on 2 cores gives it 1), one call
  padded to the longest sentence;
* ``few``: :meth:`FastEmbedEmbedder.embed_few`, the question session
  (``RAGBUS_EMBED_QUERY_THREADS``, default 2), one unpadded call per sentence.

It prints, per ``k`` and path, the median wall time and the process's CPU time per
answer in ms, and the mean tokens embedded. No cache: every sentence is new.
Example::

    RAGBUS_EMBED_THREADS=1 python -m ragbus_tools.bench.sentence_embed \\
        ../shared/datasets/scifact --n 100
"""

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from generate_svc.sentences import MIN_WORDS, passage_sentences
from generate_svc.shortlist import shortlist
from ragbus.embedding.fastembed_embedder import FastEmbedEmbedder
from ragbus.settings import InfraSettings
from ragbus_tools.bench.question_embed import time_calls

PASSAGES = 5
"""Abstracts per answer, as ``top_k`` 5 retrieves."""


def answers(dataset: Path, n: int, k: int) -> list[list[str]]:
    """Per claim, the ``k`` shortlisted sentences of ``PASSAGES`` abstracts (no repeats)."""
    with (dataset / "queries_train.jsonl").open(encoding="utf-8") as lines:
        claims = [json.loads(line)["text"] for line in lines if line.strip()][:n]
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as lines:
        abstracts = [
            json.loads(line)["text"] for _, line in zip(range(n * PASSAGES), lines, strict=False)
        ]
    out = []
    for i, claim in enumerate(claims):
        texts = [
            s
            for a in abstracts[i * PASSAGES : (i + 1) * PASSAGES]
            for s in passage_sentences(a, MIN_WORDS)
        ]
        out.append([texts[j] for j in shortlist(claim, texts, k)])
    return out


async def bench(dataset: Path, n: int, ks: Sequence[int]) -> list[dict[str, Any]]:
    """One row per ``k`` and path: ``k``, ``path``, ``p50_ms``, ``cpu_ms``, ``tokens``."""
    embedder = FastEmbedEmbedder(InfraSettings())
    embedder.warm_up()
    embedder.embed_few(["warm up"])
    rows = []
    for k in ks:
        groups = answers(dataset, n, k)
        tokens = float(
            np.mean([sum(len(embedder.tokenizer.encode(s).ids) for s in g) for g in groups])
        )
        for path, embed in (("passages", embedder.embed_documents), ("few", embedder.embed_few)):
            p50, cpu = await time_calls(embed, groups)
            rows.append({"k": k, "path": path, "p50_ms": p50, "cpu_ms": cpu, "tokens": tokens})
    return rows


def main() -> None:
    """Parse arguments, run, print one line per row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="a BEIR folder with queries_train.jsonl")
    parser.add_argument("--n", type=int, default=100, help="answers per row")
    parser.add_argument("--k", type=int, action="append", help="sentences per answer; 8 and 6")
    args = parser.parse_args()
    for row in asyncio.run(bench(args.dataset, args.n, args.k or [8, 6])):
        print(
            f"k={row['k']} {row['path']:<9} p50 {row['p50_ms']:6.2f} ms   "
            f"CPU {row['cpu_ms']:6.2f} ms per answer   {row['tokens']:.0f} tokens"
        )


if __name__ == "__main__":
    main()
