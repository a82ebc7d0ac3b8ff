"""Retrieval experiments in one process, with ragbus's own chunker, model, index and fusion.

``ragbus eval`` measures the deployed pipeline, but every chunking variant costs a
full ingest there (about 10 minutes of model time for SciFact on 2 cores). This
lab chunks a BEIR corpus with :func:`ingest_svc.chunking.chunk_document`, embeds the
chunks once with the real model (cached under ``--cache``, keyed by the text, so
variants share what they have in common), loads them into the Qdrant local-mode
search index (:class:`~ragbus.stores.vectors.local_index.LocalIndex`) with a sparse
encoder, and scores every query's dense and sparse top lists; the fusion variants
then run on those lists (:mod:`ragbus_tools.tune_fusion`). Usage::

    python -m ragbus_tools.bench.retrieval_lab DATASET_DIR --split train \\
        --variant context --cache /tmp/ret-lab --out /tmp/ret-lab/lists-context.json

The lists file holds, per query, ``[[chunk_id, corpus_id, score], ...]`` for the
dense and the sparse side, best first.
"""

import argparse
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingest_svc.chunking import Chunk, ChunkingConfig, chunk_document
from ingest_svc.dense_windows import dense_windows as cut_windows
from ingest_svc.parsing import parse_document
from ragbus.embedding import Embedder, get_embedder
from ragbus.settings import InfraSettings
from ragbus.stores.vectors.base import ChunkRecord
from ragbus.stores.vectors.local_index import LocalIndex
from ragbus_tools.beir import iter_corpus
from ragbus_tools.eval import load_queries
from schemas.chunk_text import CONTEXT_SEPARATOR, chunk_context, window_texts

log = logging.getLogger(__name__)

VARIANTS = {"plain": ChunkingConfig(context=False), "context": ChunkingConfig()}
"""Chunking variants by name: without and with the context header."""

BLOCK = 512
"""Texts embedded between two writes of the cache."""


@dataclass(frozen=True)
class Corpus:
    """A chunked corpus: records in order, and each record's BEIR id."""

    chunks: list[ChunkRecord]
    beir_ids: list[str]


def chunk_corpus(path: Path, config: ChunkingConfig, embedder: Embedder) -> Corpus:
    """Every document of a BEIR ``corpus.jsonl`` parsed and chunked as ingest_svc does."""
    chunks: list[ChunkRecord] = []
    beir_ids: list[str] = []
    for doc in iter_corpus(path):
        parsed = parse_document(doc.content.encode(), doc.filename)
        document_id = uuid.uuid5(uuid.NAMESPACE_URL, doc.beir_id)
        for c in chunk_document(parsed, embedder.tokenizer, config):
            chunks.append(
                ChunkRecord(
                    chunk_id=uuid.uuid5(document_id, str(c.index)),
                    tenant_id="lab",
                    document_id=document_id,
                    version=1,
                    chunk_index=c.index,
                    text=c.text,
                    filename=doc.filename,
                    title=parsed.title,
                    page=c.page,
                    heading=c.heading,
                    token_count=c.token_count,
                )
            )
            beir_ids.append(doc.beir_id)
    return Corpus(chunks, beir_ids)


def dense_windows(
    corpus: Corpus, max_tokens: int, embedder: Embedder, overlap: int = 32
) -> tuple[list[str], list[int]]:
    """Each chunk's dense windows of ``max_tokens`` tokens, as ingest_svc cuts them
    (:func:`ingest_svc.dense_windows.dense_windows`, neighbours sharing ``overlap``).

    Returns:
        The window texts, and for each the position of its chunk in ``corpus``.
    """
    config = ChunkingConfig(overlap_tokens=overlap)
    texts: list[str] = []
    owners: list[int] = []
    for position, c in enumerate(corpus.chunks):
        header = chunk_context(c.title, c.heading)
        if header is not None and not c.text.startswith(header + CONTEXT_SEPARATOR):
            header = None  # the header did not fit this chunk
        chunk = Chunk(c.chunk_index, c.text, c.token_count, c.page, c.heading, header)
        cut = cut_windows(chunk, c.title, embedder.tokenizer, config, max_tokens)
        mine = window_texts(c.text, cut.spans, cut.prefix_chars)
        texts += mine
        owners += [position] * len(mine)
    return texts, owners


def windows_dense_lists(
    corpus: Corpus,
    windows: tuple[list[str], list[int]],
    vectors: npt.NDArray[np.float32],
    queries: dict[str, str],
    embedder: Embedder,
    depth: int,
) -> dict[str, list[tuple[str, str, float]]]:
    """Per query, the top ``depth`` chunks by their best window's cosine."""
    owners = np.asarray(windows[1])
    ids = list(queries)
    questions = embedder.embed_documents([queries[q] for q in ids])
    out: dict[str, list[tuple[str, str, float]]] = {}
    for q, question in zip(ids, questions, strict=True):
        scores = vectors @ question
        best = np.full(len(corpus.chunks), -np.inf, np.float32)
        np.maximum.at(best, owners, scores)
        top = np.argsort(-best)[:depth]
        out[q] = [(str(corpus.chunks[i].chunk_id), corpus.beir_ids[i], float(best[i])) for i in top]
    return out


