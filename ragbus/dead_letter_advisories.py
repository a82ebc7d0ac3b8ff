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

from faststream.nats import NatsMessage, NatsRouter

from deploy.jetstream import MAX_DELIVERIES_ADVISORIES, consumer
from ragbus.bus import jetstream_subscriber, record_nothing, settle
from ragbus.dead_letters import MaxDeliveriesAdvisory, capture_max_deliveries, delivered_by

ADVISORY_DURABLE = "ragbus-dlq-advisories"
ADVISORY_ACK_WAIT_S = 30.0
"""Reading one message back and storing it takes milliseconds."""


def advisory_router() -> NatsRouter:
    """The subscriber that dead-letters messages JetStream gave up on."""
    router = NatsRouter()
    spec = consumer(ADVISORY_DURABLE, MAX_DELIVERIES_ADVISORIES, ack_wait_s=ADVISORY_ACK_WAIT_S)

    @jetstream_subscriber(router, spec)
    async def dead_letter_given_up(advisory: MaxDeliveriesAdvisory, msg: NatsMessage) -> None:
        raw = msg.raw_message

        async def work() -> None:
            await capture_max_deliveries(delivered_by(raw).jetstream(), advisory)

        await settle(raw, work, max_deliver=spec.max_deliver, on_permanent=record_nothing)

    return router
