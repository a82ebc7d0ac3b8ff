"""onnxruntime threads for the embedder: chunks/s per ``RAGBUS_EMBED_THREADS`` value.

The same SciFact documents are embedded by one embedder per thread setting, the
settings taking turns each round (so other load on a shared machine falls on all of
them alike); the median per setting is printed with its ratio to the first.

Usage::

    python -m ragbus_tools.bench.threads --docs 120 --rounds 3 --threads 0 1 2
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ragbus.embedding import FastEmbedEmbedder
from ragbus.settings import InfraSettings
from ragbus_tools.beir import read_corpus

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared/datasets/scifact/corpus.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[0, 1, 2], help="0: default")
    args = parser.parse_args()
    texts = [d.content for d in read_corpus(args.corpus, limit=args.docs)]
    embedders = {}
    for n in args.threads:
        embedders[n] = FastEmbedEmbedder(InfraSettings(embed_threads=n or None))
        embedders[n].warm_up()
    seconds: dict[int, list[float]] = {n: [] for n in args.threads}
    for _ in range(args.rounds):
        for n, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_documents(texts)
            seconds[n].append(time.perf_counter() - started)
    medians = {n: float(np.median(s)) for n, s in seconds.items()}
    first = medians[args.threads[0]]
    for n, s in medians.items():
        label = "default" if n == 0 else f"{n} thread(s)"
        print(f"{label}: {len(texts) / s:.1f} docs/s (x{first / s:.2f})")
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
