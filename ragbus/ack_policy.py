"""Settling one JetStream message: the ack policy of every ragbus subscriber.

* success: ``ack`` after the side effects are committed;
* :class:`~ragbus.errors.PermanentError`: the caller's ``on_permanent`` records the
  failure (document or query marked failed with the reason), the message is
  dead-lettered (:mod:`ragbus.dead_letters`), then ``term``;
* :class:`~ragbus.errors.ForbiddenError` (an event beyond its sender's tenant):
  dead-lettered with reason ``forbidden`` and ``term``'d, with nothing recorded or
  changed (:func:`refuse`; counted in ``ragbus_dead_letters_total``);
* anything else is transient. It is first retried *in place* for up to
  :data:`RETRY_IN_PLACE_S`, with ``in_progress`` sent every second so JetStream
  does not redeliver it meanwhile; in-place retries do not use up deliveries,
  so a Postgres restart of ten seconds or so costs no delivery at all. If it still
  fails, the message is nak'ed with an exponential delay. On the last allowed
  delivery it is handled as permanent (``retries_exhausted``), so nothing stays
  "in progress" forever.

Every outcome is counted in :mod:`ragbus.metrics` per durable consumer.
"""

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from ragbus.dead_letters import dead_letter
from ragbus.errors import ForbiddenError, PermanentError
from ragbus.metrics import DEAD_LETTERS, HANDLE_SECONDS, MESSAGES
from ragbus.telemetry import message_context
from schemas.dead_letters import DeadLetterReason

log = logging.getLogger(__name__)

NAK_BASE_DELAY_S = 0.5
NAK_MAX_DELAY_S = 30.0
RETRY_IN_PLACE_S = 15.0
"""Seconds a transient failure is retried before the delivery is nak'ed. Long
enough for a database or NATS restart (5-10 s measured), short next to every
consumer's ``ack_wait`` horizon because ``in_progress`` is sent every
:data:`PROGRESS_EVERY_S` while waiting."""
PROGRESS_EVERY_S = 1.0
"""Below the shortest ``ack_wait`` used anywhere (3 s in the fault tests)."""


def delivery_count(raw: Msg) -> int:
    """How many times JetStream has delivered ``raw`` (1 on first delivery)."""
    try:
        return int(raw.metadata.num_delivered)
    except Exception:  # core NATS message: no metadata
        return 1


_LANE_SUFFIX = re.compile(r"-[0-9a-f]{16}$")
"""A per-tenant lane's durable is ``<service durable>-<16 hex digits>`` (embed_svc.tenant_lanes)."""


def consumer_name(raw: Msg) -> str:
    """The consumer group that delivered ``raw`` (``""`` for a core NATS message).

    That is the durable name, except that every per-tenant lane of a service
    (``embed-svc-<hash>``) counts as the service's one group (``embed-svc``), so
    metric labels do not grow with the number of tenants.
    """
    try:
        return _LANE_SUFFIX.sub("", str(raw.metadata.consumer or ""))
    except Exception:  # core NATS message: no metadata
        return ""


def nak_delay_s(attempt: int) -> float:
    """Exponential backoff: 0.5 s, 1 s, 2 s ... capped at 30 s (``attempt`` from 1)."""
    return min(NAK_MAX_DELAY_S, NAK_BASE_DELAY_S * 2 ** max(0, attempt - 1))


async def _wait_in_progress(raw: Msg, delay_s: float) -> None:
    """Sleep ``delay_s`` seconds, telling JetStream every second the message is alive."""
    end = time.monotonic() + delay_s
    while (left := end - time.monotonic()) > 0:
        with contextlib.suppress(Exception):  # NATS down too: the retry will tell
            await raw.in_progress()
        await asyncio.sleep(min(PROGRESS_EVERY_S, left))


