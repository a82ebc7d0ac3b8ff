"""One lane pull: its ``chunks.ready`` batches embedded in one model turn, then each settled.

The ack policy is :func:`ragbus.ack_policy.settle`, applied per message of the
pull: ack after that batch's vectors are upserted and its progress committed; a
permanent error fails that batch's document and terms the message; a transient
one is retried in place, then nak'ed with backoff. Heartbeats cover the document
checks, the wait for the model's turn, the embedding and the commits. Only the
model call holds the turn: the checks before it and the commits after it run
while another pull uses the model.
"""

from nats.aio.msg import Msg

from embed_svc.model_lock import ModelLock
from embed_svc.service import EmbedService
from embed_svc.settings import EmbedSettings
from ragbus.ack_policy import RETRY_IN_PLACE_S, settle
from ragbus.embedding import Vectors
from ragbus.errors import ForbiddenError, PermanentError
from ragbus.invalid_events import decode_each
from ragbus.subscribers import heartbeat
from ragbus.tenancy import check_subject_tenant
from schemas import ChunksReady


class PullBatches:
    """Embeds and settles the batches of one pull (see the module docstring).

    Args:
        service: The embed logic.
        model_lock: The model's FIFO lock, shared with everything else that calls
            the model in this process.
        settings: Heartbeat interval and max deliveries.
    """

    def __init__(self, service: EmbedService, model_lock: ModelLock, settings: EmbedSettings):
        self._service = service
        self._model_lock = model_lock
        self._settings = settings

    async def handle(self, pulled: list[Msg]) -> None:
        """Decode each message of a pull, embed the batches in one model turn, settle each.

        A message that is not a ``ChunksReady`` is dead-lettered at once
        (``invalid_event``, :func:`ragbus.invalid_events.decode_each`); the others
        proceed without it.
        """
        decoded = await decode_each(pulled, ChunksReady)
        if not decoded:
            return
        batches = [batch for batch, _ in decoded]
        raws = [raw for _, raw in decoded]
        vectors: list[Vectors] = []
        failure: Exception | None = None
        refusals = [_refusal(raw.subject, batch) for batch, raw in zip(batches, raws, strict=True)]
        try:
            async with heartbeat(raws, self._settings.heartbeat_s):
                wanted = await self._service.wanted(batches)
                wanted = [w and r is None for w, r in zip(wanted, refusals, strict=True)]
                async with self._model_lock.turn():
                    vectors = await self._service.embed(
                        batches, trace_parent=raws[0], wanted=wanted
                    )
        except Exception as exc:  # settled per message below
            failure = exc
        # The model's failure is the whole pull's: retrying it per message in place
        # would hold the lane for len(batches) x the in-place window, so nak at once.
        in_place_s = 0.0 if failure is not None else RETRY_IN_PLACE_S
        async with heartbeat(raws, self._settings.heartbeat_s):  # later ones wait their turn
            for i, (batch, raw) in enumerate(zip(batches, raws, strict=True)):

                async def work(batch: ChunksReady = batch, i: int = i) -> None:
                    refused = refusals[i]
                    if refused is not None:
                        raise refused  # a batch of another tenant than its subject's
                    if failure is not None:
                        raise failure
                    await self._service.commit(batch, vectors[i])

                async def on_permanent(exc: PermanentError, batch: ChunksReady = batch) -> None:
                    await self._service.fail(batch, exc)

                await settle(
                    raw,
                    work,
                    max_deliver=self._settings.max_deliver,
                    on_permanent=on_permanent,
                    retry_in_place_s=in_place_s,
                )


def _refusal(subject: str, batch: ChunksReady) -> ForbiddenError | None:
    try:
        check_subject_tenant(subject, batch)
    except ForbiddenError as exc:
        return exc
    return None
