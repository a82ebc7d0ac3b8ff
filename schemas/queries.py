"""Query events: question in, retrieved passages, streamed answer, cited answer out."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.embeddings import QuestionEmbedding
from schemas.envelope import Envelope
from schemas.generation import GenerationOptions

MAX_TOP_K = 100
"""Largest ``top_k`` a query may ask for."""

SearchMode = Literal["dense", "sparse", "hybrid"]
"""How passages are found: embedding similarity, BM25 terms, or both fused by RRF."""

MetadataValue = str | int | float | bool
"""A metadata value a filter can match (the JSON scalar given at upload)."""


class RetrievalFilters(BaseModel):
    """Which of the tenant's documents a query may return; every given field must hold.

    The tenant is never part of a filter: it comes from the envelope and is always
    applied, so no filter can widen a query beyond its tenant.

    Attributes:
        document_ids: Only these documents (at most 1000).
        metadata: Only documents whose upload metadata has each of these keys with
            exactly this value (JSON equality, so ``1`` does not match ``"1"``).
        uploaded_after: Only documents uploaded at or after this time.
        uploaded_before: Only documents uploaded before this time.
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False}
    )

    document_ids: list[UUID] | None = Field(default=None, max_length=1000)
    metadata: dict[str, MetadataValue] | None = Field(default=None, max_length=32)
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None


class RetrievalOptions(BaseModel):
    """Optional retrieval knobs shared by :class:`RetrievePassages` and :class:`QueryRequested`.

    Attributes:
        mode: ``dense``, ``sparse`` or ``hybrid``; ``None`` is the service's default
            (``hybrid``, the best measured on BEIR SciFact, see docs/retrieval.md).
        filters: Restricts the documents searched, see :class:`RetrievalFilters`.
        min_score: Drop passages scoring below this. The score is the mode's own:
            cosine for ``dense``, BM25 for ``sparse``, fused RRF for ``hybrid``.
        mmr_lambda: If set, pick the ``top_k`` passages by maximal marginal relevance
            from a larger candidate set: 1.0 is pure relevance, 0.0 pure diversity.
        rerank: Rerank the top candidates with the configured reranker; ``None``
            reranks exactly when one is configured. ``True`` without one fails with
            the code ``rerank_unavailable``.
        technique: A named retrieval technique (retrieve_svc's registry,
            ``retrieve_svc/techniques.py``): ``dense``, ``sparse``, ``hybrid``,
            ``hybrid_rerank``, or, with an LLM configured, ``multi_query`` (the
            question rewritten into several queries, each searched, fused by RRF) and
            ``hyde`` (a drafted answer passage embedded and searched). ``None`` is a
            plain search in ``mode``. The first four fix the mode (and
            ``hybrid_rerank`` reranking); ``multi_query`` and ``hyde`` search in
            ``mode``. A ``mode`` or ``rerank`` that contradicts the technique fails
            with ``technique_conflict``, an unknown name with ``unknown_technique``
            (the message lists the known ones), an LLM technique without an LLM
            with ``technique_unavailable``. The names are checked by the service,
            not here, so a plain NATS client gets that typed failure in the reply
            (or ``answer.failed``) and a new technique needs no schema change.
        group_by: ``document``: documents are ranked from their chunks (in each of
            dense and sparse by their best chunks, then fused by RRF over document
            ranks) and each is returned as its best passages (at most the service's
            ``passages_per_document``), every passage scored with its document's
            score. ``chunk``: every chunk is ranked (and fused) on its own. ``None``
            is the service's default (``document``, the best measured on BEIR
            SciFact, see docs/retrieval.md).
    """

    mode: SearchMode | None = None
    filters: RetrievalFilters | None = None
    min_score: float | None = None
    mmr_lambda: float | None = Field(default=None, ge=0.0, le=1.0)
    rerank: bool | None = None
    technique: str | None = Field(default=None, min_length=1, max_length=64)
    group_by: Literal["document", "chunk"] | None = None


class Passage(BaseModel):
    """A retrieved chunk with its score.

    Attributes:
        chunk_id: Id of the chunk (uuid5, see ``ChunkPayload``).
        document_id: Document the chunk belongs to.
        filename: The document's original file name.
        title: The document's title, if the parser found one.
        text: The chunk text.
        score: Similarity of the question to the chunk; cosine in [-1, 1] for dense search.
        page: 1-based PDF page, if any.
        heading: Heading path, if any.
        chunk_index: 0-based position of the chunk in its document.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    chunk_id: UUID
    document_id: UUID
    filename: str
    title: str | None = None
    text: str
    score: float
    page: int | None = None
    heading: str | None = None
    chunk_index: int = 0


class Citation(BaseModel):
    """A numbered source that an answer's ``[n]`` marker points to.

    Attributes:
        n: The number used in the answer text, 1-based.
        document_id: Cited document.
        filename: Its file name.
        title: Its title, if known.
        page: 1-based page, if any.
        heading: Heading path, if any.
        chunk_id: Cited chunk.
        score: Retrieval score of the cited chunk.
        quote: The text of the chunk that supports the answer, shortened to 300
            characters so that it holds the first answer sentence citing it when
            that sentence is found in the chunk (then it starts with ``"…"``).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    n: int = Field(ge=1)
    document_id: UUID
    filename: str
    title: str | None = None
    page: int | None = None
    heading: str | None = None
    chunk_id: UUID
    score: float
    quote: str | None = None


