"""Settings of retrieve_svc (environment prefix ``RAGBUS_RETRIEVE_``)."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragbus.stores.vectors.base import Fusion
from retrieve_svc.rerank import LitellmReranker, Reranker
from retrieve_svc.service import RetrieveConfig


class RetrieveSettings(BaseSettings):
    """Knobs of the retrieve service.

    Attributes:
        default_mode: Mode of a query that names none. ``hybrid`` measured best on
            BEIR SciFact on both stores (docs/retrieval.md).
        rrf_k: RRF rank constant of ``hybrid`` (see ``Fusion``).
        dense_weight: Weight of the dense list in ``hybrid``.
        sparse_weight: Weight of the BM25 list in ``hybrid``.
        fusion_candidates: Hits taken from each list before fusing.
        overfetch: Extra candidates fetched beyond ``top_k`` so that dropping chunks
            of just-deleted documents still leaves ``top_k`` passages.
        cache_size: Question embeddings kept in the LRU cache (0 disables it).
        mmr_candidates: With MMR, candidates = ``top_k`` times this.
        rerank_model: A litellm rerank model (e.g. ``cohere/rerank-english-v3.0``);
            none: no reranking.
        rerank_api_base: The rerank provider's URL, if not its default.
        rerank_api_key: The rerank provider's key.
        rerank_candidates: How many of the best hits the reranker reorders.
        ack_wait_s: Seconds before JetStream redelivers an un-acked query.
        max_deliver: Deliveries of one query before it is answered as failed.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_RETRIEVE_", extra="ignore")

    default_mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    # k=5 with BM25 weighted 0.75 fused SciFact train best among k 1..100 and BM25
    # weights 0.5..2 (docs/retrieval.md): 0.722 nDCG@10 on Qdrant vs 0.711 at k=60, 1:1.
    rrf_k: int = Field(5, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    sparse_weight: float = Field(0.75, ge=0)
    fusion_candidates: int = Field(100, ge=1, le=1000)
    overfetch: int = Field(10, ge=0, le=100)
    cache_size: int = Field(1024, ge=0)
    mmr_candidates: int = Field(4, ge=1, le=20)
    rerank_model: str | None = None
    rerank_api_base: str | None = None
    rerank_api_key: SecretStr | None = None
    rerank_candidates: int = Field(20, ge=1, le=100)
    ack_wait_s: float = Field(30.0, gt=0)
    max_deliver: int = Field(3, ge=1)

    def retrieve_config(self) -> RetrieveConfig:
        """The service's configuration from these settings."""
        fusion = Fusion(
            k=self.rrf_k,
            dense_weight=self.dense_weight,
            sparse_weight=self.sparse_weight,
            candidates=self.fusion_candidates,
        )
        return RetrieveConfig(
            default_mode=self.default_mode,
            overfetch=self.overfetch,
            fusion=fusion,
            cache_size=self.cache_size,
            mmr_candidates=self.mmr_candidates,
            rerank_candidates=self.rerank_candidates,
        )

    def reranker(self) -> Reranker | None:
        """The configured reranker, or ``None`` when ``rerank_model`` is unset."""
        if self.rerank_model is None:
            return None
        key = self.rerank_api_key.get_secret_value() if self.rerank_api_key else None
        return LitellmReranker(self.rerank_model, api_base=self.rerank_api_base, api_key=key)
