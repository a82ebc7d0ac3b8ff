"""Publishing events: JetStream with de-duplication where a stream stores the subject.

Subscribing, with the ack policy applied, is :mod:`ragbus.subscribers`.
"""

import logging
from typing import Any, Protocol

from faststream.nats import NatsBroker
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from deploy.jetstream import stream_for
from schemas import subjects

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

        A tenant-scoped family (:data:`schemas.subjects.TENANT_SCOPED`, ``answer.delta``)
        is published on the event's own tenant's subject (``answer.ready.<tenant>``),
        so an event always travels under the tenant it names.

        Subjects stored by a stream go through JetStream and wait for its ack, with
        ``Nats-Msg-Id`` set to ``msg_id`` (default: the event's ``event_id``) so a
        retried publish is stored once; an ack that does not come within
        ``timeout_s`` is retried that way. Other subjects (``answer.delta``) use
        core NATS.

        Raises:
            nats.errors.Error: if NATS or JetStream does not accept the message
                (``TimeoutError`` after the last attempt).
        """
        subject = _concrete(subject, event)
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


def _concrete(subject: str, event: BaseModel) -> str:
    """``subject``, or for a tenant-scoped family the subject of ``event``'s tenant."""
    if subject not in subjects.TENANT_SCOPED and subject not in subjects.PER_QUERY:
        return subject
    tenant = getattr(event, "tenant_id", None)
    if not isinstance(tenant, str):
        raise ValueError(f"an event on {subject} needs a tenant_id")
    return subjects.subject_for(subject, tenant, getattr(event, "query_id", None))
