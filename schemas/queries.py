"""Query events: question in, retrieved passages, streamed answer, cited answer out."""

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from schemas.envelope import Envelope

MAX_TOP_K = 100
"""Largest ``top_k`` a query may ask for."""


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
        quote: The text of the chunk that supports the answer (may be shortened).
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
    """Stage durations of one query, in milliseconds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    embed_ms: float | None = None
    search_ms: float | None = None
    retrieve_ms: float | None = None
    generate_ms: float | None = None
    total_ms: float | None = None


class RetrievePassages(Envelope):
    """Request: top-k passages for a question, no generation (subject ``passages.retrieve``).

    Sent with NATS request-reply; the reply is :class:`PassagesRetrieved`.
    """

    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)


class PassagesRetrieved(Envelope):
    """Reply to :class:`RetrievePassages`."""

    passages: list[Passage]
    timings: Timings = Field(default_factory=Timings)
    error: str | None = None


class QueryRequested(Envelope):
    """A question to answer from the tenant's documents (subject ``query.requested``).

    Attributes:
        query_id: Id that every later event of this query carries.
        question: The question, 1-8192 characters.
        top_k: Passages to retrieve, 1-100.
        user_id: Asking user, if known.
    """

    query_id: UUID
    question: str = Field(min_length=1, max_length=8192)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    user_id: str | None = None


class ContextRetrieved(Envelope):
    """Passages found for a query, ranked best first (subject ``context.retrieved``)."""

    query_id: UUID
    question: str
    passages: list[Passage]
    user_id: str | None = None
    timings: Timings = Field(default_factory=Timings)


class AnswerDelta(Envelope):
    """A piece of a streamed answer (subject ``answer.delta``; core NATS, not persisted).

    Attributes:
        seq: 0-based sequence number of the delta within the query.
        text: Text to append to the answer so far.
    """

    query_id: UUID
    seq: int = Field(ge=0)
    text: str


class AnswerReady(Envelope):
    """The finished answer with its citations (subject ``answer.ready``).

    Attributes:
        answer: Full answer text with ``[n]`` markers.
        citations: One entry per ``[n]`` used in ``answer``, ordered by ``n``.
        model: ``"extractive"`` for the offline answerer, else the litellm model string.
        found: False when nothing relevant was found and the answer says so.
    """

    query_id: UUID
    question: str
    answer: str
    citations: list[Citation]
    model: str
    found: bool = True
    timings: Timings = Field(default_factory=Timings)


class AnswerFailed(Envelope):
    """A query could not be answered (subject ``answer.failed``)."""

    query_id: UUID
    code: str
    error: str
