"""Settings of ingest_svc (environment prefix ``RAGBUS_INGEST_``)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    """Knobs of the ingest service.

    Attributes:
        overlap_tokens: Tokens shared by consecutive chunks (12.5% of a 256-token chunk).
        dense_window_tokens: Tokens of a chunk's dense windows, special tokens
            included (:mod:`ingest_svc.dense_windows`); 0 embeds every chunk whole.
        max_document_bytes: Largest document parsed, in bytes (50 MiB).
        ack_wait_s: Seconds JetStream waits for an ack before redelivering an upload;
            parsing longer than that keeps the message alive with heartbeats.
        heartbeat_s: Seconds between ``in_progress`` heartbeats while parsing.
        max_deliver: Deliveries of one upload before it is marked failed.
        concurrency: Uploads handled at once per process. Each document costs a few
            Postgres and JetStream round trips around a parse in a thread; overlapping
            them keeps a backlog of uploads draining far faster than embedding, so
            another tenant's upload is not held up at this stage.
        sweep_interval_s: Seconds between sweeps for stale documents (see
            :mod:`ingest_svc.sweeper`); 0 disables the sweeper.
        stale_after_s: A document in ``uploaded``, ``parsing`` or ``embedding``
            untouched for this long is re-published; longer than the two-minute
            duplicate window and than ``ack_wait_s``. 0 disables the sweeper.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_INGEST_", extra="ignore")

    overlap_tokens: int = Field(32, ge=0, le=128)
    dense_window_tokens: int = Field(128, ge=0, le=8192)
    max_document_bytes: int = Field(50 * 1024 * 1024, ge=1)
    ack_wait_s: float = Field(60.0, gt=0)
    heartbeat_s: float = Field(10.0, gt=0)
    max_deliver: int = Field(5, ge=1)
    concurrency: int = Field(4, ge=1, le=64)
    sweep_interval_s: float = Field(30.0, ge=0)
    stale_after_s: float = Field(300.0, ge=0)
