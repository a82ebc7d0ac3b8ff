"""Turns JetStream's max-deliveries advisories into dead letters.

When a handler never settles a message (its payload cannot be decoded, or the
worker crashes or hangs on it every time), JetStream redelivers it ``max_deliver``
times, then stops and publishes an advisory on
``$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>``. The
``RAGBUS_ADVISORIES`` stream stores those advisories, so none is missed while no
ragbus process runs; this subscriber, included in every service process by
:func:`ragbus.runtime.start_bus`, reads the message back and dead-letters it.
Replicas share one durable consumer, so each advisory is handled once.
"""

from faststream.nats import NatsRouter

from deploy.jetstream import MAX_DELIVERIES_ADVISORIES, consumer
from ragbus.bus import EventPublisher
from ragbus.dead_letters import MaxDeliveriesAdvisory, capture_max_deliveries
from ragbus.subscribers import jetstream_handler

ADVISORY_DURABLE = "ragbus-dlq-advisories"
ADVISORY_ACK_WAIT_S = 30.0
"""Reading one message back and storing it takes milliseconds."""


def advisory_router(publisher: EventPublisher) -> NatsRouter:
    """The subscriber that dead-letters messages JetStream gave up on.

    Args:
        publisher: The process's publisher, whose connection reads the stream back.
    """
    router = NatsRouter()
    spec = consumer(ADVISORY_DURABLE, MAX_DELIVERIES_ADVISORIES, ack_wait_s=ADVISORY_ACK_WAIT_S)

    @jetstream_handler(router, spec)
    async def dead_letter_given_up(advisory: MaxDeliveriesAdvisory) -> None:
        await capture_max_deliveries(publisher.jetstream(), advisory)

    return router