class Timings(BaseModel):
    """Stage durations of one query, in milliseconds.

    ``expand_ms`` is the LLM call of the ``multi_query`` or ``hyde`` technique
    (absent for other techniques); it is part of ``retrieve_ms``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    expand_ms: float | None = None
    embed_ms: float | None = None
    filter_ms: float | None = None
    search_ms: float | None = None
    rerank_ms: float | None = None
    retrieve_ms: float | None = None
    generate_ms: float | None = None
    total_ms: float | None = None


class RetrievePassages(Envelope, RetrievalOptions):
    """Request: top-k passages for a question, no generation (subject ``passages.retrieve``).

    Sent with NATS request-reply; the reply is :class:`PassagesRetrieved`. The
    optional fields of :class:`RetrievalOptions` pick the mode, filters and MMR.
    """

    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class PassagesRetrieved(Envelope):
    """Reply to :class:`RetrievePassages`."""

    passages: list[Passage]
    timings: Timings = Field(default_factory=Timings)
    error: str | None = None
    error_code: str | None = None


class QueryRequested(Envelope, RetrievalOptions):
    """A question to answer from the tenant's documents (subject ``query.requested``).

    The optional fields of :class:`RetrievalOptions` pick the mode, filters and MMR.

    Attributes:
        query_id: Id that every later event of this query carries.
        question: The question, 1-8192 characters.
        top_k: Passages to retrieve, 1-100.
        user_id: Asking user, if known.
        generation: How an LLM writes the answer (max tokens, temperature, stop
            sequences, end user); None keeps generate_svc's settings.
    """

    query_id: UUID
    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    user_id: str | None = None
    generation: GenerationOptions | None = None


class ContextRetrieved(Envelope):
    """Passages found for a query, ranked best first (subject ``context.retrieved``).

    ``generation`` is the query's :class:`GenerationOptions`, passed on unchanged.
    ``question_embedding`` is the question's embedding when retrieval computed one
    (absent for sparse-only and hyde searches, and from publishers before it).
    """

    query_id: UUID
    question: str
    passages: list[Passage]
    user_id: str | None = None
    timings: Timings = Field(default_factory=Timings)
    generation: GenerationOptions | None = None
    question_embedding: QuestionEmbedding | None = None


class AnswerDelta(Envelope):
    """A piece of a streamed answer (subject ``answer.delta``; core NATS, not persisted).

    Attributes:
        seq: 0-based sequence number of the delta within the query.
        text: Text to append to the answer so far.
    """

    query_id: UUID
    seq: int = Field(ge=0)
    text: str


class Usage(BaseModel):
    """Tokens and cost of the LLM calls behind one answer (absent for the offline answerer).

    Attributes:
        prompt_tokens: Input tokens, as the provider reported them.
        completion_tokens: Output tokens, as the provider reported them.
        cost_usd: litellm's price for them (its bundled price map); None when
            the model is not in the map, for example a local model.
        attempts: Provider calls made, retries and fallbacks included.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cost_usd: float | None = None
    attempts: int = Field(default=1, ge=0)


class AnswerReady(Envelope):
    """The finished answer with its citations (subject ``answer.ready``).

    Attributes:
        answer: Full answer text with ``[n]`` markers.
        citations: One entry per ``[n]`` used in ``answer``, ordered by ``n``.
        model: ``"extractive"`` for the offline answerer, else the litellm model string.
        found: False when nothing relevant was found and the answer says so.
        confidence: How well the cited passages match the question, in [0, 1]:
            the highest retrieval score (cosine) among the cited passages, clipped
            to [0, 1]; 0 when the answer cites nothing. See docs/api.md.
        usage: Tokens and cost of the LLM calls; None for the offline answerer.
    """

    query_id: UUID
    question: str
    answer: str
    citations: list[Citation]
    model: str
    found: bool = True
    timings: Timings = Field(default_factory=Timings)
    confidence: float | None = Field(default=None, ge=0, le=1)
    usage: Usage | None = None


class AnswerFailed(Envelope):
    """A query could not be answered (subject ``answer.failed``)."""

    query_id: UUID
    code: str
    error: str
