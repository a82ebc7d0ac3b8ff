"""Messages that cannot be decoded as their subject's event: dead-lettered on first delivery.

FastStream decodes and validates a message before the handler runs, so a payload
that is not JSON, not UTF-8, or not the subject's event fails there, outside the
ack policy. Left alone it would be redelivered until ``max_deliver`` (minutes) and
hold up what was pulled with it. :class:`InvalidEventMiddleware`, installed on
every service broker, turns that failure into an immediate refusal: the message is
dead-lettered with reason ``invalid_event`` (its raw bytes kept) and ``term``'d.
The batched tenant lanes decode each message of a pull on their own
(:func:`decode_each`), so one bad message never fails the good ones beside it.
"""

import json
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from ragbus.ack_policy import refuse
from schemas.dead_letters import DeadLetterReason

log = logging.getLogger(__name__)

UNDECODABLE = (ValidationError, json.JSONDecodeError, UnicodeDecodeError)
"""What decoding a payload into an event raises."""

E = TypeVar("E", bound=BaseModel)


def is_jetstream(raw: Msg) -> bool:
    """Whether ``raw`` was delivered by a JetStream consumer (it can be acked or termed)."""
    return bool(raw.reply) and raw.reply.startswith("$JS.ACK.")


async def refuse_invalid(raw: Msg, exc: Exception) -> None:
    """Dead-letter ``raw`` as ``invalid_event`` with the decoding error, and term it."""
    await refuse(raw, DeadLetterReason.INVALID_EVENT, "invalid_event", f"{exc}"[:2000])


class InvalidEventMiddleware(BaseMiddleware):
    """Refuses a JetStream message whose payload fails decoding (see the module doc)."""

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        """Run the handler; on a decoding failure of a single JetStream message, refuse it."""
        try:
            return await call_next(msg)
        except UNDECODABLE as exc:
            raw = msg.raw_message
            if isinstance(raw, Msg) and is_jetstream(raw):
                log.warning("undecodable event", extra={"subject": raw.subject})
                await refuse_invalid(raw, exc)
                return None
            raise


async def decode_each(raws: Sequence[Msg], event_type: type[E]) -> list[tuple[E, Msg]]:
    """The messages of a pull that decode as ``event_type``, each with its message.

    Every other message is refused at once (:func:`refuse_invalid`), so the rest
    of its pull proceeds.
    """
    decoded = []
    for raw in raws:
        try:
            decoded.append((event_type.model_validate_json(raw.data), raw))
        except UNDECODABLE as exc:
            log.warning("undecodable event in a pull", extra={"subject": raw.subject})
            await refuse_invalid(raw, exc)
    return decoded
