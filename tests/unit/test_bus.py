"""Pure parts of the bus: stream routing and nak backoff."""

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from deploy.jetstream import STREAMS, consumer, stream_for
from embed_svc.tenant_lanes import LaneSpec, lane_durable
from ragbus.ack_policy import NAK_MAX_DELAY_S, consumer_name, nak_delay_s
from schemas import subjects as s
from schemas.catalog import EVENTS

pytestmark = pytest.mark.unit


def test_every_persisted_subject_has_one_stream() -> None:
    core_only = {s.ANSWER_DELTA, s.PASSAGES_RETRIEVE, s.QUESTION_CONDENSE, s.TEXTS_EMBED}
    for subject in EVENTS:
        if subject in core_only:
            with pytest.raises(KeyError):
                stream_for(subject)
        else:
            assert stream_for(subject) in {c.name for c in STREAMS}


def test_streams_are_file_backed_with_dedup_window() -> None:
    for config in STREAMS:
        assert str(config.storage) == "StorageType.FILE" or config.storage.value == "file"
        assert config.duplicate_window and config.duplicate_window >= 60


def test_consumer_spec_declares_explicit_ack() -> None:
    spec = consumer("ingest-svc", s.DOCUMENT_UPLOADED, ack_wait_s=60.0, max_deliver=4)
    config = spec.config()
    assert config.ack_policy.value == "explicit"
    assert (config.ack_wait, config.max_deliver, config.durable_name) == (60.0, 4, "ingest-svc")
    assert config.filter_subject == "document.uploaded"
    assert spec.stream == "RAGBUS_DOCUMENTS"
    assert config.inactive_threshold is None


def test_tenant_lanes_have_their_own_subject_and_durable() -> None:
    lanes = LaneSpec(
        stream="RAGBUS_CHUNKS",
        family=s.CHUNKS_READY,
        durable_prefix="embed-svc",
        ack_wait_s=60.0,
        max_deliver=5,
        batch_size=8,
        timeout_s=0.2,
    )
    a, b = s.chunks_ready_for("acme.eu"), s.chunks_ready_for("acme_eu")
    assert a == "chunks.ready.acme~eu" and stream_for(a) == "RAGBUS_CHUNKS"
    spec_a, spec_b = lanes.consumer(a), lanes.consumer(s.chunks_ready_for("globex"))
    assert spec_a.subject == a and spec_a.durable.startswith("embed-svc-")
    assert spec_a.durable != spec_b.durable
    assert "." not in spec_a.durable and spec_a.durable == lane_durable("embed-svc", a)
    assert spec_a.config().inactive_threshold == lanes.inactive_threshold_s
    assert b != a


def test_nak_delay_grows_and_is_capped() -> None:
    delays = [nak_delay_s(n) for n in range(1, 12)]
    assert delays[0] == 0.5 and delays[1] == 1.0 and delays[2] == 2.0
    assert delays == sorted(delays)
    assert max(delays) == NAK_MAX_DELAY_S


def test_consumer_group_of_a_lane_is_its_service() -> None:
    def delivered_by(durable: str) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(consumer=durable))

    lane = lane_durable("embed-svc", s.chunks_ready_for("acme"))
    assert consumer_name(delivered_by(lane)) == "embed-svc"
    assert consumer_name(delivered_by("ingest-svc")) == "ingest-svc"
    assert consumer_name(delivered_by("embed-svc-delete")) == "embed-svc-delete"


class _FlakyBroker:
    """Raises ``failures`` in turn on publish, then accepts; records every call."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    async def publish(self, event: Any, subject: str, **kwargs: Any) -> None:
        self.calls.append({"subject": subject, **kwargs})
        if self.failures:
            raise self.failures.pop(0)


async def test_a_publish_whose_ack_times_out_is_retried_with_the_same_msg_id() -> None:
    from nats.errors import TimeoutError as NatsTimeoutError

    from ragbus.bus import EventPublisher
    from schemas import DeleteDocument

    broker = _FlakyBroker(NatsTimeoutError(), TimeoutError())
    publisher = EventPublisher(broker, timeout_s=3.0)  # type: ignore[arg-type]
    event = DeleteDocument(tenant_id="t", document_id=uuid.uuid4())
    await publisher.publish(event, s.DOCUMENT_DELETE, msg_id="m-1")
    assert len(broker.calls) == 3
    assert all(c["headers"] == {"Nats-Msg-Id": "m-1"} for c in broker.calls)
    assert {c["timeout"] for c in broker.calls} == {3.0}


async def test_a_publish_is_given_up_after_its_attempts_and_other_errors_are_not_retried() -> None:
    from ragbus.bus import EventPublisher
    from schemas import DeleteDocument

    event = DeleteDocument(tenant_id="t", document_id=uuid.uuid4())
    broker = _FlakyBroker(*[TimeoutError()] * 3)
    with pytest.raises(TimeoutError):
        await EventPublisher(broker, attempts=3).publish(event, s.DOCUMENT_DELETE)  # type: ignore[arg-type]
    assert len(broker.calls) == 3
    refused = _FlakyBroker(RuntimeError("no stream"))
    with pytest.raises(RuntimeError):
        await EventPublisher(refused).publish(event, s.DOCUMENT_DELETE)  # type: ignore[arg-type]
    assert len(refused.calls) == 1
