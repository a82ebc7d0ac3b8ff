"""Embedding requests: texts in, ragbus's own vectors out.

Sent with NATS request-reply on ``texts.embed`` (core NATS, served by embed_svc),
which is what ``POST /v1/embeddings`` does. The texts are embedded by the model
that embedded the index, as passages, exactly as ingestion embeds chunks.

Vectors travel as base64, not as JSON numbers: 256 vectors of 384 float32 take
~2 MB as JSON numbers, over NATS' default 1 MiB payload, and 512 KiB as base64.
"""

import base64
import binascii
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.envelope import Envelope

MAX_EMBED_INPUTS = 256
"""Most texts in one request (the reply of 256 x 384 dims is ~512 KiB)."""

MAX_EMBED_INPUT_CHARS = 8192
"""Longest text in characters. The model reads at most 256 tokens (about 1,000 to
1,500 characters of English); the rest of a longer text is not embedded."""

MAX_EMBED_REQUEST_BYTES = 256 * 1024
"""Most UTF-8 bytes of all texts of one request together, so the request stays far
below NATS' default 1 MiB payload (as ``MAX_INLINE_TEXT_BYTES`` does)."""

EmbedText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EMBED_INPUT_CHARS)]
"""One text to embed: 1 to :data:`MAX_EMBED_INPUT_CHARS` characters."""


class EmbedErrorCode(StrEnum):
    """Why a ``texts.embed`` request was not embedded (``TextsEmbedded.error_code``).

    * ``model_not_found``: ``model`` names a model this service does not serve.
    * ``dimensions_unsupported``: ``dimensions`` is not the model's dimension.
    * ``too_many_inputs``: more texts than fit in one reply at the model's dimension.
    * ``expired``: the caller's ``expires_at`` passed while the request waited for
      the model; nobody was waiting for the answer any more.
    * ``embedding_failed``: the model raised; retrying may help.
    """

    MODEL_NOT_FOUND = "model_not_found"
    DIMENSIONS_UNSUPPORTED = "dimensions_unsupported"
    TOO_MANY_INPUTS = "too_many_inputs"
    EXPIRED = "expired"
    EMBEDDING_FAILED = "embedding_failed"


class EmbedTexts(Envelope):
    """Request: embed ``texts`` with ragbus's model (subject ``texts.embed``).

    Sent with NATS request-reply; the reply is :class:`TextsEmbedded`. Every text is
    embedded as a passage (there is no query/document distinction here, as in
    OpenAI's API). A text longer than the model's window is truncated to its first
    tokens, as the model does with any input; the reply says which ones were.

    Attributes:
        texts: 1 to :data:`MAX_EMBED_INPUTS` texts, each 1 to
            :data:`MAX_EMBED_INPUT_CHARS` characters, together at most
            :data:`MAX_EMBED_REQUEST_BYTES` bytes of UTF-8.
        model: The model asked for: ``None``, ``"ragbus"``, the model id
            (``sentence-transformers/all-MiniLM-L6-v2``) or its last part
            (``all-MiniLM-L6-v2``); any other is answered ``model_not_found``.
        dimensions: The vector size the caller expects; ``None`` or the model's
            dimension (384), else ``dimensions_unsupported``. Nothing is shortened.
        expires_at: When the caller stops waiting (UTC). A request still waiting
            for the model then is answered ``expired`` without using the model.
    """

    texts: list[EmbedText] = Field(min_length=1, max_length=MAX_EMBED_INPUTS)
    model: str | None = Field(default=None, max_length=256)
    dimensions: int | None = Field(default=None, ge=1)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        size = sum(len(text.encode("utf-8")) for text in self.texts)
        if size > MAX_EMBED_REQUEST_BYTES:
            raise ValueError(
                f"the texts are {size} bytes of UTF-8 together; the limit is"
                f" {MAX_EMBED_REQUEST_BYTES} bytes, send fewer texts per request"
            )
        return self


class TextsEmbedded(Envelope):
    """Reply to :class:`EmbedTexts`: one vector per text, in the order of ``texts``.

    Attributes:
        model: Id of the model that embedded the texts.
        dim: Size of each vector (384 for all-MiniLM-L6-v2).
        embeddings: One base64 string per text: its vector as ``dim`` little-endian
            float32 (``4 * dim`` bytes), L2-normalised. Together, the ``(n, dim)``
            float32 matrix row by row. Empty when ``error_code`` is set.
        token_counts: Tokens of each text the model embedded: word pieces under the
            model's tokenizer without ``[CLS]``/``[SEP]``, at most the window
            (254 for a 256-token model).
        truncated: 0-based indices of the texts longer than the window; only their
            first ``token_counts[i]`` tokens were embedded.
        prompt_tokens: ``sum(token_counts)``, in tokens.
        error: Readable reason when nothing was embedded.
        error_code: Why nothing was embedded: a value of :class:`EmbedErrorCode`
            (a string, so codes added later do not break older consumers).
    """

    model: str
    dim: int = Field(ge=0)
    embeddings: list[str] = Field(default_factory=list)
    token_counts: list[int] = Field(default_factory=list)
    truncated: list[int] = Field(default_factory=list)
    prompt_tokens: int = Field(default=0, ge=0)
    error: str | None = None
    error_code: str | None = None


MAX_EMBEDDING_DIM = 4096
"""Most dimensions of a question embedding carried in an event."""


class QuestionEmbedding(BaseModel):
    """A question's embedding as retrieve_svc computed it, so that generate_svc's
    offline answerer need not run the model on the same text again (about 5 ms of
    wall time and 9 ms of CPU per answer with all-MiniLM-L6-v2 on 2 cores).

    Attributes:
        model_id: The model that made it; a consumer with another model ignores it.
        vector: base64 of ``(dim,)`` float32, little-endian, L2-normalised (384
            dimensions: 1,536 bytes, 2,048 characters); see :meth:`of` and :meth:`raw`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_id: str = Field(min_length=1, max_length=256)
    vector: str = Field(
        min_length=8,
        max_length=4 * (4 * MAX_EMBEDDING_DIM + 2) // 3,
        pattern=r"^[A-Za-z0-9+/]+={0,2}$",
    )

    @classmethod
    def of(cls, model_id: str, vector: bytes) -> "QuestionEmbedding":
        """From a model id and the vector's raw bytes (``(dim,)`` float32, little-endian)."""
        return cls(model_id=model_id, vector=base64.b64encode(vector).decode("ascii"))

    def raw(self) -> bytes:
        """The vector's bytes, ``4 * dim`` of them.

        Raises:
            ValueError: The base64 does not decode, or not to whole float32 values.
        """
        try:
            data = base64.b64decode(self.vector, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"question_embedding.vector is not base64: {exc}") from exc
        if len(data) % 4:
            raise ValueError(f"question_embedding.vector has {len(data)} bytes, not 4 per float32")
        return data
