"""The real :class:`~ragbus.embedding.base.Embedder`: fastembed on onnxruntime, on the
CPU or, with ``RAGBUS_EMBED_DEVICE=cuda``, a GPU (:mod:`ragbus.embedding.device`)."""

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from ragbus.embedding.base import Embedder, Vectors
from ragbus.embedding.device import batch_size as device_batch_size
from ragbus.embedding.device import check_session_providers, onnx_providers
from ragbus.embedding.question_session import QuestionSession
from ragbus.embedding.resolve import KNOWN_MODELS, ResolvedModel, download_dir, resolve_model, slug
from ragbus.errors import EmbeddingModelMismatchError
from ragbus.settings import InfraSettings

logger = logging.getLogger(__name__)

_REGISTRY_LOCK = threading.Lock()  # fastembed's custom model registry is process-wide
_CACHE_LOCK = threading.Lock()
_EMBEDDERS: dict[tuple[Any, ...], "FastEmbedEmbedder"] = {}


class FastEmbedEmbedder:
    """A sentence-transformers model run by fastembed, loaded once per instance.

    Local exports (``path``, ``cache`` and ``export`` sources) are registered with
    fastembed as mean-pooled, L2-normalised models whose ONNX graph returns
    ``last_hidden_state``, which is what sentence-transformers models are.

    Attributes:
        model_id: ``settings.embed_model``, whichever source the files came from.
        dim: Embedding dimension; known before :meth:`warm_up` for known models.
        max_tokens: Inputs are truncated to this many tokens, special tokens included.
        resolved: Where the model was found; ``None`` until :meth:`warm_up`.
    """

    def __init__(self, settings: InfraSettings, batch_size: int | None = None) -> None:
        """Record the settings; loads nothing.

        Args:
            settings: Model name, path, cache directory, token limit, threads, batch
                size and arena.
            batch_size: Most texts per onnxruntime call (default
                ``settings.embed_batch_size``, which bounds the process's memory, or
                256 on a GPU: :func:`ragbus.embedding.device.batch_size`);
                inputs are sorted by token count first and grouped by similar
                lengths (:func:`length_batches`).
        """
        self._settings = settings
        self._batch_size = batch_size or device_batch_size(settings)
        self.model_id = settings.embed_model
        dim, trained_max = KNOWN_MODELS.get(settings.embed_model, (0, settings.embed_max_tokens))
        self.dim = dim
        self.max_tokens = min(settings.embed_max_tokens, trained_max)
        self.resolved: ResolvedModel | None = None
        self._model: Any = None  # fastembed.TextEmbedding, imported lazily
        self._tokenizer: Tokenizer | None = None
        self._questions: QuestionSession | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Resolve and load the model, then embed one text; later calls return at once.

        Raises:
            ModelUnavailableError: No source could provide the model.
            EmbeddingDeviceError: ``embed_device`` is ``cuda`` and onnxruntime cannot
                run the model there (no CUDA build, no GPU, missing libraries).
            EmbeddingModelMismatchError: The model's output size is not the expected ``dim``.
        """
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                self._load()

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer, without truncation or padding, for counting chunk tokens.

        Use ``encode(text, add_special_tokens=False)`` to count a chunk's own tokens; the
        model adds two (``[CLS]`` and ``[SEP]``) within :attr:`max_tokens`.
        """
        self.warm_up()
        assert self._tokenizer is not None
        return self._tokenizer

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages, each truncated to :attr:`max_tokens`.

        The texts are sorted by token count and cut into model calls of similar
        lengths (:func:`length_batches`), since each call pads to its longest text:
        a call mixing 40- and 250-token chunks would spend most of its time on
        padding. The order of ``texts`` is restored in the result.

        Args:
            texts: Passages, in any order; empty strings are allowed.

        Returns:
            ``(len(texts), dim)`` float32, L2-normalised rows in the order of ``texts``.
        """
        self.warm_up()
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        assert self._tokenizer is not None
        lengths = [
            min(len(e.ids), self.max_tokens)
            for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in length_batches(lengths, self._batch_size):
            batch = [texts[i] for i in rows]
            out[rows] = np.stack(list(self._model.embed(batch, batch_size=len(batch))))
        return out

    def embed_query(self, text: str) -> Vectors:
        """Embed one question; returns ``(dim,)`` float32, L2-normalised.

        On the CPU through its own session (:class:`QuestionSession`, loaded at the
        first question; int8 with ``embed_query_precision``); on a GPU, the passages'.
        """
        self.warm_up()
        if self._settings.embed_device != "cpu":
            return self.embed_documents([text])[0]
        return self._question_session().embed(text)

    def embed_few(self, texts: Sequence[str]) -> Vectors:
        """Embed a few short passages for a waiting caller (an answer's sentences).

        On the CPU, one unpadded call of the question session per text (a sentence
        costs its own tokens, about 0.2 ms of a core each; one padded call of 8
        would pay for the longest 8 times: ``ragbus_tools.bench.sentence_embed``); on
        a GPU, :meth:`embed_documents`. Returns ``(len(texts), dim)`` float32,
        L2-normalised rows in order, equal to :meth:`embed_documents`'s.
        """
        self.warm_up()
        if self._settings.embed_device != "cpu" or not texts:
            return self.embed_documents(texts)
        session = self._question_session()
        return np.stack([session.embed(text) for text in texts])

    def _question_session(self) -> QuestionSession:
        if self._questions is None:
            with self._lock:
                if self._questions is None:
                    s, threads = self._settings, self._settings.embed_query_threads
                    int8 = s.embed_query_precision == "int8" and s.embed_precision == "fp32"
                    self._questions = QuestionSession.of_fastembed(self._model, threads, int8=int8)
        return self._questions

    def _load(self) -> None:
        from fastembed import TextEmbedding  # lazy: onnxruntime takes a while to import

        started = time.perf_counter()
        # Always explicit: left to choose, fastembed takes CUDA whenever onnxruntime-gpu
        # is installed, and CPU must stay the default. Checked first, before an export.
        device = self._settings.embed_device
        providers = onnx_providers(device)
        resolved = resolve_model(self._settings)
        # The arena keeps buffers at the largest call's size for good, which
        # embed_batch_size bounds; off, it costs throughput (bench.embed_memory).
        threads, arena = self._settings.embed_threads, self._settings.embed_cpu_arena
        if resolved.path is None:
            cache_dir = str(download_dir(self._settings))
            model = TextEmbedding(
                resolved.model_id,
                cache_dir=cache_dir,
                threads=threads,
                enable_cpu_mem_arena=arena,
                providers=providers,
            )
        else:
            model = TextEmbedding(
                register_export(resolved),
                specific_model_path=str(resolved.path),
                threads=threads,
                enable_cpu_mem_arena=arena,
                providers=providers,
            )
        inner = model.model
        session = getattr(inner, "model", None)  # onnxruntime's InferenceSession
        check_session_providers(device, session.get_providers() if session is not None else [])
        inner_tokenizer: Tokenizer | None = getattr(inner, "tokenizer", None)
        if inner_tokenizer is None:
            raise RuntimeError("fastembed did not load a tokenizer; is the installed version new?")
        # fastembed truncates at the model's tokenizer_config limit, which may exceed ours
        # (a downloaded MiniLM says 512); cap it so every source embeds the same way.
        truncation = inner_tokenizer.truncation or {}
        limit = min(resolved.max_tokens, truncation.get("max_length", resolved.max_tokens))
        inner_tokenizer.enable_truncation(
            max_length=limit, direction=truncation.get("direction", "right")
        )
        counting = Tokenizer.from_str(inner_tokenizer.to_str())
        counting.no_truncation()
        counting.no_padding()

        probe = np.asarray(next(iter(model.embed(["warm up"]))), dtype=np.float32)
        if probe.shape != (resolved.dim,):
            raise EmbeddingModelMismatchError(
                f"{resolved.model_id} returned shape {probe.shape}, expected ({resolved.dim},)"
            )
        self.dim, self.max_tokens, self.resolved = resolved.dim, limit, resolved
        self._tokenizer = counting
        self._model = model  # last: its being set is what tells other threads we are ready
        logger.info(
            "embedding model loaded model=%s source=%s device=%s seconds=%.2f",
            resolved.model_id,
            resolved.source,
            device,
            time.perf_counter() - started,
        )


PAD_SLACK = 1.25
"""A model call holds texts up to this many times as long as its shortest one (plus
:data:`PAD_SLACK_TOKENS`): on SciFact chunks (137 tokens on average, 4-256) the
padding that remains costs a few percent, against a third with one call per 64."""
PAD_SLACK_TOKENS = 8


def length_batches(lengths: Sequence[int], max_size: int) -> list[list[int]]:
    """Indices of texts grouped into model calls of similar token counts.

    The indices are taken shortest first; a call is closed when it holds
    ``max_size`` texts or the next text is longer than ``PAD_SLACK`` times its
    shortest plus ``PAD_SLACK_TOKENS``.

    Args:
        lengths: Token count of each text (special tokens included).
        max_size: Most texts per call.

    Returns:
        Lists of indices into ``lengths``; together they hold each index once.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (
            len(current) >= max_size
            or lengths[i] > lengths[current[0]] * PAD_SLACK + PAD_SLACK_TOKENS
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def register_export(resolved: ResolvedModel) -> str:
    """Register a local export with fastembed once per process; returns its fastembed name."""
    from fastembed import TextEmbedding
    from fastembed.common.model_description import ModelSource, PoolingType

    name = f"ragbus/{slug(resolved.model_id)}-{resolved.dim}"
    with _REGISTRY_LOCK:
        known = {m["model"].lower() for m in TextEmbedding.list_supported_models()}
        if name.lower() not in known:
            TextEmbedding.add_custom_model(
                model=name,
                pooling=PoolingType.MEAN,
                normalization=True,
                sources=ModelSource(hf=resolved.model_id),
                dim=resolved.dim,
                model_file="model.onnx",
            )
    return name


def get_embedder(settings: InfraSettings) -> Embedder:
    """The process's shared embedder for these settings, so a model is loaded only once.

    Args:
        settings: Keyed by model, model path, token limit, threads (passages and
            questions), precision, batch size, arena and device.

    Returns:
        An embedder; call :meth:`FastEmbedEmbedder.warm_up` (for example in a lifespan)
        before the first request to keep the load off the request path.
    """
    key = (
        settings.embed_model,
        settings.embed_model_path,
        settings.embed_max_tokens,
        settings.embed_threads,
        settings.embed_query_threads,
        (settings.embed_precision, settings.embed_query_precision),
        settings.embed_batch_size,
        settings.embed_cpu_arena,
        settings.embed_device,
    )
    with _CACHE_LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = FastEmbedEmbedder(settings)
        return _EMBEDDERS[key]