async def settle(
    raw: Msg,
    work: Callable[[], Awaitable[None]],
    *,
    max_deliver: int,
    on_permanent: Callable[[PermanentError], Awaitable[None]],
    retry_in_place_s: float = RETRY_IN_PLACE_S,
) -> None:
    """Run ``work`` for one JetStream message and ack, nak or dead-letter and term it.

    The work runs in a ``settle`` span in the message's own trace, even inside a
    batch handler whose FastStream span only links to the messages' traces.

    Args:
        raw: The nats-py message.
        work: The side effects; must be idempotent (it may run again, in place or
            on redelivery).
        max_deliver: The consumer's max deliveries; the last one turns a transient
            error into a permanent one (reason ``retries_exhausted``).
        on_permanent: Records the failure before the message is dead-lettered and
            terminated.
        retry_in_place_s: Seconds to retry a transient failure before nak'ing.
    """
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "nats",
        "messaging.destination.name": raw.subject,
        "messaging.consumer.group.name": consumer_name(raw),
        "messaging.nats.delivery_count": delivery_count(raw),
    }
    tracer = trace.get_tracer("ragbus")
    with tracer.start_as_current_span(
        "settle", context=message_context(raw), attributes=attributes
    ):
        await _settle(
            raw,
            work,
            max_deliver=max_deliver,
            on_permanent=on_permanent,
            retry_in_place_s=retry_in_place_s,
        )


async def _settle(
    raw: Msg,
    work: Callable[[], Awaitable[None]],
    *,
    max_deliver: int,
    on_permanent: Callable[[PermanentError], Awaitable[None]],
    retry_in_place_s: float,
) -> None:
    delivered = delivery_count(raw)
    consumer = consumer_name(raw)
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            await work()
        except ForbiddenError as exc:
            HANDLE_SECONDS.labels(consumer).observe(time.monotonic() - started)
            await refuse(raw, DeadLetterReason.FORBIDDEN, exc.code, str(exc))
            return
        except PermanentError as exc:
            HANDLE_SECONDS.labels(consumer).observe(time.monotonic() - started)
            await _give_up(raw, exc, on_permanent, DeadLetterReason.PERMANENT_ERROR)
            return
        except Exception as exc:
            delay = nak_delay_s(attempt)
            if time.monotonic() + delay - started <= retry_in_place_s:
                log.warning(
                    "transient failure, retry in place",
                    extra={"subject": raw.subject, "attempt": attempt, "delay_s": delay},
                    exc_info=exc,
                )
                MESSAGES.labels(consumer, "retry").inc()
                await _wait_in_progress(raw, delay)
                continue
            HANDLE_SECONDS.labels(consumer).observe(time.monotonic() - started)
            await _transient(raw, exc, delivered, max_deliver, on_permanent)
            return
        HANDLE_SECONDS.labels(consumer).observe(time.monotonic() - started)
        await raw.ack()
        MESSAGES.labels(consumer, "ack").inc()
        return


async def refuse(raw: Msg, reason: DeadLetterReason, code: str, error: str) -> None:
    """Dead-letter ``raw`` and ``term`` it, recording nothing anywhere else.

    For a message that must not be acted on at all: a forbidden or undecodable
    event. If the dead letter cannot be written (NATS down), the message is nak'ed
    so it is not lost, and refused again on its next delivery.
    """
    consumer = consumer_name(raw)
    log.error("refused, term", extra={"subject": raw.subject, "reason": reason.value})
    try:
        await dead_letter(raw, reason=reason, code=code, error=error)
    except Exception:
        log.exception("could not dead-letter a refused message, nak")
        await raw.nak(delay=NAK_MAX_DELAY_S)
        MESSAGES.labels(consumer, "nak").inc()
        return
    DEAD_LETTERS.labels(consumer, reason.value).inc()
    await raw.term()
    MESSAGES.labels(consumer, "term").inc()


async def _transient(
    raw: Msg,
    exc: Exception,
    delivered: int,
    max_deliver: int,
    on_permanent: Callable[[PermanentError], Awaitable[None]],
) -> None:
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
    MESSAGES.labels(consumer_name(raw), "nak").inc()


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
