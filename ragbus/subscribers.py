"""Subscribing to JetStream with the declared ack policy applied once, around the work.

Every JetStream subscriber in ragbus is a durable pull consumer with FastStream's
``AckPolicy.MANUAL``, and settles each message through
:func:`ragbus.ack_policy.settle`: ack after commit, retry transient errors,
dead-letter and term permanent ones. :func:`jetstream_handler` applies that
policy around a handler whose body is only the work.
"""

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar, get_type_hints

from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub
from nats.aio.msg import Msg
from pydantic import BaseModel

from deploy.jetstream import ConsumerSpec
from ragbus.ack_policy import settle
from ragbus.errors import PermanentError
from ragbus.tenancy import check_subject_tenant

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)


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


OnPermanent = Callable[[E, PermanentError], Awaitable[None]]
"""Records a permanent failure of one event (marks its document or query failed)."""


def jetstream_handler(
    router: NatsRouter | NatsBroker,
    spec: ConsumerSpec,
    *,
    on_permanent: "OnPermanent[Any] | None" = None,
    heartbeat_s: float | None = None,
    max_workers: int = 1,
) -> Callable[[Callable[[E], Awaitable[None]]], Callable[[E], Awaitable[None]]]:
    """Subscribe ``handler(event)`` to ``spec`` and apply the ack policy around it.

    The decorated handler holds only the work: it takes the typed event and
    returns when the side effects are committed. Around it, for each message:
    ``ack`` on return; a :class:`~ragbus.errors.PermanentError` is recorded with
    ``on_permanent(event, exc)``, dead-lettered and ``term``'d; an event whose
    subject names another tenant than its ``tenant_id`` is refused
    (:func:`ragbus.tenancy.check_subject_tenant`: dead-lettered ``forbidden``,
    nothing recorded); anything else is
    transient and retried in place, then ``nak``'ed with backoff, until the last
    delivery (see :func:`ragbus.ack_policy.settle`). With ``heartbeat_s`` the
    message is kept alive with ``in_progress`` while the handler runs.

    Args:
        router: The service's router.
        spec: The durable consumer.
        on_permanent: Records a permanent failure; the log only when omitted.
        heartbeat_s: Seconds between ``in_progress`` heartbeats (none if omitted).
        max_workers: Messages handled concurrently, each settled on its own.

    Returns:
        A decorator that registers the handler and returns it unchanged (so it
        can still be called directly, by tests for example).

    Raises:
        TypeError: if the handler does not take exactly one annotated event.
    """

    def register(handler: Callable[[E], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
        event_type = _event_type(handler)

        async def settled(event: Any, msg: NatsMessage) -> None:
            async def record(exc: PermanentError) -> None:
                if on_permanent is None:
                    await record_nothing(exc)
                else:
                    await on_permanent(event, exc)

            async def work() -> None:
                check_subject_tenant(raw.subject, event)
                await handler(event)

            raw = msg.raw_message
            alive = heartbeat([raw], heartbeat_s) if heartbeat_s else contextlib.nullcontext()
            async with alive:
                await settle(raw, work, max_deliver=spec.max_deliver, on_permanent=record)

        # FastStream reads the payload type (for decoding and the AsyncAPI document)
        # from the signature, so the wrapper declares the handler's event type.
        parameters = [
            inspect.Parameter(
                "event", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=event_type
            ),
            inspect.Parameter(
                "msg", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=NatsMessage
            ),
        ]
        settled.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        settled.__annotations__ = {"event": event_type, "msg": NatsMessage, "return": None}
        settled.__name__ = settled.__qualname__ = handler.__name__
        settled.__doc__ = handler.__doc__
        jetstream_subscriber(router, spec, max_workers=max_workers)(settled)
        return handler

    return register


def _event_type(handler: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic event type of ``handler``'s single parameter."""
    parameters = list(inspect.signature(handler).parameters)
    hints = get_type_hints(handler)
    if len(parameters) != 1 or parameters[0] not in hints:
        raise TypeError(f"{handler.__name__} must take exactly one annotated event")
    event_type = hints[parameters[0]]
    if not (isinstance(event_type, type) and issubclass(event_type, BaseModel)):
        raise TypeError(f"{handler.__name__}'s event must be a pydantic model")
    return event_type


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
