"""Composition root of generate_svc: settings, answerer and handler wired once."""

import asyncio

from faststream.nats import NatsRouter

from generate_svc.answerers import Answerer
from generate_svc.condense import Condenser
from generate_svc.extractive import ExtractiveAnswerer
from generate_svc.handlers import build_router
from generate_svc.llm_answerer import LiteLLMAnswerer
from generate_svc.service import GenerateService
from generate_svc.settings import GenerateSettings
from ragbus.bus import EventPublisher
from ragbus.embedding.base import Embedder
from ragbus.llm.client import LlmClient
from ragbus.resources import Resources
from ragbus.runtime import run_services


def build_answerer(
    settings: GenerateSettings, embedder: Embedder, llm: LlmClient | None
) -> Answerer:
    """Choose the answerer: the LLM when there is one, else extractive.

    Args:
        settings: Generate service settings.
        embedder: The embedding model, used by the extractive answerer; the caller
            warms it up.
        llm: The chat model (``RAGBUS_LLM_MODEL``), or None to answer offline.

    Returns:
        A ready answerer; building it makes no network call.
    """
    if llm is not None:
        return LiteLLMAnswerer(llm, context_tokens=settings.llm_context_tokens)
    return ExtractiveAnswerer(
        embedder,
        max_sentences=settings.extractive_max_sentences,
        min_score=settings.extractive_min_score,
        max_candidates=settings.extractive_max_candidates or None,
    )


async def build(
    resources: Resources, publisher: EventPublisher, settings: GenerateSettings | None = None
) -> NatsRouter:
    """Choose the answerer (LLM when ``RAGBUS_LLM_MODEL`` is set, else extractive).

    Follow-ups are condensed by the same model, or offline without one.
    """
    settings = settings or GenerateSettings()
    llm = LlmClient.from_settings(settings) if settings.llm_model else None
    if llm is not None:
        llm.warm_up()  # importing litellm takes seconds: at start, not at the first answer
    answerer = build_answerer(settings, await resources.embedder(), llm)
    service = GenerateService(answerer, await resources.queries(), publisher)
    condenser = Condenser(llm.complete if llm is not None else None)
    return build_router(service, condenser=condenser, concurrency=settings.generate_concurrency)


def main() -> None:
    """Run generate_svc alone against ``NATS_URL`` and ``DATABASE_URL``."""
    asyncio.run(run_services([build], name="generate-svc"))
