"""One tenant's points in the local-mode search index: dense rows and a BM25 inverted index.

Slot-indexed arrays with tombstones for deleted or replaced points. Dense rows of
larger partitions are also held as int8 (:mod:`~ragbus.stores.vectors.local_quantized`)
for a first, bounded pass of each dense search. The inverted
index is in compressed column form (:class:`Postings`) plus an append-only tail of
points added since the last merge, merged once it holds a quarter as many entries
as the main part, so a write costs amortised O(1) merges and a search scans a small
tail. See :mod:`ragbus.stores.vectors.local_index` for why the index exists.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import numpy.typing as npt

from ragbus.stores.vectors.base import ChunkRecord
from ragbus.stores.vectors.local_quantized import F32, I64, QuantizedCopy

MERGE_FRACTION = 0.25
"""The tail is merged into the main inverted index once it holds this fraction of it."""
MIN_MERGE_ENTRIES = 4096
"""...or at least this many entries, so small partitions are not re-sorted per write."""


@dataclass(frozen=True, slots=True)
class Postings:
    """Inverted lists, compressed by column.

    ``slots[starts[i]:starts[i+1]]`` hold ``terms[i]``, with ``weights`` beside them.
    """

    terms: I64
    starts: I64
    slots: I64
    weights: F32

    @classmethod
    def build(cls, slots: I64, terms: I64, weights: F32) -> "Postings":
        order = np.argsort(terms, kind="stable")
        ordered = terms[order]
        unique, starts = np.unique(ordered, return_index=True)
        return cls(unique, np.append(starts, len(ordered)), slots[order], weights[order])

    def gather(self, query: I64, boost: F32) -> tuple[I64, F32]:
        """Slots holding any query term and each hit's ``weight * boost`` of that term."""
        if not len(self.terms):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        pos = np.searchsorted(self.terms, query)
        last = len(self.terms) - 1
        found = (pos <= last) & (self.terms[np.minimum(pos, last)] == query)
        slots, parts = [], []
        for p, b in zip(pos[found], boost[found], strict=True):
            a, z = self.starts[p], self.starts[p + 1]
            slots.append(self.slots[a:z])
            parts.append(self.weights[a:z] * b)
        if not slots:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        return np.concatenate(slots), np.concatenate(parts)


EMPTY_POSTINGS = Postings.build(
    np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
)


