"""Per-tenant lanes over a work-queue stream, so tenants are served in turn.

A subject family such as ``chunks.ready`` has one subject per tenant
(``chunks.ready.<tenant token>``, see ``schemas.subjects.chunks_ready_for``). One
durable consumer over the whole family hands work out first come, first served:
a tenant's 5,000-document batch would delay every other tenant's single upload by
the whole backlog. Instead, each tenant with pending work gets its own durable
pull consumer (a *lane*) running the same handler, and the handler takes turns
through :class:`~embed_svc.model_lock.ModelLock`, so with N busy tenants a batch
waits for at most N-1 other turns (weighted fair queueing with equal weights, one
batch per turn); with ``pullers`` per lane a tenant holds up to that many places in
the queue, so the bound is ``pullers x (N-1)`` batches.

Lanes are discovered from the stream's per-subject message counts (the stream is a
work queue, so acked messages are gone and the counts are the pending work), and
opened as FastStream subscribers on the running broker, so the telemetry
middleware and the declared ack policy apply as for any static subscriber. A lane
idle for ``idle_close_s`` is closed; the server deletes its durable after
``inactive_threshold_s``. Replicas open the same durable names and share each lane.
"""

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from faststream.nats import NatsBroker

from deploy.jetstream import ConsumerSpec
from ragbus.subscribers import jetstream_subscriber

log = logging.getLogger(__name__)

DURABLE_HASH_CHARS = 16
"""Hex digits of sha256(subject) in a lane's durable name: 64 bits, so two tenants'
lanes collide with probability ~n²/2⁶⁵ (durable names cannot hold ``.`` or ``:``)."""


