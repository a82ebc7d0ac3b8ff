"""A second onnxruntime session of the same model, kept for questions.

A question is one short text (SciFact's train questions: 21 tokens on average) whose
embedding a user waits for, while passages come in batches that only throughput
matters for. The passage session gets few threads so that ingest leaves the other
services a core (``default_all_in_one_threads``); a question needs more threads, and
threads that stop spinning at once.

onnxruntime's intra-op threads spin while they wait for work. Left at its default, a
thread spins on after the call returns and takes a core from the event loop; off,
every operator of the graph wakes a sleeping thread. On 2 cores, one question
through an ``asyncio.to_thread`` hop (``ragbus_tools.bench.question_embed``):

================================  ========  ============
session                           p50 ms    CPU ms each
================================  ========  ============
1 thread                          7.21      7.45
2 threads, default spinning       4.47      12.34
2 threads, no spinning            5.20      8.85
2 threads, spinning 50 µs at most 4.43      8.75
================================  ========  ============

So this session spins for :data:`SPIN_US` at most, which fastembed's sessions do not
allow to set; it is built here from the same ONNX file and tokenizer that fastembed
loaded, and pools as fastembed does (mean over the attention mask, then L2 norm), so
a question's vector is the one fastembed would give.
"""

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from ragbus.embedding.base import Vectors
from ragbus.embedding.export import is_complete
from ragbus.errors import ModelUnavailableError

SPIN_US = 50
"""Longest spin of an idle intra-op thread, in microseconds (onnxruntime's
``session.intra_op.spin_duration_us``): long enough to bridge two operators of one
call, short enough to give the core back when the call ends (table above)."""


DEFAULT_THREADS = 2
"""Threads of a question's session unless set: the two measured above. A short
question leaves little to share among more threads, and a pod's CPU request is not
its node's core count, which is all ``os.sched_getaffinity`` sees."""


def default_threads() -> int:
    """:data:`DEFAULT_THREADS`, or fewer when the process may run on fewer cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(DEFAULT_THREADS, cores))


class QuestionSession:
    """One question at a time through its own CPU session.

    Args:
        model_file: The ONNX file the passage session loaded (``last_hidden_state``
            output; ``input_ids``, ``attention_mask`` and maybe ``token_type_ids``
            inputs, as sentence-transformers exports have).
        tokenizer: The passage session's tokenizer, truncating at the model's limit
            (only read: encoding one text is thread-safe).
        threads: Intra-op threads (default :func:`default_threads`).

    Raises:
        onnxruntime's errors when ``model_file`` cannot be loaded.
    """

    def __init__(self, model_file: Path, tokenizer: Tokenizer, threads: int | None = None) -> None:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.spin_duration_us", str(SPIN_US))
        self._session = ort.InferenceSession(
            str(model_file), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer
        self.threads = options.intra_op_num_threads

    @classmethod
    def of_fastembed(
        cls, model: Any, threads: int | None = None, *, int8: bool = False
    ) -> "QuestionSession":
        """A session of the file and tokenizer that a fastembed ``TextEmbedding`` loaded.

        Args:
            model: The loaded ``fastembed.TextEmbedding``.
            threads: Intra-op threads (default :func:`default_threads`).
            int8: Run the file's int8 variant instead (``RAGBUS_EMBED_QUERY_PRECISION``;
                made next to the export once, see :mod:`ragbus.embedding.quantize`).

        Raises:
            ModelUnavailableError: ``int8`` for a model that is not a local ONNX export.
        """
        inner = model.model
        folder = Path(inner._model_dir)
        if int8:
            folder = int8_variant(folder)
        return cls(folder / inner.model_description.model_file, inner.tokenizer, threads)

    def embed(self, text: str) -> Vectors:
        """Embed one question; returns ``(dim,)`` float32, L2-normalised.

        The text is truncated at the tokenizer's limit, as a passage would be.
        """
        encoding = self._tokenizer.encode(text)
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0][0]  # (tokens, dim)
        weights = mask[0].astype(np.float32)[:, None]
        pooled = (hidden * weights).sum(axis=0) / max(float(weights.sum()), 1e-9)
        norm = float(np.linalg.norm(pooled))
        return (pooled / max(norm, 1e-12)).astype(np.float32)


def int8_variant(export: Path) -> Path:
    """The folder of the int8 variant of the local export in ``export``, made once.

    Raises:
        ModelUnavailableError: ``export`` is not a complete local export (a model
            that fastembed downloaded has no variants).
    """
    if not is_complete(export):
        raise ModelUnavailableError(
            f"RAGBUS_EMBED_QUERY_PRECISION=int8 needs a local ONNX export, but {export} is "
            "not one; set it to 'same' or use an exported model (RAGBUS_EMBED_MODEL_PATH)"
        )
    from ragbus.embedding.quantize import INT8, derive_once  # lazy: pulls in onnx

    return derive_once(export, INT8)
