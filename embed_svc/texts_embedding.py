"""Texts in, ragbus's vectors out: the logic behind ``texts.embed`` and ``/v1/embeddings``.

The texts are embedded with the process's embedder, the one ingestion uses, as
passages (``embed_documents``): OpenAI's embeddings API has no query/passage
distinction, and passage vectors are what the index holds. The model is shared
with the ingestion lanes through their :class:`~embed_svc.model_lock.ModelLock`: a request
queues behind at most one pull batch per busy lane, never behind a whole bulk
import, and never runs on the model at the same time as a lane's batch.
"""

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from nats.aio.msg import Msg
from opentelemetry.util.types import AttributeValue

from embed_svc.model_lock import ModelLock
from ragbus.embedding import Embedder, Vectors
from ragbus.telemetry import stage
from schemas.embeddings import (
    MAX_EMBED_INPUTS,
    EmbedErrorCode,
    EmbedTexts,
    TextsEmbedded,
)
from schemas.envelope import utcnow

log = logging.getLogger(__name__)

SERVED_NAME = "ragbus"
"""The model name every ragbus model answers to, whatever its id."""

REPLY_BUDGET_BYTES = 768 * 1024
"""Largest share of NATS' default 1 MiB payload the base64 vectors of one reply use."""


def max_inputs(dim: int) -> int:
    """Most texts whose base64 vectors of ``dim`` float32 fit one reply.

    256 (:data:`~schemas.embeddings.MAX_EMBED_INPUTS`) for 384 dimensions; fewer
    for a larger configured model (143 at 1,024 dimensions).
    """
    per_vector = 4 * ((4 * dim + 2) // 3)  # base64 of 4 * dim bytes
    return max(1, min(MAX_EMBED_INPUTS, REPLY_BUDGET_BYTES // per_vector))


def encode_vectors(vectors: Vectors) -> list[str]:
    """Each row of ``(n, dim)`` vectors as base64 of ``dim`` little-endian float32."""
    rows = vectors.astype("<f4", copy=False)
    return [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]


class EmbeddingsApi:
    """Answers :class:`~schemas.embeddings.EmbedTexts` with the shared model.

    Args:
        embedder: The process's embedder, warmed up (the one ingestion uses).
        turns: The model's turnstile, shared with the ingestion lanes.
        clock: Current UTC time, for ``expires_at`` (tests pass their own).
    """

    def __init__(
        self, embedder: Embedder, turns: ModelLock, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._embedder = embedder
        self._turns = turns
        self._clock = clock

    @property
    def model_names(self) -> frozenset[str]:
        """Names a request's ``model`` may use: ``ragbus``, the model id, its last part."""
        model_id = self._embedder.model_id
        return frozenset({SERVED_NAME, model_id, model_id.rsplit("/", 1)[-1]})

    async def embed(self, request: EmbedTexts, trace_parent: Msg | None = None) -> TextsEmbedded:
        """Embed ``request.texts`` in order, or say why not; never raises.

        Args:
            request: The texts and what the caller expects of the model.
            trace_parent: The request message, whose trace the ``embed_texts`` span joins.

        Returns:
            The vectors with their token counts, or an ``error_code`` (see
            :class:`~schemas.embeddings.EmbedErrorCode`) and no vectors.
        """
        refusal = self._refusal(request)
        if refusal is not None:
            return self._failed(request, *refusal)
        try:
            counts, truncated = await asyncio.to_thread(self.count_tokens, request.texts)
            asked = time.perf_counter()
            async with self._turns.turn():
                if request.expires_at is not None and self._clock() >= request.expires_at:
                    message = "the request expired while it waited for the model"
                    return self._failed(request, EmbedErrorCode.EXPIRED, message)
                waited_ms = (time.perf_counter() - asked) * 1000
                vectors = await self._run_model(request.texts, waited_ms, trace_parent)
        except Exception as exc:  # the reply carries it; request-reply has nothing to retry
            log.exception("texts.embed failed", extra={"tenant_id": request.tenant_id})
            return self._failed(
                request, EmbedErrorCode.EMBEDDING_FAILED, f"{type(exc).__name__}: {exc}"
            )
        return TextsEmbedded(
            tenant_id=request.tenant_id,
            model=self._embedder.model_id,
            dim=self._embedder.dim,
            embeddings=encode_vectors(vectors),
            token_counts=counts,
            truncated=truncated,
            prompt_tokens=sum(counts),
        )

    def count_tokens(self, texts: Sequence[str]) -> tuple[list[int], list[int]]:
        """Tokens of each text the model embeds, and the indices of truncated texts.

        A text's count is its word pieces without the special tokens the model adds
        (``[CLS]``, ``[SEP]``), capped at the window those leave in ``max_tokens``.

        Returns:
            ``(counts, truncated)``: one count per text; 0-based indices over the window.
        """
        tokenizer = self._embedder.tokenizer
        window = self._embedder.max_tokens - tokenizer.num_special_tokens_to_add(False)
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        lengths = [len(e.ids) for e in encodings]
        truncated = [i for i, n in enumerate(lengths) if n > window]
        return [min(n, window) for n in lengths], truncated

    async def _run_model(
        self, texts: list[str], waited_ms: float, trace_parent: Msg | None
    ) -> Vectors:
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": self._embedder.model_id,
            "ragbus.turn_wait_ms": waited_ms,
        }
        with stage("embed_texts", attributes, message=trace_parent, batch_size=len(texts)):
            return await asyncio.to_thread(self._embedder.embed_documents, texts)

    def _refusal(self, request: EmbedTexts) -> tuple[EmbedErrorCode, str] | None:
        dim = self._embedder.dim
        if request.model is not None and request.model not in self.model_names:
            names = ", ".join(sorted(self.model_names))
            message = f"the model {request.model!r} does not exist; use one of: {names}"
            return EmbedErrorCode.MODEL_NOT_FOUND, message
        if request.dimensions is not None and request.dimensions != dim:
            message = f"dimensions must be {dim}, the model's size (or left out)"
            return EmbedErrorCode.DIMENSIONS_UNSUPPORTED, message
        limit = max_inputs(dim)
        if len(request.texts) > limit:
            message = f"{len(request.texts)} inputs; at {dim} dimensions the limit is {limit}"
            return EmbedErrorCode.TOO_MANY_INPUTS, message
        return None

    def _failed(self, request: EmbedTexts, code: EmbedErrorCode, message: str) -> TextsEmbedded:
        return TextsEmbedded(
            tenant_id=request.tenant_id,
            model=self._embedder.model_id,
            dim=self._embedder.dim,
            error=message,
            error_code=code,
        )
