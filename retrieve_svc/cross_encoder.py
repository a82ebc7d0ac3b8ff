"""A local cross-encoder behind the :class:`~retrieve_svc.rerank.Reranker` port.

fastembed's ``TextCrossEncoder`` runs the ONNX export (onnxruntime, the model's own
``tokenizer.json`` encoding each (question, passage) pair); the export is registered
as a custom model and loaded from its directory, so nothing is downloaded. Any
sequence-classification export with one logit works, for example
``cross-encoder/ms-marco-MiniLM-L-6-v2`` exported with optimum, or the ONNX files of
``Xenova/ms-marco-MiniLM-L-6-v2`` copied to a folder.
"""

import asyncio
import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_REGISTRY_LOCK = threading.Lock()  # fastembed's custom-model list is process-global


def register_cross_encoder(path: Path) -> tuple[str, str]:
    """Register the export in ``path`` with fastembed once per process.

    Args:
        path: A directory with ``model.onnx`` (or ``onnx/model.onnx``),
            ``tokenizer.json`` and ``tokenizer_config.json``.

    Returns:
        ``(fastembed model name, model file relative to path)``.

    Raises:
        FileNotFoundError: No ONNX model in ``path``.
    """
    from fastembed.common.model_description import ModelSource
    from fastembed.rerank.cross_encoder import TextCrossEncoder

    model_file = next(
        (name for name in ("model.onnx", "onnx/model.onnx") if (path / name).is_file()), None
    )
    if model_file is None:
        raise FileNotFoundError(f"no model.onnx or onnx/model.onnx in {path}")
    slug = re.sub(r"[^a-z0-9]+", "-", str(path.resolve()).lower()).strip("-")
    name = f"ragbus-local/{slug}"
    with _REGISTRY_LOCK:
        known = {m["model"].lower() for m in TextCrossEncoder.list_supported_models()}
        if name not in known:
            TextCrossEncoder.add_custom_model(
                model=name, sources=ModelSource(hf=name), model_file=model_file
            )
    return name, model_file


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a local cross-encoder; scores are its logits.

    ``__init__`` is cheap; :meth:`warm_up` loads the model once (the composition root
    calls it at start-up, off the event loop); :meth:`rerank` runs the model in a
    worker thread, ``batch_size`` pairs per onnxruntime call.

    Args:
        path: The export's directory (see :func:`register_cross_encoder`).
        batch_size: Pairs per onnxruntime call.
        threads: onnxruntime intra-op threads; ``None`` lets it decide.

    Attributes:
        name: ``local:<directory name>``, for logs and timings.
    """

    def __init__(self, path: Path, *, batch_size: int = 32, threads: int | None = None) -> None:
        self.name = f"local:{path.name}"
        self._path = path
        self._batch_size = batch_size
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model and score one pair; later calls return at once.

        Raises:
            FileNotFoundError: ``path`` holds no ONNX model.
            ValueError: fastembed cannot load it (no tokenizer files, bad config).
        """
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            from fastembed.rerank.cross_encoder import TextCrossEncoder

            started = time.perf_counter()
            name, _ = register_cross_encoder(self._path)
            model = TextCrossEncoder(
                name, specific_model_path=str(self._path), threads=self._threads
            )
            list(model.rerank("warm up", ["the first call allocates the session's buffers"]))
            self._model = model  # last: its being set tells other threads it is ready
        log.info(
            "cross-encoder loaded",
            extra={"path": str(self._path), "seconds": round(time.perf_counter() - started, 2)},
        )

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        """The model's logit for each ``(question, text)`` pair, in ``texts`` order (blocking)."""
        self.warm_up()
        return [float(s) for s in self._model.rerank(question, texts, self._batch_size)]

    async def rerank(self, question: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """``(index into texts, logit)`` for every text, highest first; see ``Reranker``."""
        if not texts:
            return []
        scores = await asyncio.to_thread(self.scores, question, list(texts))
        return sorted(enumerate(scores), key=lambda pair: pair[1], reverse=True)
