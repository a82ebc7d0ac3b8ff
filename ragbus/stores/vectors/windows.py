"""Chunks with several dense vectors ("dense windows"), scored by their best.

embed_svc embeds each chunk's windows (:attr:`schemas.ChunkPayload.dense_windows`)
and upserts them as consecutive rows of one matrix with ``windows[i]`` rows for
chunk ``i``. A store that holds windows scores a chunk by the best cosine of its
rows, which is Qdrant's multivector ``MAX_SIM`` for a one-vector query; the local
index and pgvector keep the first row where a single vector went before and the
rest beside it. Why windows: docs/retrieval.md, "Dense windows".
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ragbus.stores.vectors.base import ChunkRecord, require_tenant

MAX_WINDOWS = 64
"""Most dense vectors per chunk (``ChunkPayload.dense_windows`` holds at most 64)."""


def check_windows(
    chunks: Sequence[ChunkRecord],
    vectors: npt.NDArray[np.float32],
    windows: Sequence[int] | None,
    dim: int,
    *,
    holds_windows: bool,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Validate an upsert with windows.

    Returns:
        The ``(sum(windows), dim)`` float32 matrix (C-contiguous) and ``starts``:
        ``(len(chunks) + 1,)`` int64, chunk ``i``'s rows are ``starts[i]:starts[i+1]``.

    Raises:
        ValueError: A count is below 1 or above :data:`MAX_WINDOWS`, the counts do
            not match the chunks or the rows, a chunk has no tenant, or several
            windows go to a store that does not hold them (``holds_windows``).
    """
    counts = np.ones(len(chunks), np.int64) if windows is None else np.asarray(windows, np.int64)
    if counts.shape != (len(chunks),):
        raise ValueError(f"{len(counts)} window counts for {len(chunks)} chunks")
    if len(counts) and (counts.min() < 1 or counts.max() > MAX_WINDOWS):
        raise ValueError(f"window counts must be in [1, {MAX_WINDOWS}], got {counts.tolist()}")
    if not holds_windows and len(counts) and counts.max() > 1:
        raise ValueError("this vector index holds one dense vector per chunk; got windows")
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != (int(starts[-1]), dim):
        raise ValueError(f"vectors have shape {matrix.shape}; expected ({int(starts[-1])}, {dim})")
    for chunk in chunks:
        require_tenant(chunk.tenant_id)
    return matrix, starts
