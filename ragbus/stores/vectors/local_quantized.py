"""Int8 dense scores with a proven error bound, for the local index's larger partitions.

A partition's float32 dense rows are read in full by every dense search: at SciFact
scale with dense windows that is 25,247 x 384 float32, 39 MB, more than this host's
32 MB L3 cache, and one ``einsum`` over it takes 1.5-1.9 ms, bound by memory
bandwidth. The same rows as int8 are a quarter of the bytes, and onnxruntime's
``DynamicQuantizeMatMul`` (MLAS's u8 x s8 GEMM, AVX2/AVX-512 VNNI) scores them in
about 0.23 ms on the same host.

The int8 scores are not the answer: each row also gets a bound on its error, so the
search (``LocalIndex.dense_search``) keeps every slot whose upper bound reaches the
``limit``-th best lower bound and scores those again exactly in float32. No slot of
the exact top ``limit`` can be left out (if slot ``i`` is in it, its exact score is at
least the ``limit``-th best exact score, which is at least the ``limit``-th best lower
bound), so results and scores equal the float32 search's.

The bound, for a unit query ``a`` and a row ``b`` with int8 codes
``round(b / s_b)`` (``|code| <= LEVELS``) dequantized to ``b^``: onnxruntime
quantizes ``a`` per call to uint8 with step ``s_a = (max(a, 0) - min(a, 0)) / 255``
(ONNX ``DynamicQuantizeLinear``) and returns ``a~ . b^`` (integer sums are exact).
Rounding moves each ``a_j`` by at most ``s_a / 2``, except that the clamp to 0..255
may move the largest and the smallest by a whole step, so

    |a . b - a~ . b^| <= |a . (b - b^)| + |(a - a~) . b^|
                      <= |a|_2 |b - b^|_2 + s_a / 2 (|b^|_1 + 2 max|b^|)

(Cauchy-Schwarz, then term by term). ``|b - b^|_2``, ``|b^|_1`` and ``max|b^|`` are
kept per row, so the bound is about a third of the worst case of rounding every
element the wrong way. ``s_a`` is taken as the larger of that step and
``max|a| / 127`` (symmetric int8), so the bound also holds if a build of
onnxruntime quantizes ``a`` that way. Codes stay within 7 bits (``LEVELS`` 63)
because MLAS's AVX2 kernel without VNNI adds pairs of u8 x s8 products in saturating
int16 (255 * 127 * 2 would overflow; 255 * 63 * 2 does not), the same reason as
onnxruntime's ``reduce_range``.
"""

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

LEVELS = 63
"""Largest int8 code: 7 bits, safe from int16 saturation in MLAS's AVX2 kernel."""
MIN_ROWS = 4096
"""Fewest dense rows (windows included) worth quantizing: a float32 ``einsum`` over
4,096 x 384 (6 MB) takes about 0.25 ms, as long as the int8 path with its rescoring."""
BLOCK = 4096
"""Rows quantized at a time while building (bounds the float temporaries)."""
GROWTH = 0.125
"""Rows added since the last snapshot, as a fraction of it, that make a new one: a
snapshot of n rows costs about 2.5 ms per 1,000 rows to build, once per 12.5% growth;
the rows after it are scored in float32 (at most an eighth more bytes per search)."""


