"""Publishing events and settling JetStream messages: the ack policy in one place.

Every JetStream subscriber in ragbus uses FastStream's ``AckPolicy.MANUAL`` and
settles its message through :func:`settle`:

* success: ``ack`` after the side effects are committed;
* :class:`~ragbus.errors.PermanentError`: the caller's ``on_permanent`` records the
  failure (document or query marked failed with the reason), the message is
  dead-lettered (:mod:`ragbus.dlq`), then ``term``;
* anything else is transient: ``nak`` with an exponential delay, so a database or
  model hiccup is retried without a hot loop; on the last allowed delivery it is
  handled as permanent, so nothing stays "in progress" forever.

Every outcome is counted in :mod:`ragbus.metrics` per durable consumer.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from pydantic import BaseModel

from deploy.jetstream import ConsumerSpec, stream_for
from ragbus.dlq import dead_letter
from ragbus.errors import PermanentError
from ragbus.metrics import DEAD_LETTERS, HANDLE_SECONDS, MESSAGES
from schemas.dead_letters import DeadLetterReason

__all__ = [
    "EventPublisher",
    "Publisher",
    "heartbeat",
    "jetstream_subscriber",
    "raw_messages",
    "record_nothing",
    "settle",
]

log = logging.getLogger(__name__)

NAK_BASE_DELAY_S = 0.5
NAK_MAX_DELAY_S = 30.0


class Publisher(Protocol):
    """Port: publishes an event on a subject (implemented by :class:`EventPublisher`)."""

    async def publish(self, event: BaseModel, subject: str, *, msg_id: str | None = None) -> None:
        """Publish ``event``; ``msg_id`` de-duplicates retries."""
        ...


class EventPublisher:
    """Publishes pydantic events; JetStream (with de-duplication) where a stream exists.

    Args:
        broker: A connected FastStream NATS broker.
    """

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def publish(self, event: BaseModel, subject: str, *, msg_id: str | None = None) -> None:
        """Publish ``event`` on ``subject``.

        Subjects stored by a stream go through JetStream and wait for its ack, with
        ``Nats-Msg-Id`` set to ``msg_id`` (default: the event's ``event_id``) so a
        retried publish is stored once. Other subjects (``answer.delta``) use core NATS.

        Raises:
            nats.errors.Error: if NATS or JetStream does not accept the message.
        """
        try:
            stream = stream_for(subject)
        except KeyError:
            await self._broker.publish(event, subject)
            return
        dedup = msg_id or str(getattr(event, "event_id", ""))
        headers = {"Nats-Msg-Id": dedup} if dedup else None
        await self._broker.publish(event, subject, headers=headers, stream=stream)

    async def request(self, event: BaseModel, subject: str, *, timeout_s: float) -> Any:
        """Core NATS request-reply; returns the decoded reply body (a dict).

        Raises:
            TimeoutError: when nobody answers within ``timeout_s`` seconds.
        """
        response = await self._broker.request(event, subject, timeout=timeout_s)
        return await response.decode()


def jetstream_subscriber(
    router: NatsRouter | NatsBroker,
    spec: ConsumerSpec,
    *,
    batch_size: int = 1,
    timeout_s: float = 1.0,
    batch: bool = False,
    persistent: bool = True,
) -> Any:
    """Declare a durable pull subscriber for ``spec`` with manual acknowledgement.

    Every JetStream handler in ragbus goes through here, so all of them use the
    declared consumer config (explicit ack, ack wait, max deliver) and settle their
    messages themselves with :func:`settle`. The stream itself is declared by
    ``deploy.jetstream.ensure_streams``, not by FastStream.

    Args:
        router: The service's router.
        spec: The consumer (durable name, stream, subject, limits).
        batch_size: Messages fetched per pull.
        timeout_s: Longest wait for a pull to fill, in seconds.
        batch: Hand the handler a list of events instead of one.
        persistent: ``False`` for a subscriber added to a running broker and
            stopped by its owner (``ragbus.lanes``), which the broker must not keep.

    Returns:
        The decorator for the handler.
    """
    return router.subscriber(
        spec.subject,
        stream=JStream(spec.stream, declare=False),
        durable=spec.durable,
        config=spec.config(),
        pull_sub=PullSub(batch_size=batch_size, timeout=timeout_s, batch=batch),
        ack_policy=AckPolicy.MANUAL,
        persistent=persistent,
    )


async def record_nothing(exc: PermanentError) -> None:
    """``on_permanent`` for work whose failure has nowhere to be recorded but the log."""
    log.error("permanent failure with nothing to record", extra={"code": exc.code})


def raw_messages(msg: NatsMessage) -> list[Msg]:
    """The nats-py messages behind a FastStream message (one, or a pull batch)."""
    raw = msg.raw_message
    return list(raw) if isinstance(raw, list) else [raw]


def delivery_count(raw: Msg) -> int:
    """How many times JetStream has delivered ``raw`` (1 on first delivery)."""
    try:
        return int(raw.metadata.num_delivered)
    except Exception:  # core NATS message: no metadata
        return 1


def consumer_name(raw: Msg) -> str:
    """The durable consumer that delivered ``raw`` (``""`` for a core NATS message)."""
    try:
        return str(raw.metadata.consumer or "")
    except Exception:  # core NATS message: no metadata
        return ""


def nak_delay_s(delivered: int) -> float:
    """Exponential backoff for a nak: 0.5 s, 1 s, 2 s ... capped at 30 s."""
    return min(NAK_MAX_DELAY_S, NAK_BASE_DELAY_S * 2 ** max(0, delivered - 1))


@contextlib.asynccontextmanager
async def heartbeat(messages: Sequence[Msg], every_s: float) -> AsyncIterator[None]:
    """Send ``in_progress`` for ``messages`` every ``every_s`` seconds while the body runs.

    Keeps JetStream from redelivering work that is slow but alive; if the process
    dies the heartbeats stop and the message is redelivered after ``ack_wait``.
    """

    async def beat() -> None:
        while True:
            await asyncio.sleep(every_s)
            for raw in messages:
                with contextlib.suppress(Exception):
                    await raw.in_progress()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settle(
    raw: Msg,
    work: Callable[[], Awaitable[None]],
    *,
    max_deliver: int,
    on_permanent: Callable[[PermanentError], Awaitable[None]],
) -> None:
    """Run ``work`` for one JetStream message and ack, nak or dead-letter and term it.

    Args:
        raw: The nats-py message.
        work: The side effects; must be idempotent (it may run again on redelivery).
        max_deliver: The consumer's max deliveries; the last one turns a transient
            error into a permanent one (reason ``retries_exhausted``).
        on_permanent: Records the failure before the message is dead-lettered and
            terminated.
    """
    delivered = delivery_count(raw)
    consumer = consumer_name(raw)
    started = time.perf_counter()
    try:
        await work()
    except PermanentError as exc:
        HANDLE_SECONDS.labels(consumer).observe(time.perf_counter() - started)
        await _give_up(raw, exc, on_permanent, DeadLetterReason.PERMANENT_ERROR)
    except Exception as exc:
        HANDLE_SECONDS.labels(consumer).observe(time.perf_counter() - started)
        if delivered >= max_deliver:
            reason = PermanentError(
                f"gave up after {delivered} deliveries: {type(exc).__name__}: {exc}",
                code="retries_exhausted",
            )
            await _give_up(raw, reason, on_permanent, DeadLetterReason.RETRIES_EXHAUSTED)
            return
        delay = nak_delay_s(delivered)
        log.warning(
            "transient failure, nak",
            extra={"subject": raw.subject, "delivered": delivered, "delay_s": delay},
            exc_info=exc,
        )
        await raw.nak(delay=delay)
        MESSAGES.labels(consumer, "nak").inc()
    else:
        HANDLE_SECONDS.labels(consumer).observe(time.perf_counter() - started)
        await raw.ack()
        MESSAGES.labels(consumer, "ack").inc()


async def _give_up(
    raw: Msg,
    exc: PermanentError,
    on_permanent: Callable[[PermanentError], Awaitable[None]],
    reason: DeadLetterReason,
) -> None:
    consumer = consumer_name(raw)
    log.error("permanent failure, term", extra={"subject": raw.subject, "code": exc.code})
    try:
        await on_permanent(exc)
        await dead_letter(raw, reason=reason, code=exc.code, error=str(exc))
    except Exception:
        # The failure could not be recorded or dead-lettered (Postgres or NATS
        # down): retry later rather than lose the reason or the message. Recording
        # is idempotent, and the dead letter's Nats-Msg-Id stores it once.
        log.exception("could not record or dead-letter a permanent failure, nak")
        await raw.nak(delay=NAK_MAX_DELAY_S)
        MESSAGES.labels(consumer, "nak").inc()
        return
    DEAD_LETTERS.labels(consumer, reason.value).inc()
    await raw.term()
    MESSAGES.labels(consumer, "term").inc()
