"""Settings of retrieve_svc (environment prefix ``RAGBUS_RETRIEVE_``).

The LLM of the ``multi_query`` and ``hyde`` techniques is generate_svc's by default:
its model, fallbacks, URL and key read ``RAGBUS_RETRIEVE_LLM_*`` first, then the
shared ``RAGBUS_LLM_*`` variable, so setting ``RAGBUS_LLM_MODEL`` once enables both.
Its timeout, retries and deadline are retrieve_svc's own: an answer may take
minutes, a retrieval is waited for (30 s at the gateway, 30 s ``ack_wait_s``).
"""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ragbus.llm.settings import LlmSettings


def _llm(name: str) -> AliasChoices:
    """``RAGBUS_RETRIEVE_LLM_<NAME>``, else the shared ``RAGBUS_LLM_<NAME>``."""
    return AliasChoices(f"RAGBUS_RETRIEVE_LLM_{name}", f"RAGBUS_LLM_{name}")


class RetrieveSettings(LlmSettings):
    """Knobs of the retrieve service.

    The ``llm_*`` fields are :class:`~ragbus.llm.settings.LlmSettings`'s, here with
    retrieve_svc's variable names and defaults; ``llm_backoff_s`` and
    ``llm_max_backoff_s`` keep its 0.5 s and 20 s.

    Attributes:
        default_mode: Mode of a query that names none. ``hybrid`` measured best on
            BEIR SciFact on both stores (docs/retrieval.md).
        rrf_k: RRF rank constant of ``hybrid`` (see ``Fusion``).
        dense_weight: Weight of the dense list in ``hybrid``.
        sparse_weight: Weight of the BM25 list in ``hybrid``.
        fusion_candidates: Hits taken from each list before fusing.
        group_by: What a query that names none ranks: ``document`` (documents from
            their chunks, then their best passages) or ``chunk``.
        fusion_decay: Grouping by document, a document's score in one list is its
            chunks' scores weighted ``1, decay, decay**2, ...``; 0 is its best chunk.
        passages_per_document: Grouping by document, most passages per document.
        fusion_method: Grouping by document, how ``hybrid`` fuses: ``convex``
            (a mix of the lists' max-normalised document scores) or ``rrf``
            (reciprocal ranks of documents, ``rrf_k`` and the weights above).
        fusion_alpha: ``convex``'s dense share (BM25's is ``1 - alpha``).
        overfetch: Extra candidates fetched beyond ``top_k`` so that dropping chunks
            of just-deleted documents still leaves ``top_k`` passages.
        cache_size: Question embeddings kept in the LRU cache (0 disables it).
        mmr_candidates: With MMR, candidates = ``top_k`` times this.
        rerank_model: A litellm rerank model (e.g. ``cohere/rerank-english-v3.0``);
            none: no reranking.
        rerank_api_base: The rerank provider's URL, if not its default.
        rerank_api_key: The rerank provider's key.
        rerank_candidates: How many of the best hits the reranker reorders.
        rerank_model_path: Directory of a local ONNX cross-encoder (``model.onnx``
            and its tokenizer files); reranks on this machine instead of through
            ``rerank_model``. Set one of the two, not both.
        rerank_batch_size: (question, passage) pairs per cross-encoder call.
        rerank_threads: onnxruntime threads of the cross-encoder; ``None``: its choice.
        llm_model: litellm model of ``multi_query`` and ``hyde``; none: those
            techniques are refused with ``technique_unavailable``.
        llm_fallback_models: Models tried in order when ``llm_model`` keeps failing.
        llm_api_base: The LLM provider's URL.
        llm_api_key: The LLM provider's key.
        llm_timeout_s: Seconds for one LLM call.
        llm_max_retries: Retries per model on timeouts, 429 and 5xx.
        llm_deadline_s: All attempts of one expansion, in seconds: under the
            gateway's 30 s wait for ``/v1/retrieve`` and under ``ack_wait_s``.
        llm_temperature: Sampling temperature of the rewrites and drafts.
        llm_max_tokens: Longest LLM reply (N queries, or the drafted passage).
        multi_query_count: Rewrites ``multi_query`` asks for (searched with the
            original question, so N + 1 searches).
        multi_query_rrf_k: RRF rank constant fusing those searches (60, Cormack et
            al.'s; not tuned, unlike ``rrf_k``).
        multi_query_original_weight: RRF weight of the original question's list
            (each rewrite's is 1).
        ack_wait_s: Seconds before JetStream redelivers an un-acked query.
        max_deliver: Deliveries of one query before it is answered as failed.
        concurrency: ``query.requested`` messages handled at once per process, each
            acked on its own (``passages.retrieve`` requests are not limited).
    """

    model_config = SettingsConfigDict(
        env_prefix="RAGBUS_RETRIEVE_", extra="ignore", populate_by_name=True
    )

    default_mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    # k=5 with BM25 weighted 0.75 fused SciFact train best among k 1..100 and BM25
    # weights 0.5..2 (docs/retrieval.md): 0.722 nDCG@10 on Qdrant vs 0.711 at k=60, 1:1.
    rrf_k: int = Field(5, ge=1)
    dense_weight: float = Field(1.0, ge=0)
    sparse_weight: float = Field(0.75, ge=0)
    fusion_candidates: int = Field(100, ge=1, le=1000)
    group_by: Literal["document", "chunk"] = "document"
    fusion_decay: float = Field(0.0, ge=0, lt=1)
    passages_per_document: int = Field(3, ge=1, le=100)
    fusion_method: Literal["convex", "rrf"] = "convex"
    # 0.65: chosen by all 5 folds on SciFact train with 128-token dense windows
    # (docs/retrieval.md, "Dense windows"); 0.7 before them.
    fusion_alpha: float = Field(0.65, ge=0, le=1)
    overfetch: int = Field(10, ge=0, le=100)
    cache_size: int = Field(1024, ge=0)
    mmr_candidates: int = Field(4, ge=1, le=20)
    rerank_model: str | None = None
    rerank_api_base: str | None = None
    rerank_api_key: SecretStr | None = None
    rerank_candidates: int = Field(20, ge=1, le=100)
    rerank_model_path: Path | None = None
    rerank_batch_size: int = Field(32, ge=1, le=256)
    rerank_threads: int | None = Field(None, ge=1)
    llm_model: str | None = Field(None, validation_alias=_llm("MODEL"))
    llm_fallback_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_llm("FALLBACK_MODELS")
    )
    llm_api_base: str | None = Field(None, validation_alias=_llm("API_BASE"))
    llm_api_key: SecretStr | None = Field(None, validation_alias=_llm("API_KEY"))
    llm_timeout_s: float = Field(10.0, gt=0)
    llm_max_retries: int = Field(1, ge=0, le=10)
    llm_deadline_s: float = Field(20.0, gt=0)
    llm_temperature: float = Field(0.2, ge=0, le=2)
    llm_max_tokens: int = Field(256, ge=16, le=4096)
    multi_query_count: int = Field(3, ge=1, le=10)
    multi_query_rrf_k: int = Field(60, ge=1)
    multi_query_original_weight: float = Field(1.0, gt=0)
    ack_wait_s: float = Field(30.0, gt=0)
    max_deliver: int = Field(3, ge=1)
    concurrency: int = Field(8, ge=1, le=64)

    @model_validator(mode="after")
    def _one_reranker(self) -> "RetrieveSettings":
        if self.rerank_model is not None and self.rerank_model_path is not None:
            raise ValueError("set rerank_model or rerank_model_path, not both")
        return self
