"""The rerank port: reorder retrieved passages with a model that reads question and text.

Rerankers (cross-encoders) score each (question, passage) pair jointly, which is
slower than a vector search but more precise, so they run on the search's top
candidates only. Two adapters: :class:`LiteLLMReranker` calls litellm's rerank API
(Cohere, Jina, Voyage, Together AI, ... and any server that speaks Cohere's
``/v1/rerank``); :class:`~retrieve_svc.cross_encoder.CrossEncoderReranker` runs a
local ONNX cross-encoder. Without either configured nothing is reranked.
"""

from collections.abc import Sequence
from typing import Protocol

from ragbus.errors import PermanentError, RetryableError
from ragbus.llm.client import import_litellm


class RerankUnavailableError(PermanentError):
    """A query asked for reranking but no reranker is configured."""

    code = "rerank_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "reranking was requested but no reranker is configured "
            "(set RAGBUS_RETRIEVE_RERANK_MODEL or RAGBUS_RETRIEVE_RERANK_MODEL_PATH)"
        )


class Reranker(Protocol):
    """Scores passages against a question.

    Attributes:
        name: The model, for logs and timings.
    """

    name: str

    async def rerank(self, question: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """``(index into texts, relevance)`` for every text, most relevant first.

        Raises:
            RetryableError: The provider is unreachable, rate-limits or fails.
            PermanentError: The provider refused the request (bad model, key).
        """
        ...


class LiteLLMReranker:
    """litellm's ``arerank``: any provider litellm supports, or a Cohere-compatible server.

    Args:
        model: A litellm rerank model, e.g. ``cohere/rerank-english-v3.0``.
        api_base: The provider's URL, when not the provider's default.
        api_key: The provider's key.
        timeout_s: Seconds for one rerank call.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.name = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s

    async def rerank(self, question: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """Rerank ``texts``; see :class:`Reranker`."""
        if not texts:
            return []
        litellm = import_litellm()

        try:
            response = await litellm.arerank(
                model=self.name,
                query=question,
                documents=list(texts),
                top_n=len(texts),
                api_base=self._api_base,
                api_key=self._api_key,
                timeout=self._timeout_s,
            )
        except (litellm.AuthenticationError, litellm.BadRequestError, litellm.NotFoundError) as exc:
            raise PermanentError(f"rerank refused: {type(exc).__name__}", code="rerank") from exc
        except Exception as exc:  # timeouts, 5xx, 429, connection errors
            raise RetryableError(f"rerank failed: {type(exc).__name__}: {exc}") from exc
        results = response.results or []
        ranked = [(int(r["index"]), float(r["relevance_score"])) for r in results]
        return sorted(ranked, key=lambda pair: pair[1], reverse=True)