def embed_cached(texts: Sequence[str], embedder: Embedder, cache: Path) -> npt.NDArray[np.float32]:
    """``(len(texts), dim)`` embeddings, computed once per distinct text across runs.

    The cache is one ``.npz`` of SHA-1 keys and vectors, rewritten every
    :data:`BLOCK` new texts so an interrupted run keeps what it did.
    """
    store = cache / f"embeddings-{embedder.model_id.replace('/', '--')}.npz"
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    known: dict[str, npt.NDArray[np.float32]] = {}
    if store.is_file():
        data = np.load(store)
        known = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    started = time.perf_counter()
    for start in range(0, len(todo), BLOCK):
        block = todo[start : start + BLOCK]
        vectors = embedder.embed_documents([t for _, t in block])
        known.update(zip([k for k, _ in block], vectors, strict=True))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(store, keys=np.asarray(list(known)), vectors=np.stack(list(known.values())))
        rate = (start + len(block)) / (time.perf_counter() - started)
        log.warning("embedded %d/%d new texts (%.1f/s)", start + len(block), len(todo), rate)
    return np.stack([known[k] for k in keys]).astype(np.float32)


def ranked_lists(
    corpus: Corpus,
    vectors: npt.NDArray[np.float32] | None,
    sparse: str,
    queries: dict[str, str],
    embedder: Embedder,
    depth: int,
) -> dict[str, dict[str, list[tuple[str, str, float]]]]:
    """Per side (``dense``, ``sparse``) and query, the top ``depth`` chunks.

    Args:
        corpus: The chunks.
        vectors: Their embeddings; ``None`` leaves the dense side out.
        sparse: ``fastembed`` or ``bm25s`` (in the local index, through the sparse
            port), or ``bm25s-native`` (bm25s's own index).
        queries: ``{query_id: text}``.
        embedder: Embeds the questions.
        depth: Hits per list.

    Returns:
        ``{side: {query_id: [(chunk_id, corpus_id, score), ...]}}``, best first.
    """
    from ragbus_tools.bench.sparse_lab import bm25s_native_lists, sparse_encoder

    ids = list(queries)
    chunks = corpus.chunks
    out: dict[str, dict[str, list[tuple[str, str, float]]]] = {"dense": {}, "sparse": {}}
    index = LocalIndex(embedder.dim)
    encoder = sparse_encoder("fastembed" if sparse == "bm25s-native" else sparse)
    dense = np.zeros((len(chunks), embedder.dim), np.float32) if vectors is None else vectors
    index.upsert(chunks, dense, encoder.encode_documents([c.text for c in chunks]))
    beir_of = {c.chunk_id: b for c, b in zip(chunks, corpus.beir_ids, strict=True)}
    if vectors is not None:
        questions = embedder.embed_documents([queries[q] for q in ids])
        for q, vector in zip(ids, questions, strict=True):
            hits = index.dense_search("lab", vector, depth)
            out["dense"][q] = [
                (str(h.chunk.chunk_id), beir_of[h.chunk.chunk_id], h.score) for h in hits
            ]
    if sparse == "bm25s-native":
        native = bm25s_native_lists([c.text for c in chunks], [queries[q] for q in ids], depth)
        for q, ranked in zip(ids, native, strict=True):
            out["sparse"][q] = [(str(chunks[i].chunk_id), corpus.beir_ids[i], s) for i, s in ranked]
        return out
    for q in ids:
        hits = index.sparse_search("lab", encoder.encode_query(queries[q]), depth)
        out["sparse"][q] = [
            (str(h.chunk.chunk_id), beir_of[h.chunk.chunk_id], h.score) for h in hits
        ]
    return out


def main() -> None:
    """Chunk, embed (cached), search and write the ranked lists of one variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="train")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="context")
    parser.add_argument("--sparse", default="fastembed", help="fastembed, bm25s, bm25s-native")
    parser.add_argument("--sparse-only", action="store_true", help="no embeddings, no dense side")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ret-lab"))
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--max-tokens", type=int, help="chunk size, special tokens included")
    parser.add_argument("--overlap", type=int, help="tokens shared by consecutive chunks")
    parser.add_argument(
        "--dense-windows",
        type=int,
        help="dense side: each chunk scored by its best window of this many tokens",
    )
    parser.add_argument("--window-overlap", type=int, default=32, help="tokens windows share")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    embedder = get_embedder(InfraSettings())
    embedder.warm_up()
    config = VARIANTS[args.variant]
    if args.max_tokens is not None:
        config = replace(config, max_tokens=args.max_tokens)
    if args.overlap is not None:
        config = replace(config, overlap_tokens=args.overlap)
    corpus = chunk_corpus(args.dataset / "corpus.jsonl", config, embedder)
    log.warning("%s: %d chunks", config, len(corpus.chunks))
    vectors = None
    windows = None
    if args.dense_windows:
        windows = dense_windows(corpus, args.dense_windows, embedder, args.window_overlap)
    if windows is not None:
        log.warning("%d windows of %d tokens", len(windows[0]), args.dense_windows)
        window_vectors = embed_cached(windows[0], embedder, args.cache)
    elif not args.sparse_only:
        vectors = embed_cached([c.text for c in corpus.chunks], embedder, args.cache)
    if args.embed_only:
        return
    queries, _ = load_queries(args.dataset, args.split)
    lists = ranked_lists(corpus, vectors, args.sparse, queries, embedder, args.depth)
    if windows is not None:
        lists["dense"] = windows_dense_lists(
            corpus, windows, window_vectors, queries, embedder, args.depth
        )
    name = f"{args.variant}-{config.max_tokens}-{config.overlap_tokens}-{args.sparse}"
    if args.dense_windows:
        name += f"-windows{args.dense_windows}-{args.window_overlap}"
    out = args.out or args.cache / f"lists-{name}-{args.split}.json"
    out.write_text(json.dumps(lists))
    log.warning("wrote %s", out)


if __name__ == "__main__":
    main()
