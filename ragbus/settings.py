"""Connection settings shared by every service, read from the environment.

The standard variable names (``NATS_URL``, ``DATABASE_URL``, ``QDRANT_URL``,
``S3_ENDPOINT``...) are accepted as they are; everything else is prefixed
``RAGBUS_``. Each service's own ``<Svc>Settings`` extends :class:`InfraSettings`.
"""

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class InfraSettings(BaseSettings):
    """Where the bus, the stores and the model live.

    Attributes:
        data_dir: Local state (Qdrant local mode, blobs, embedded servers) when no
            server URL is given. Default ``./.ragbus``.
        nats_url: NATS server with JetStream.
        nats_user: This process's NATS identity (a service's name, e.g. ``ingest-svc``).
        nats_password: Its password.
        nats_credentials: A file with several identities' passwords (and the auth
            callout's seed), for one process that runs several services
            (``ragbus up`` writes it under its data dir, mode 0600); an identity
            found there wins over ``nats_user``.
        nats_callout_seed: The account nkey seed (``SA...``) that signs the auth
            callout's answers; the gateway needs it to let clients in with API keys.
        nats_callout_password: The password of the callout's own identity
            (``ragbus-auth``), which the gateway connects as beside its own.
        database_url: Postgres DSN; required by services run on their own.
        vector_store: ``qdrant`` (server when ``qdrant_url`` is set, local mode
            under ``data_dir/qdrant`` otherwise) or ``pgvector`` (in ``database_url``).
        qdrant_collection: Collection holding every tenant's chunks.
        s3_endpoint: ``host:port`` of an S3/MinIO server; blobs go to
            ``data_dir/blobs`` when unset.
        embed_model: Embedding model name (fastembed / Hugging Face id).
        embed_model_path: Directory of an ONNX export to load instead of resolving one.
        model_cache_dir: Where the resolved ONNX export is cached.
        embed_max_tokens: Longest embedded input in tokens (model's trained maximum).
        embed_threads: onnxruntime intra-op threads; ``None`` lets it decide.
        embed_query_threads: Intra-op threads of the session that embeds questions on
            the CPU (:mod:`ragbus.embedding.question_session`); ``None``: 2, or 1 on
            a one-core machine.
        embed_precision: ``fp32`` (the export as it is) or ``int8`` (MatMul weights
            quantised per channel, dynamically, after removing the export's no-op
            NaN guards; see :mod:`ragbus.embedding.quantize`).
        embed_query_precision: ``same``: questions through the passages' model file;
            ``int8``: through its int8 variant (made once next to a local export),
            about 1.5 ms faster per question on 2 cores, cosine 0.991-0.994 to the
            fp32 vector; measured in docs/benchmarks.md. Ignored on a GPU.
        embed_batch_size: Most texts per onnxruntime call. The call's buffers grow
            with texts x tokens squared (attention) and onnxruntime's CPU arena keeps
            the largest for good: 64 full 256-token texts held 1.8-1.9 GB, 16 hold
            about 0.6 GB at the same throughput (``ragbus_tools.bench.embed_memory``).
        embed_cpu_arena: Let onnxruntime keep its CPU memory arena. Off, every call
            allocates and frees its buffers: memory returns between calls, but the
            peak is higher and throughput 60% lower (same benchmark), so it is on.
        embed_device: ``cpu``, or ``cuda`` to run the model on a GPU through
            onnxruntime's CUDA provider (extra ``ragbus[gpu]``); ``cuda`` without a
            usable GPU stops the embedder at start, never falls back to the CPU
            (:mod:`ragbus.embedding.device`).
    """

    model_config = SettingsConfigDict(env_prefix="RAGBUS_", extra="ignore")

    data_dir: Path = Path(".ragbus")
    nats_url: str = Field(
        "nats://127.0.0.1:4222", validation_alias=_alias("NATS_URL", "RAGBUS_NATS_URL")
    )
    nats_user: str | None = Field(None, validation_alias=_alias("NATS_USER", "RAGBUS_NATS_USER"))
    nats_password: SecretStr | None = Field(
        None, validation_alias=_alias("NATS_PASSWORD", "RAGBUS_NATS_PASSWORD")
    )
    nats_credentials: Path | None = Field(None, validation_alias=_alias("RAGBUS_NATS_CREDENTIALS"))
    nats_callout_seed: SecretStr | None = Field(
        None, validation_alias=_alias("RAGBUS_NATS_CALLOUT_SEED")
    )
    nats_callout_password: SecretStr | None = Field(
        None, validation_alias=_alias("RAGBUS_NATS_CALLOUT_PASSWORD")
    )
    database_url: str | None = Field(
        None, validation_alias=_alias("DATABASE_URL", "RAGBUS_DATABASE_URL")
    )
    vector_store: Literal["qdrant", "pgvector"] = "qdrant"
    qdrant_url: str | None = Field(None, validation_alias=_alias("QDRANT_URL", "RAGBUS_QDRANT_URL"))
    qdrant_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("QDRANT_API_KEY", "RAGBUS_QDRANT_API_KEY")
    )
    qdrant_collection: str = "ragbus_chunks"
    s3_endpoint: str | None = Field(
        None, validation_alias=_alias("S3_ENDPOINT", "RAGBUS_S3_ENDPOINT")
    )
    s3_access_key: SecretStr | None = Field(
        None, validation_alias=_alias("S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "RAGBUS_S3_ACCESS_KEY")
    )
    s3_secret_key: SecretStr | None = Field(
        None,
        validation_alias=_alias("S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "RAGBUS_S3_SECRET_KEY"),
    )
    s3_bucket: str = Field("ragbus", validation_alias=_alias("S3_BUCKET", "RAGBUS_S3_BUCKET"))
    s3_secure: bool = Field(False, validation_alias=_alias("S3_SECURE", "RAGBUS_S3_SECURE"))
    embed_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_model_path: Path | None = None
    model_cache_dir: Path = Path.home() / ".cache" / "ragbus" / "models"
    embed_max_tokens: int = Field(256, ge=8, le=8192)
    embed_threads: int | None = Field(None, ge=1)
    embed_query_threads: int | None = Field(None, ge=1)
    embed_precision: Literal["fp32", "int8"] = "fp32"
    embed_query_precision: Literal["same", "int8"] = "same"
    embed_batch_size: int = Field(16, ge=1, le=256)
    embed_cpu_arena: bool = True
    embed_device: Literal["cpu", "cuda"] = "cpu"


EMBED_THREADS_ENV = "RAGBUS_EMBED_THREADS"


def default_all_in_one_threads() -> int:
    """onnxruntime threads for the model when every service shares one process.

    One core fewer than this process may use, and at least 1: while ingesting, the
    services' own work (upload, parse, chunk, Postgres, NATS; about 0.8 of a core in
    a py-spy profile) would otherwise preempt the model's threads, which wait for
    each other. Measured on 2 cores (docs/benchmarks.md, 800 SciFact documents):
    38.7 chunks/s with 1 thread against 40.1 with 2, so ingest loses nothing and a
    core stays free for queries.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def set_all_in_one_threads() -> int:
    """Set ``RAGBUS_EMBED_THREADS`` to :func:`default_all_in_one_threads` unless it is set.

    Returns:
        The value now in the environment (an operator's own setting wins).
    """
    os.environ.setdefault(EMBED_THREADS_ENV, str(default_all_in_one_threads()))
    return int(os.environ[EMBED_THREADS_ENV])
