"""Publishing events and subscribing to JetStream with a declared ack policy.

Every JetStream subscriber in ragbus uses FastStream's ``AckPolicy.MANUAL`` and
settles its message through :func:`ragbus.ack_policy.settle` (re-exported here):
ack after commit, retry transient errors, dead-letter and term permanent ones.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsRouter, PullSub
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from deploy.jetstream import ConsumerSpec, stream_for
from ragbus.ack_policy import (
    NAK_BASE_DELAY_S,
    NAK_MAX_DELAY_S,
    consumer_name,
    delivery_count,
    nak_delay_s,
    settle,
)
from ragbus.errors import PermanentError

__all__ = [
    "NAK_BASE_DELAY_S",
    "NAK_MAX_DELAY_S",
    "EventPublisher",
    "Publisher",
    "consumer_name",
    "delivery_count",
    "heartbeat",
    "jetstream_subscriber",
    "nak_delay_s",
    "raw_messages",
    "record_nothing",
    "settle",
]

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Port: publishes an event on a subject (implemented by :class:`EventPublisher`)."""

    async def publish(self, event: BaseModel, subject: str, *, msg_id: str | None = None) -> None:
        """Publish ``event``; ``msg_id`` de-duplicates retries."""
        ...


PUBLISH_TIMEOUT_S = 5.0
"""Wait for JetStream's ack per attempt. FastStream's default (0.5 s) timed out under
load (4 uploads at once next to the model on 2 busy cores) and failed uploads."""
PUBLISH_ATTEMPTS = 3
"""Attempts per JetStream publish; a retry carries the same ``Nats-Msg-Id``, so a
message stored by an attempt whose ack was lost is not stored twice."""


class EventPublisher:
    """Publishes pydantic events; JetStream (with de-duplication) where a stream exists.

    Args:
        broker: A connected FastStream NATS broker.
        timeout_s: Wait for JetStream's ack per attempt, in seconds.
        attempts: Attempts per JetStream publish (timeouts only are retried, after
            0.2 s, then 0.4 s, ...; dedup by ``Nats-Msg-Id`` makes that safe).
    """

    def __init__(
        self,
        broker: NatsBroker,
        *,
        timeout_s: float = PUBLISH_TIMEOUT_S,
        attempts: int = PUBLISH_ATTEMPTS,
    ) -> None:
        self._broker = broker
        self._timeout_s = timeout_s
        self._attempts = attempts

    async def publish(self, event: BaseModel, subject: str, *, msg_id: str | None = None) -> None:
        """Publish ``event`` on ``subject``.

        Subjects stored by a stream go through JetStream and wait for its ack, with
        ``Nats-Msg-Id`` set to ``msg_id`` (default: the event's ``event_id``) so a
        retried publish is stored once; an ack that does not come within
        ``timeout_s`` is retried that way. Other subjects (``answer.delta``) use
        core NATS.

        Raises:
            nats.errors.Error: if NATS or JetStream does not accept the message
                (``TimeoutError`` after the last attempt).
        """
        try:
            stream = stream_for(subject)
        except KeyError:
            await self._broker.publish(event, subject)
            return
        dedup = msg_id or str(getattr(event, "event_id", ""))
        headers = {"Nats-Msg-Id": dedup} if dedup else None
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((TimeoutError, NatsTimeoutError)),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    log.warning("retrying a publish", extra={"subject": subject})
                await self._broker.publish(
                    event, subject, headers=headers, stream=stream, timeout=self._timeout_s
                )

    def jetstream(self) -> JetStreamContext:
        """The broker's JetStream context (for reading stream and consumer state).

        Raises:
            AttributeError: The broker is not connected yet.
        """
        return self._broker.connection.jetstream()

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
    max_workers: int = 1,
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
            stopped by its owner (``embed_svc.tenant_lanes``), which the broker must not keep.
        max_workers: Messages handled concurrently (not with ``batch``); each is
            still acked, nakked or termed on its own.

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
        max_workers=max_workers if max_workers > 1 else None,
    )


async def record_nothing(exc: PermanentError) -> None:
    """``on_permanent`` for work whose failure has nowhere to be recorded but the log."""
    log.error("permanent failure with nothing to record", extra={"code": exc.code})


def raw_messages(msg: NatsMessage) -> list[Msg]:
    """The nats-py messages behind a FastStream message (one, or a pull batch)."""
    raw = msg.raw_message
    return list(raw) if isinstance(raw, list) else [raw]


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
