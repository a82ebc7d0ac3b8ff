"""Composition root of generate_svc: settings, answerer and handler wired once."""

import asyncio

from faststream.nats import NatsRouter

from generate_svc.answerers import GenerateSettings, build_answerer
from generate_svc.condense import Condenser
from generate_svc.handlers import build_router
from generate_svc.service import GenerateService
from ragbus.bus import EventPublisher
from ragbus.resources import Resources
from ragbus.runtime import run_services


async def build(
    resources: Resources, publisher: EventPublisher, settings: GenerateSettings | None = None
) -> NatsRouter:
    """Choose the answerer (LLM when ``RAGBUS_LLM_MODEL`` is set, else extractive).

    Follow-ups are condensed by the same model, or offline without one.
    """
    settings = settings or GenerateSettings()
    answerer = build_answerer(settings, await resources.embedder())
    service = GenerateService(answerer, await resources.queries(), publisher)
    complete = getattr(answerer, "complete", None)  # only the LLM answerer has one
    return build_router(service, condenser=Condenser(complete))


def main() -> None:
    """Run generate_svc alone against ``NATS_URL`` and ``DATABASE_URL``."""
    asyncio.run(run_services([build], name="generate-svc"))
