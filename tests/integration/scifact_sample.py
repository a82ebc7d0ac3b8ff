"""Real SciFact abstracts and questions as chunks, for store tests that compare scores.

Reads ``../shared/datasets/scifact`` (BEIR format); the dense vectors are the
tests' own (random or chosen), only the texts are real.
"""

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from ragbus.stores.vectors.base import ChunkRecord, ScoredChunk

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "scifact"


def abstracts(n: int) -> list[str]:
    """The first ``n`` abstracts, title and text joined (the BEIR convention)."""
    rows = []
    with (SCIFACT / "corpus.jsonl").open() as lines:
        for line in lines:
            row = json.loads(line)
            rows.append(f"{row['title']} {row['text']}")
            if len(rows) == n:
                break
    return rows


def questions(n: int) -> list[str]:
    """The first ``n`` train questions."""
    lines = (SCIFACT / "queries_train.jsonl").read_text().splitlines()[:n]
    return [json.loads(line)["text"] for line in lines]


def chunks(tenant: str, texts: list[str], docs: int, version: int = 1) -> list[ChunkRecord]:
    """One chunk per text, spread round-robin over ``docs`` documents of ``tenant``."""
    documents = [uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{d}") for d in range(docs)]
    return [
        ChunkRecord(
            chunk_id=uuid.uuid5(documents[i % docs], f"{version}/{i}"),
            tenant_id=tenant,
            document_id=documents[i % docs],
            version=version,
            chunk_index=i,
            text=text,
            filename=f"{i % docs}.txt",
            title=None,
            page=None,
            heading=None,
            token_count=len(text.split()),
        )
        for i, text in enumerate(texts)
    ]


def assert_same_hits(
    ours: list[ScoredChunk], theirs: list[tuple[uuid.UUID, float]], rtol: float = 1e-5
) -> None:
    """Same scores in order; the same chunks wherever a score is not tied at the cut."""
    assert len(ours) == len(theirs)
    np.testing.assert_allclose([h.score for h in ours], [s for _, s in theirs], rtol=rtol)
    if not ours:
        return
    cut = theirs[-1][1]
    theirs_by_id = dict(theirs)
    for hit in ours:
        if hit.score > cut + abs(cut) * rtol:
            assert hit.chunk.chunk_id in theirs_by_id
            assert theirs_by_id[hit.chunk.chunk_id] == pytest.approx(hit.score, rel=rtol)