def lane_durable(durable_prefix: str, subject: str) -> str:
    """Durable consumer name of the lane for ``subject``: ``<prefix>-<16 hex digits>``."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:DURABLE_HASH_CHARS]
    return f"{durable_prefix}-{digest}"


@dataclass(frozen=True, slots=True)
class LaneSpec:
    """How the lanes of one subject family are consumed.

    Attributes:
        stream: The work-queue stream that stores the family.
        family: Subject prefix; lanes are its one-token children (``family.<token>``).
        durable_prefix: Prefix of every lane's durable name (the service's name).
        ack_wait_s: Seconds before an un-acked message is redelivered.
        max_deliver: Deliveries before JetStream gives up on a message.
        batch_size: Messages pulled per fetch, per lane.
        timeout_s: Longest wait for a pull to fill, in seconds.
        discover_every_s: Seconds between reads of the stream's pending subjects;
            a new tenant's first batch waits at most this long to get a lane.
        idle_close_s: Seconds without pending work before a lane is closed here.
        inactive_threshold_s: Seconds before the server deletes an unused durable.
        pullers: Subscribers per lane in this process, each pulling and handling its
            own batch. With 2, one batch commits while the next embeds; with N busy
            tenants a batch then waits for at most ``pullers x (N - 1)`` others.
    """

    stream: str
    family: str
    durable_prefix: str
    ack_wait_s: float
    max_deliver: int
    batch_size: int
    timeout_s: float
    discover_every_s: float = 0.5
    idle_close_s: float = 60.0
    inactive_threshold_s: float = 3600.0
    pullers: int = 1

    def consumer(self, subject: str) -> ConsumerSpec:
        """The durable consumer of the lane for ``subject``."""
        return ConsumerSpec(
            durable=lane_durable(self.durable_prefix, subject),
            stream=self.stream,
            subject=subject,
            ack_wait_s=self.ack_wait_s,
            max_deliver=self.max_deliver,
            inactive_threshold_s=self.inactive_threshold_s,
        )


@dataclass
class _Lane:
    subscribers: list[Any]
    last_busy: float = field(default_factory=time.monotonic)


def _tolerate_fetch_timeouts(subscriber: Any) -> None:
    """Make the subscriber's pull loop see every fetch timeout as one.

    nats-py 2.16's ``fetch`` may raise the builtin ``TimeoutError``; FastStream 0.7's
    batch pull loop catches only ``nats.errors.TimeoutError``, so the loop restarted
    and stranded a partly filled pull, un-acked, until ``ack_wait`` (seen in tests).
    """
    subscription = getattr(subscriber, "subscription", None)
    if subscription is None:
        return
    fetch = subscription.fetch

    async def fetch_or_nats_timeout(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fetch(*args, **kwargs)
        except nats.errors.TimeoutError:
            raise
        except TimeoutError as exc:  # the builtin one, in fetch's own deadline check
            raise nats.errors.TimeoutError from exc

    subscription.fetch = fetch_or_nats_timeout


async def _undecoded(msg: Any) -> None:
    """A FastStream decoder that leaves the payload alone (the handler decodes it)."""
    return None


class TenantLanes:
    """Opens and closes one subscriber per subject of ``spec.family`` with pending work.

    Args:
        spec: The family and consumer limits.
        handler: The FastStream handler every lane runs (batched: it receives a
            list of events and the message).
        raw: Hand the handler the pull's messages undecoded (its only parameter is
            the message), so it can decode each on its own and one bad message
            cannot fail the pull.
    """

    def __init__(
        self, spec: LaneSpec, handler: Callable[..., Awaitable[None]], *, raw: bool = False
    ) -> None:
        self.spec = spec
        self._handler = handler
        self._raw = raw
        self._lanes: dict[str, _Lane] = {}
        self._broker: NatsBroker | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def subjects(self) -> list[str]:
        """Subjects with an open lane in this process."""
        return sorted(self._lanes)

    async def start(self, broker: NatsBroker) -> None:
        """Open lanes for the pending work, then keep discovering in the background."""
        self._broker = broker
        self._stopping.clear()
        await self.refresh()
        self._task = asyncio.create_task(self._discover_forever())

    async def stop(self) -> None:
        """Stop discovering and close every lane (in-flight handlers finish first).

        Discovery is told to stop and awaited rather than cancelled: cancelling it
        halfway through opening or closing a lane could leave a subscriber running
        that no lane refers to any more.
        """
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        for subject in list(self._lanes):
            await self._close(subject)

    async def refresh(self) -> None:
        """Open a lane per subject with pending messages; close lanes idle too long.

        Raises:
            nats.errors.Error: if the stream cannot be read.
        """
        pending = await self._pending()
        now = time.monotonic()
        for subject, count in pending.items():
            if count <= 0:
                continue
            lane = self._lanes.get(subject)
            if lane is None:
                try:
                    lane = await self._open(subject)
                except Exception:  # one bad lane must not keep the others closed
                    log.exception("could not open lane", extra={"subject": subject})
                    continue
            lane.last_busy = now
        for subject, lane in list(self._lanes.items()):
            if pending.get(subject, 0) <= 0 and now - lane.last_busy > self.spec.idle_close_s:
                await self._close(subject)

    async def _pending(self) -> dict[str, int]:
        assert self._broker is not None, "start() first"
        js = self._broker.connection.jetstream()
        family = self.spec.family
        info = await js.stream_info(self.spec.stream, subjects_filter=f"{family}.*")
        return dict(info.state.subjects or {})

    async def _open(self, subject: str) -> _Lane:
        assert self._broker is not None
        spec = self.spec
        subscribers: list[Any] = []
        try:
            for _ in range(max(1, spec.pullers)):
                # Each is its own pull subscription on the lane's durable: JetStream
                # hands every message to one of them, as it does across replicas.
                subscriber = jetstream_subscriber(
                    self._broker,
                    spec.consumer(subject),
                    batch_size=spec.batch_size,
                    timeout_s=spec.timeout_s,
                    batch=True,
                    persistent=False,
                )
                if self._raw:
                    subscriber(self._handler, decoder=_undecoded)
                else:
                    subscriber(self._handler)
                await subscriber.start()
                subscribers.append(subscriber)
                _tolerate_fetch_timeouts(subscriber)
        except Exception:
            for started in subscribers:
                await started.stop()
            raise
        lane = _Lane(subscribers)
        self._lanes[subject] = lane
        log.info("lane opened", extra={"subject": subject, "lanes": len(self._lanes)})
        return lane

    async def _close(self, subject: str) -> None:
        lane = self._lanes.pop(subject)
        # together, so no puller fetches a new batch while another one drains
        await asyncio.gather(*(subscriber.stop() for subscriber in lane.subscribers))
        log.info("lane closed", extra={"subject": subject, "lanes": len(self._lanes)})

    async def _discover_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.spec.discover_every_s)
            if self._stopping.is_set():
                return
            try:
                await self.refresh()
            except Exception:  # NATS reconnecting: try again next round
                log.warning("lane discovery failed", exc_info=True)
