"""embed_svc's ``texts.embed`` subscriber: core NATS request-reply (``/v1/embeddings``)."""

from faststream.nats import NatsMessage, NatsRouter

from embed_svc.texts_embedding import EmbeddingsApi
from schemas import subjects as s
from schemas.embeddings import EmbedTexts, TextsEmbedded

EMBEDDINGS_QUEUE = "embed-svc-texts"
"""Core NATS queue group: one replica answers each ``texts.embed`` request."""


def build_embeddings_router(api: EmbeddingsApi) -> NatsRouter:
    """Answer ``texts.embed`` requests with the process's model.

    No ack policy applies: this is core NATS request-reply, not JetStream. Nothing
    is stored, so there is nothing to ack, nak or redeliver. The reply is the
    result, refusals and model failures included (``TextsEmbedded.error_code``).
    A request lost with a replica that dies is never answered; the caller times
    out and retries (the gateway answers 503, which OpenAI clients retry).

    Each replica handles one request at a time, and each request takes its turn
    on the model with the ingestion lanes (see :class:`EmbeddingsApi`), so the
    requests together are served like one more tenant lane.
    """
    router = NatsRouter()

    @router.subscriber(s.TEXTS_EMBED, queue=EMBEDDINGS_QUEUE)
    async def embed_texts(request: EmbedTexts, msg: NatsMessage) -> TextsEmbedded:
        return await api.embed(request, trace_parent=msg.raw_message)

    return router