class QuantizedRows:
    """A frozen int8 copy of a partition's first ``slots`` slots and all their windows.

    Args:
        parts: Float32 ``(r_i, dim)`` arrays of unit rows that, one after the other,
            are each slot's first window in slot order, then ``k`` more windows.
        owner: ``(k,)`` int64, the slot each of the ``k`` more windows belongs to.

    Rows are quantized :data:`BLOCK` at a time, so building never holds more than
    one block's float temporaries beside the codes. The session then holds the
    codes and MLAS's packed copy of them: about 36 MB of resident memory for
    SciFact's 25,247 x 384 rows (9.7 MB of codes; the float32 rows are 39 MB),
    measured by keeping several sessions alive; building one raised the process's
    resident memory by 56 MB. Without packing a search took 0.67 ms instead of 0.21.

    Attributes:
        slots: How many slots (from slot 0) the copy covers.
        rows: How many rows it holds.
    """

    def __init__(self, parts: Sequence[F32], owner: I64) -> None:
        n, dim = sum(len(part) for part in parts), parts[0].shape[1]
        self.slots = n - len(owner)
        self.rows = n
        self._owner = owner
        codes = np.empty((n, dim), np.int8)
        scale = np.empty(n, np.float32)
        residual = np.empty(n, np.float32)
        spread = np.empty(n, np.float32)
        at = 0
        for part in parts:
            for start in range(0, len(part), BLOCK):
                rows = part[start : start + BLOCK]
                end = at + len(rows)
                top = np.abs(rows).max(axis=1)
                step = np.where(top > 0, top / LEVELS, 1.0).astype(np.float32)
                block = np.clip(np.rint(rows / step[:, None]), -LEVELS, LEVELS).astype(np.int8)
                restored = block.astype(np.float32) * step[:, None]  # within 6e-8 of exact
                codes[at:end], scale[at:end] = block, step
                residual[at:end] = np.linalg.norm(rows - restored, axis=1)
                magnitude = np.abs(restored)
                spread[at:end] = magnitude.sum(axis=1) + 2 * magnitude.max(axis=1)
                at = end
        # Per slot, the largest of its windows' terms of the bound: a bound on each.
        self._residual = self._per_slot(residual)
        self._spread = self._per_slot(spread)
        self._session = _session(codes, scale)

    def _per_slot(self, values: F32) -> F32:
        """``(slots,)``: the largest of each slot's rows' ``values`` ``(rows,)``."""
        best = values[: self.slots].astype(np.float32)
        np.maximum.at(best, self._owner, values[self.slots :])
        return best

    def bounds(self, query: F32) -> tuple[F32, F32]:
        """Each covered slot's best-window cosine to the unit ``query`` ``(dim,)``, as
        ``(lower, upper)`` ``(slots,)`` float32 bounds (see the module docstring).

        The slot's best int8 score plus or minus its bound: if window ``w`` has the
        best int8 score ``c_w`` and every window's error is at most ``e``, the exact
        best is at least ``c_w - e`` and at most ``c_w + e``.
        """
        if not np.any(query):
            zeros = np.zeros(self.slots, np.float32)
            return zeros, zeros
        a = query.astype(np.float32)[None, :]
        approx = self._session.run(None, {"A": a})[0][0]
        best = approx[: self.slots].copy()
        np.maximum.at(best, self._owner, approx[self.slots :])
        step = max(float(max(a.max(), 0.0) - min(a.min(), 0.0)) / 255, float(abs(a).max()) / 127)
        slack = float(np.linalg.norm(a)) * self._residual + step / 2 * self._spread
        slack = slack * (1 + 1e-5) + 1e-6  # float rounding of the bound itself
        return (best - slack).astype(np.float32), (best + slack).astype(np.float32)


_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragbus-int8-copy")
"""Builds copies off the event loop, one at a time (a copy of 250,000 rows takes about
1 s: on the loop, every service of the process would stall that long)."""


class QuantizedCopy:
    """A partition's current int8 copy, rebuilt in a worker thread as the partition grows.

    The partition lives on one event loop; a build reads views of rows that never
    change once written (slots are append-only until a reset), so it can run beside
    later writes. A finished build is taken on the loop's thread, at the next
    :meth:`refresh` or :meth:`current`; one that started before a :meth:`forget`
    (a reset or compaction renumbered the slots) is dropped.
    """

    def __init__(self) -> None:
        self._copy: QuantizedRows | None = None
        self._pending: tuple[int, int, Future[QuantizedRows]] | None = None  # generation, rows
        self._generation = 0
        self._failed_at = -1  # rows when a build last failed: no retry before growth

    def current(self) -> QuantizedRows | None:
        """The newest finished copy for the partition's present slots, if any."""
        if self._pending is not None and self._pending[2].done():
            generation, rows, future = self._pending
            self._pending = None
            error = future.exception()
            if error is not None:
                self._failed_at = rows
                log.warning("int8 copy of a partition failed; float32 only", exc_info=error)
            elif generation == self._generation:
                self._copy = future.result()
        return self._copy

    def forget(self) -> None:
        """The slots were renumbered: drop the copy and any build under way."""
        self._copy = None
        self._generation += 1

    def refresh(self, parts: Sequence[F32], owner: I64) -> None:
        """Start a build of ``parts`` (see :class:`QuantizedRows`) when the rows not in
        the current copy reach :data:`GROWTH` of it and there are :data:`MIN_ROWS`,
        unless one is under way."""
        done = self.current()
        rows = sum(len(part) for part in parts)
        grown = rows - (0 if done is None else done.rows)
        if self._pending is not None or rows < MIN_ROWS or grown <= GROWTH * (rows - grown):
            return
        if self._failed_at >= 0 and rows - self._failed_at <= GROWTH * self._failed_at:
            return
        future = _BUILDER.submit(QuantizedRows, parts, owner.copy())
        self._pending = (self._generation, rows, future)

    def settle(self) -> QuantizedRows | None:
        """Wait for a build under way, then :meth:`current` (tests, benchmarks, loads)."""
        if self._pending is not None:
            self._pending[2].exception()  # waits
        return self.current()


def _session(codes: npt.NDArray[np.int8], scale: F32) -> ort.InferenceSession:
    """A one-node onnxruntime graph: ``(1, dim)`` float32 query x the int8 rows."""
    n, dim = codes.shape
    node = helper.make_node(
        "DynamicQuantizeMatMul", ["A", "B", "b_scale"], ["Y"], domain="com.microsoft"
    )
    graph = helper.make_graph(
        [node],
        "dense_int8",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [1, dim])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, n])],
        initializer=[
            numpy_helper.from_array(np.ascontiguousarray(codes.T), "B"),
            numpy_helper.from_array(scale, "b_scale"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the search runs on the event loop's thread
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