class TenantPartition:
    """One tenant's points: slot-indexed arrays, tombstones for deleted or replaced points."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.int8 = QuantizedCopy()  # of the first slots' rows, once there are enough
        self.reset()

    def reset(self) -> None:
        """Empty the partition."""
        self.dense: F32 = np.empty((64, self.dim), np.float32)
        self.alive = np.zeros(64, bool)
        self.doc = np.zeros(64, np.int64)
        # a chunk's dense windows after its first: rows and the slot each belongs to;
        # each slot's are contiguous, ``extra_count[slot]`` rows from ``extra_first[slot]``
        self.extra_first = np.zeros(64, np.int64)
        self.extra_count = np.zeros(64, np.int64)
        self.extra: F32 = np.empty((0, self.dim), np.float32)
        self.extra_owner: I64 = np.empty(0, np.int64)
        self.extra_size = 0
        self.size = 0
        self.dead = 0
        self.chunks: list[ChunkRecord | None] = []
        self.terms: list[tuple[I64, F32] | None] = []
        self.slot_of: dict[UUID, int] = {}
        self.doc_code: dict[UUID, int] = {}
        self.main = EMPTY_POSTINGS
        self.tail: list[tuple[int, I64, F32]] = []
        self.tail_entries = 0
        self._tail_arrays: tuple[I64, I64, F32] | None = None
        self.int8.forget()

    def append(
        self, chunk: ChunkRecord, unit: F32, terms: tuple[I64, F32] | None, extra: F32 | None = None
    ) -> None:
        """Add ``chunk`` with its first dense window ``unit`` ``(dim,)`` and any more
        windows ``extra`` ``(k, dim)``, all unit length."""
        if self.size == len(self.alive):
            grow = len(self.alive)
            self.dense = np.concatenate([self.dense, np.empty((grow, self.dim), np.float32)])
            self.alive = np.concatenate([self.alive, np.zeros(grow, bool)])
            self.doc = np.concatenate([self.doc, np.zeros(grow, np.int64)])
            self.extra_first = np.concatenate([self.extra_first, np.zeros(grow, np.int64)])
            self.extra_count = np.concatenate([self.extra_count, np.zeros(grow, np.int64)])
        slot = self.size
        self.size += 1
        self.dense[slot] = unit
        self.alive[slot] = True
        self.doc[slot] = self.doc_code.setdefault(chunk.document_id, len(self.doc_code))
        self.chunks.append(chunk)
        self.terms.append(terms)
        self.slot_of[chunk.chunk_id] = slot
        if extra is not None and len(extra):
            self._append_extra(slot, extra)
        if terms is not None:
            self.tail.append((slot, *terms))
            self.tail_entries += len(terms[0])
            self._tail_arrays = None

    def _append_extra(self, slot: int, rows: F32) -> None:
        end = self.extra_size + len(rows)
        if end > len(self.extra):
            grow = max(end, 2 * len(self.extra), 64)
            extra = np.empty((grow, self.dim), np.float32)
            extra[: self.extra_size] = self.extra[: self.extra_size]
            owner = np.empty(grow, np.int64)
            owner[: self.extra_size] = self.extra_owner[: self.extra_size]
            self.extra, self.extra_owner = extra, owner
        self.extra[self.extra_size : end] = rows
        self.extra_owner[self.extra_size : end] = slot
        self.extra_first[slot], self.extra_count[slot] = self.extra_size, len(rows)
        self.extra_size = end

    def dense_scores(self, query: F32) -> F32:
        """Every slot's cosine to the unit ``query``: its best window's.

        einsum, not BLAS: OpenBLAS's 2-thread gemv took 8 ms instead of 0.3 ms for
        12,800 x 384 while the cores were busy (with the embedder, say); einsum runs
        in this thread.
        """
        scores: F32 = np.einsum("ij,j->i", self.dense[: self.size], query)
        if self.extra_size:
            more = np.einsum("ij,j->i", self.extra[: self.extra_size], query)
            np.maximum.at(scores, self.extra_owner[: self.extra_size], more)
        return scores

    def dense_bounds(self, query: F32) -> tuple[F32, F32]:
        """Bounds ``(lower, upper)`` ``(size,)`` on every slot's cosine to the unit
        ``query``: from the int8 copy for the slots it holds (see
        :mod:`~ragbus.stores.vectors.local_quantized`), exact after them. Without a
        copy both are the same array of exact scores (``dense_scores``)."""
        frozen = self.int8.current()
        if frozen is None:
            scores = self.dense_scores(query)
            return scores, scores
        lower = np.empty(self.size, np.float32)
        upper = np.empty(self.size, np.float32)
        lower[: frozen.slots], upper[: frozen.slots] = frozen.bounds(query)
        if self.size > frozen.slots:
            later = self.exact_scores(np.arange(frozen.slots, self.size), query)
            lower[frozen.slots :] = upper[frozen.slots :] = later
        return lower, upper

    def exact_scores(self, slots: I64, query: F32) -> F32:
        """``slots``' float32 cosines to the unit ``query``: each its best window's."""
        scores: F32 = np.einsum("ij,j->i", self.dense[slots], query)
        counts = self.extra_count[slots]
        total = int(counts.sum())
        if total:
            which = np.repeat(np.arange(len(slots)), counts)
            firsts = np.cumsum(counts) - counts  # each slot's first position in `rows`
            rows = np.repeat(self.extra_first[slots] - firsts, counts) + np.arange(total)
            more = np.einsum("ij,j->i", self.extra[rows], query)
            np.maximum.at(scores, which, more)
        return scores

    def extra_of(self) -> dict[int, F32]:
        """Each slot's windows after the first, for slots that have any."""
        if not self.extra_size:
            return {}
        owners = self.extra_owner[: self.extra_size]
        order = np.argsort(owners, kind="stable")
        slots, starts = np.unique(owners[order], return_index=True)
        rows = np.split(self.extra[: self.extra_size][order], starts[1:])
        return dict(zip(slots.tolist(), rows, strict=True))

    def kill(self, slot: int) -> tuple[I64, F32] | None:
        """Tombstone ``slot``; returns its sparse terms (to take out of the IDF counts)."""
        chunk = self.chunks[slot]
        assert chunk is not None
        del self.slot_of[chunk.chunk_id]
        self.alive[slot] = False
        self.chunks[slot] = None
        terms, self.terms[slot] = self.terms[slot], None
        self.dead += 1
        return terms

    def tidy(self) -> None:
        """Compact when over half the slots are dead; merge a grown tail into the main
        index; quantize the dense rows again once they have grown enough."""
        if self.dead > max(1024, self.size - self.dead):
            self._compact()
        elif self.tail_entries > max(MIN_MERGE_ENTRIES, MERGE_FRACTION * len(self.main.slots)):
            self._rebuild_postings()
        parts = [self.dense[: self.size], self.extra[: self.extra_size]]
        self.int8.refresh(parts, self.extra_owner[: self.extra_size])

    def _compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.size])
        chunks = [self.chunks[i] for i in keep]
        terms = [self.terms[i] for i in keep]
        dense = self.dense[keep]
        extra = self.extra_of()
        extras = [extra.get(i) for i in keep.tolist()]
        self.reset()
        for chunk, unit, t, more in zip(chunks, dense, terms, extras, strict=True):
            assert chunk is not None
            self.append(chunk, unit, t, more)
        self._rebuild_postings()

    def _rebuild_postings(self) -> None:
        pieces = [(i, t) for i, t in enumerate(self.terms) if t is not None]
        if not pieces:
            self.main, self.tail, self.tail_entries, self._tail_arrays = EMPTY_POSTINGS, [], 0, None
            return
        slots = np.concatenate([np.full(len(t[0]), i, np.int64) for i, t in pieces])
        terms = np.concatenate([t[0] for _, t in pieces])
        weights = np.concatenate([t[1] for _, t in pieces])
        self.main, self.tail, self.tail_entries = Postings.build(slots, terms, weights), [], 0
        self._tail_arrays = None

    def tail_arrays(self) -> tuple[I64, I64, F32]:
        """The tail's (slots, terms, weights), concatenated once per change."""
        if self._tail_arrays is None:
            self._tail_arrays = (
                np.concatenate([np.full(len(t), s, np.int64) for s, t, _ in self.tail]),
                np.concatenate([t for _, t, _ in self.tail]),
                np.concatenate([w for _, _, w in self.tail]),
            )
        return self._tail_arrays

    def sparse_scores(self, query: I64, boost: F32) -> tuple[I64, F32]:
        """Slots sharing a term with the query and their summed scores."""
        slots, parts = self.main.gather(query, boost)
        if self.tail:
            t_slots, t_terms, t_weights = self.tail_arrays()
            hit = np.isin(t_terms, query)
            which = np.searchsorted(query, t_terms[hit])
            slots = np.concatenate([slots, t_slots[hit]])
            parts = np.concatenate([parts, t_weights[hit] * boost[which]])
        if not len(slots):
            return slots, parts
        summed = np.bincount(slots, weights=parts, minlength=self.size)
        touched = np.flatnonzero(np.bincount(slots, minlength=self.size))
        return touched, summed[touched].astype(np.float32)

    def allowed(self, slots: I64, document_ids: Sequence[UUID] | None) -> npt.NDArray[np.bool_]:
        """Which of ``slots`` are alive and, if given, in ``document_ids``."""
        keep = self.alive[slots]
        if document_ids is not None:
            codes = [self.doc_code[d] for d in document_ids if d in self.doc_code]
            keep &= np.isin(self.doc[slots], np.asarray(codes, np.int64))
        return keep
