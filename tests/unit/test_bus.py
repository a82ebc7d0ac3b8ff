"""Pure parts of the bus: stream routing and nak backoff."""

import pytest

from deploy.jetstream import STREAMS, consumer, stream_for
from ragbus.bus import NAK_MAX_DELAY_S, nak_delay_s
from schemas import subjects as s
from schemas.catalog import EVENTS

pytestmark = pytest.mark.unit


def test_every_persisted_subject_has_one_stream() -> None:
    core_only = {s.ANSWER_DELTA, s.PASSAGES_RETRIEVE}
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
    spec = consumer("embed-svc", s.CHUNKS_READY, ack_wait_s=60.0, max_deliver=4)
    config = spec.config()
    assert config.ack_policy.value == "explicit"
    assert (config.ack_wait, config.max_deliver, config.durable_name) == (60.0, 4, "embed-svc")
    assert config.filter_subject == "chunks.ready"
    assert spec.stream == "RAGBUS_CHUNKS"


def test_nak_delay_grows_and_is_capped() -> None:
    delays = [nak_delay_s(n) for n in range(1, 12)]
    assert delays[0] == 0.5 and delays[1] == 1.0 and delays[2] == 2.0
    assert delays == sorted(delays)
    assert max(delays) == NAK_MAX_DELAY_S
