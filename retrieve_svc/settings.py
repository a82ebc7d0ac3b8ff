"""Settings of retrieve_svc (environment prefix ``RAGBUS_RETRIEVE_``)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RetrieveSettings(BaseSettings):
    """Knobs of the retrieve service.

    Attributes:
        overfetch: Extra candidates fetched beyond ``top_k`` so that dropping chunks
            of just-deleted documents still leaves ``top_k`` passages.
        ack_wait_s: Seconds before JetStream redelivers an un-acked query.
        max_deliver: Deliveries of one query before it is answered as failed.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_RETRIEVE_", extra="ignore")

    overfetch: int = Field(10, ge=0, le=100)
    ack_wait_s: float = Field(30.0, gt=0)
    max_deliver: int = Field(3, ge=1)
