"""Raw document bytes: a local directory or an S3 bucket, behind one small port.

Keys look like ``<tenant>/<document_id>/<filename>`` (see :func:`blob_key`). Every
adapter rejects keys that could leave their namespace (``..``, absolute paths,
backslashes, NUL and other control characters).
"""

import asyncio
import contextlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from uuid import UUID

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error, ServerError

from ragbus.errors import NotFoundError, PermanentError, RetryableError

MAX_KEY_LENGTH = 1024
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BlobStore(Protocol):
    """Bytes by key; writes are whole-object and idempotent."""

    async def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Store ``data`` under ``key``, replacing any previous object."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes. Raises ``NotFoundError`` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    async def older_than(self, age_s: float, limit: int) -> list[str]:
        """Keys of at most ``limit`` objects last written over ``age_s`` seconds ago."""
        ...

    async def close(self) -> None:
        """Release resources."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ``ValueError``.

    Safe: 1..1024 characters, ``/``-separated non-empty segments, none of which
    is ``.`` or ``..``, no leading ``/``, no backslash and no control character.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"blob key must be 1..{MAX_KEY_LENGTH} characters")
    if "\\" in key or _CONTROL.search(key):
        raise ValueError(f"blob key {key!r} contains a backslash or control character")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"blob key {key!r} has an empty, '.' or '..' segment")
    return key


def safe_filename(filename: str, *, max_length: int = 200) -> str:
    """Reduce a client-supplied file name to ``[A-Za-z0-9._-]``, keeping its extension.

    Directories are dropped (``"../../etc/passwd"`` -> ``"passwd"``), other
    characters become ``_``, leading dots are removed and an empty result is
    ``"file"``.
    """
    base = re.split(r"[/\\]", _CONTROL.sub("", filename))[-1]
    name = _UNSAFE_FILENAME_CHARS.sub("_", base).lstrip(".") or "file"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:
            name = f"{stem[: max_length - len(ext) - 1]}.{ext}"
        else:
            name = name[:max_length]
    return name


def blob_key(tenant_id: str, document_id: UUID, filename: str) -> str:
    """The key of a document's raw bytes: ``<tenant>/<document_id>/<safe filename>``.

    Raises:
        ValueError: ``tenant_id`` is empty or contains ``/``, a backslash, a control
            character, or is ``.``/``..`` (tenants are never rewritten, only rejected).
    """
    if not tenant_id or tenant_id in (".", "..") or re.search(r"[/\\\x00-\x1f\x7f]", tenant_id):
        raise ValueError(f"tenant_id {tenant_id!r} cannot be used in a blob key")
    return validate_key(f"{tenant_id}/{UUID(str(document_id))}/{safe_filename(filename)}")


class LocalBlobStore:
    """Blobs as files under ``root``; writes are atomic (temp file + ``os.replace``)."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()

    async def open(self) -> None:
        """Create the root directory."""
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self._root / validate_key(key)).resolve()
        if not path.is_relative_to(self._root) or path == self._root:
            raise ValueError(f"blob key {key!r} escapes the store root")  # via a symlink
        return path

    async def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Write ``data`` atomically; readers see the old or the new bytes, never a mix."""
        await asyncio.to_thread(self._write, self._path(key), bytes(data))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    async def get(self, key: str) -> bytes:
        """Read the file. Raises ``NotFoundError`` if missing."""
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFoundError(f"no blob {key!r}") from exc

    async def delete(self, key: str) -> None:
        """Remove the file if present."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return await asyncio.to_thread(self._path(key).is_file)

    async def older_than(self, age_s: float, limit: int) -> list[str]:
        """Keys of files modified over ``age_s`` seconds ago (temp files left out)."""

        def walk() -> list[str]:
            cutoff = time.time() - age_s
            found = []
            for path in self._root.rglob("*"):
                if path.name.startswith(".tmp-") or not path.is_file():
                    continue
                if path.stat().st_mtime < cutoff:
                    found.append(path.relative_to(self._root).as_posix())
                    if len(found) >= limit:
                        break
            return found

        return await asyncio.to_thread(walk)

    async def close(self) -> None:
        """Nothing to release."""


@contextlib.contextmanager
def _s3_errors(action: str, key: str = "") -> Iterator[None]:
    """Map minio/urllib3 errors: missing -> NotFound, unreachable/5xx -> retryable."""
    try:
        yield
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            raise NotFoundError(f"no blob {key!r}") from exc
        if exc.code in ("SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"):
            raise RetryableError(f"s3 {action} failed: {exc.code}") from exc
        raise PermanentError(f"s3 {action} failed: {exc.code}: {exc.message}") from exc
    except (ServerError, urllib3.exceptions.HTTPError, OSError) as exc:
        raise RetryableError(f"s3 {action} failed: {type(exc).__name__}: {exc}") from exc
    except MinioException as exc:  # non-XML responses, e.g. a proxy's error page
        raise RetryableError(f"s3 {action} failed: {exc}") from exc


class S3BlobStore:
    """Blobs in an S3/MinIO/SeaweedFS bucket; the blocking client runs in threads.

    Args:
        endpoint: ``host:port`` of the server, without scheme.
        access_key: Access key id.
        secret_key: Secret key.
        bucket: Bucket name; created by :meth:`open` if missing.
        secure: Use HTTPS.
        timeout_s: Connect timeout; reads may take six times as long.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = False,
        timeout_s: float = 5.0,
    ) -> None:
        # Few, short retries: callers nak and retry later instead of blocking a worker.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s * 6),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
        )
        self._client = Minio(
            endpoint, access_key=access_key, secret_key=secret_key, secure=secure, http_client=http
        )
        self._http = http
        self._bucket = bucket

    async def open(self) -> None:
        """Create the bucket unless it exists (safe when several services race)."""
        with _s3_errors("open"):
            if await asyncio.to_thread(self._client.bucket_exists, self._bucket):
                return
            try:
                await asyncio.to_thread(self._client.make_bucket, self._bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    async def put(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Upload ``data`` in one request."""
        body = bytes(data)
        with _s3_errors("put", key):
            await asyncio.to_thread(
                self._client.put_object,
                *(self._bucket, validate_key(key), io.BytesIO(body), len(body)),
                content_type=content_type or "application/octet-stream",
            )

    async def get(self, key: str) -> bytes:
        """Download the object. Raises ``NotFoundError`` if missing."""
        with _s3_errors("get", key):
            return await asyncio.to_thread(self._read, validate_key(key))

    def _read(self, key: str) -> bytes:
        response = self._client.get_object(self._bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        """Remove the object; S3 treats a missing one as success."""
        with _s3_errors("delete", key):
            await asyncio.to_thread(self._client.remove_object, self._bucket, validate_key(key))

    async def exists(self, key: str) -> bool:
        """Whether the object exists (a HEAD request)."""
        try:
            with _s3_errors("exists", key):
                await asyncio.to_thread(self._client.stat_object, self._bucket, validate_key(key))
        except NotFoundError:
            return False
        return True

    async def older_than(self, age_s: float, limit: int) -> list[str]:
        """Keys of objects last modified over ``age_s`` seconds ago (one listing)."""

        def listing() -> list[str]:
            cutoff = datetime.now(UTC) - timedelta(seconds=age_s)
            found = []
            for obj in self._client.list_objects(self._bucket, recursive=True):
                if obj.last_modified is not None and obj.last_modified < cutoff:
                    found.append(str(obj.object_name))
                    if len(found) >= limit:
                        break
            return found

        with _s3_errors("list"):
            return await asyncio.to_thread(listing)

    async def close(self) -> None:
        """Close pooled HTTP connections."""
        self._http.clear()
