"""Settings of embed_svc (environment prefix ``RAGBUS_EMBED_``)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EmbedSettings(BaseSettings):
    """Knobs of the embed service.

    Attributes:
        batch_messages: ``chunks.ready`` messages pulled and embedded together (each
            holds up to 64 chunks); batching across documents keeps the model busy.
        batch_timeout_s: Longest wait to fill a pull batch, in seconds.
        ack_wait_s: Seconds before JetStream redelivers an un-acked batch.
        heartbeat_s: Seconds between ``in_progress`` heartbeats while embedding
            (8 x 64 chunks at ~22 chunks/s on two cores take ~23 s).
        pulls_in_flight: Pulls each tenant lane holds at once: with 2, the next pull
            waits for the model while the previous one is committed, so the model is
            not idle during commits (each pull in flight holds up to
            ``batch_messages`` messages and their vectors).
        max_deliver: Deliveries of one batch before its document is marked failed.
        lane_discover_s: Seconds between looks for tenants with new pending batches
            (the longest a new tenant's first batch waits for its lane to open).
        lane_idle_close_s: Seconds a tenant's lane stays open with nothing pending.
        index_keeper_s: Seconds between rounds of the index versions' keeper
            (:mod:`embed_svc.index_keeper`: replays what a build lacks, switches a
            complete one in, drops unused versions); 0 disables it.
        index_grace_s: Seconds a replaced index version is kept after the switch
            before its vectors are dropped (queries that read it just before the
            switch still find it; a query takes well under a second).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_EMBED_", extra="ignore")

    batch_messages: int = Field(8, ge=1, le=256)
    batch_timeout_s: float = Field(0.2, gt=0)
    ack_wait_s: float = Field(60.0, gt=0)
    heartbeat_s: float = Field(10.0, gt=0)
    pulls_in_flight: int = Field(2, ge=1, le=4)
    max_deliver: int = Field(5, ge=1)
    lane_discover_s: float = Field(0.5, gt=0)
    lane_idle_close_s: float = Field(60.0, ge=0)
    index_keeper_s: float = Field(5.0, ge=0)
    index_grace_s: float = Field(300.0, ge=0)
