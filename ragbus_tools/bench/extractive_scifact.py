"""How often the offline extractive answerer quotes a gold SciFact evidence sentence.

For each SciFact train claim with evidence (``evidence_train.jsonl``), the claim is
the question and the answer is :class:`~generate_svc.extractive.ExtractiveAnswerer`
with the real all-MiniLM-L6-v2. A claim is a *hit* when one quoted sentence is one of
its gold rationale sentences (whitespace- and case-insensitive; a quoted sentence
that contains the gold one, or is contained in it, counts, because our sentence
splitter and SciFact's may cut differently).

Two settings:

* ``oracle``: the passages are the claim's gold abstracts only (sentence choice alone);
* ``retrieved``: the passages are the top ``--top-k`` abstracts by cosine among a pool
  of the sampled claims' gold abstracts plus ``--distractors`` other corpus abstracts
  (retrieval plus sentence choice, a smaller haystack than the whole corpus).

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python -m ragbus_tools.bench.extractive_scifact --limit 200

Prints progress every 25 claims, then the figures. Sentence vectors are cached
by text (abstracts recur across claims and settings), which changes no result.
On two busy cores it takes about 3 s per claim.
"""

import argparse
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from generate_svc.extractive import ExtractiveAnswerer
from ragbus.embedding import get_embedder
from ragbus.embedding.base import Embedder, Vectors
from ragbus.settings import InfraSettings
from schemas.queries import Passage

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def norm(text: str) -> str:
    """Lower-case ``text`` and collapse whitespace."""
    return " ".join(text.lower().split())


def is_gold(quoted: str, gold: list[str]) -> bool:
    """Whether a quoted sentence is (contains, or lies inside) a gold sentence."""
    q = norm(quoted)
    return any(q in g or g in q for g in map(norm, gold) if g and len(q) > 20)


class CachedEmbedder:
    """An embedder that embeds each distinct document text once (same vectors)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.model_id = inner.model_id
        self._vectors: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> Vectors:
        return self._inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            for text, vector in zip(missing, self._inner.embed_documents(missing), strict=True):
                self._vectors[text] = np.asarray(vector)
        return np.stack([self._vectors[t] for t in texts])

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)


def to_passage(doc_id: str, doc: dict[str, str], score: float) -> Passage:
    """A corpus abstract as one passage (title, blank line, text, as BEIR embeds it)."""
    return Passage(
        chunk_id=uuid.uuid5(uuid.NAMESPACE_URL, f"scifact/{doc_id}"),
        document_id=uuid.uuid5(uuid.NAMESPACE_URL, f"scifact-doc/{doc_id}"),
        filename=f"{doc_id}.txt",
        text=f"{doc['title']}\n\n{doc['text']}",
        score=score,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=200, help="claims to evaluate")
    parser.add_argument("--distractors", type=int, default=300)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--max-sentences", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    claims = {
        row["_id"]: row["text"]
        for row in map(json.loads, (args.data / "queries_train.jsonl").open())
    }
    gold_docs: dict[str, set[str]] = defaultdict(set)
    gold_texts: dict[str, list[str]] = defaultdict(list)
    for row in map(json.loads, (args.data / "evidence_train.jsonl").open()):
        gold_docs[row["query_id"]].add(row["doc_id"])
        gold_texts[row["query_id"]].extend(row["texts"])
    ids = sorted(gold_docs, key=int)[: args.limit]
    corpus = {row["_id"]: row for row in map(json.loads, (args.data / "corpus.jsonl").open())}
    needed = {d for q in ids for d in gold_docs[q]}
    others = sorted(set(corpus) - needed)
    pool = sorted(needed) + random.Random(args.seed).sample(others, args.distractors)

    embedder = get_embedder(InfraSettings())
    embedder.warm_up()
    cached = CachedEmbedder(embedder)
    # Duck-typed: the answerer calls only embed_query and embed_documents.
    answerer = ExtractiveAnswerer(cached, max_sentences=args.max_sentences)  # type: ignore[arg-type]
    started = time.perf_counter()
    pool_passages = [to_passage(d, corpus[d], 0.0) for d in pool]
    doc_vectors = np.asarray(embedder.embed_documents([p.text for p in pool_passages]))
    index_s = time.perf_counter() - started

    hits = {"oracle": 0, "retrieved": 0}
    answered = {"oracle": 0, "retrieved": 0}
    recall = 0
    started = time.perf_counter()
    for done, qid in enumerate(ids, start=1):
        if done % 25 == 0:
            print(f"... {done}/{len(ids)} claims, hits {hits}", file=sys.stderr, flush=True)
        claim, gold = claims[qid], gold_texts[qid]
        oracle = [to_passage(d, corpus[d], 1.0) for d in sorted(gold_docs[qid])]
        cosines = doc_vectors @ np.asarray(embedder.embed_query(claim))
        top = np.argsort(-cosines)[: args.top_k]
        retrieved = [to_passage(pool[i], corpus[pool[i]], float(cosines[i])) for i in top.tolist()]
        recall += any(pool[i] in gold_docs[qid] for i in top.tolist())
        for setting, passages in (("oracle", oracle), ("retrieved", retrieved)):
            chosen = answerer.select(claim, passages)
            answered[setting] += bool(chosen)
            hits[setting] += any(is_gold(c.text, gold) for c in chosen)
    answer_s = time.perf_counter() - started

    n = len(ids)
    print(f"claims: {n} (SciFact train with evidence), pool: {len(pool)} abstracts")
    print(f"max_sentences={args.max_sentences} min_score={answerer.min_score}")
    print(f"retrieval recall@{args.top_k} (a gold abstract in the passages): {recall / n:.1%}")
    for setting in ("oracle", "retrieved"):
        print(
            f"{setting:9s}: evidence hit rate {hits[setting] / n:.1%} "
            f"({hits[setting]}/{n}); answered (not 'not found') {answered[setting] / n:.1%}"
        )
    per_claim_ms = answer_s / n * 1000
    print(f"time: index {index_s:.1f} s, answers {answer_s:.1f} s ({per_claim_ms:.0f} ms/claim)")


if __name__ == "__main__":
    main()
