"""Settings of the HTTP gateway (environment prefix ``RAGBUS_GATEWAY_``)."""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Knobs of the gateway.

    Attributes:
        host: Interface to bind.
        port: TCP port.
        max_upload_bytes: Largest file accepted per upload (413 above), in bytes.
        query_timeout_s: Longest wait for ``answer.ready``, in seconds.
        retrieve_timeout_s: Longest wait for a ``passages.retrieve`` reply, in seconds.
        embeddings_timeout_s: Longest wait for a ``texts.embed`` reply, in seconds. A
            request queues behind at most one embedding batch per tenant importing
            (~25 s each on two cores), then takes ~1 s per 20 inputs; 503 after this.
        max_upload_request_bytes: Largest multipart upload body (all files), in
            bytes; refused with 413 before it is read when ``Content-Length`` says so.
        max_json_bytes: Largest body of every other route but ``/v1/embeddings``.
        public_nats_url: The NATS URL(s), comma-separated, that ``GET /v1/nats`` tells
            clients; default: the gateway's own ``NATS_URL`` without its credentials.
        cors_origins: Origins, comma-separated, whose browser pages may call the API
            (``RAGBUS_GATEWAY_CORS_ORIGINS=https://app.example.com``; ``*`` for any);
            empty (the default): no CORS headers, only the gateway's own web app.
        index_models: Embedding models, comma-separated, that a tenant admin may
            rebuild the tenant's index with, besides the deployment's own
            (``RAGBUS_EMBED_MODEL``); each must be loadable where the services run.
            Empty (the default): only the deployment's, at either precision.
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1)
    query_timeout_s: float = Field(180.0, gt=0)
    retrieve_timeout_s: float = Field(30.0, gt=0)
    embeddings_timeout_s: float = Field(120.0, gt=0)
    max_upload_request_bytes: int = Field(256 * 1024 * 1024, ge=1)
    max_json_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    public_nats_url: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    index_models: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", "index_models", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept ``a,b`` from the environment as well as a list."""
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
