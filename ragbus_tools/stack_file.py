"""Where a running ``ragbus up`` can be found: ``<data dir>/stack.json`` and its admin key.

``ragbus up`` writes both on start (readable by their owner only): the gateway's
URL, the NATS URL, the tenant of the built-in admin and the path of its API key.
Every CLI command that talks to the stack reads them by default, so nothing has to
be copied by hand; ``RAGBUS_URL`` and ``RAGBUS_API_KEY`` (or the flags) win.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.nats_security import ADMIN
from ragbus.nats_identity import connect_options
from ragbus.settings import InfraSettings

STACK_FILE = "stack.json"
ADMIN_KEY_FILE = "admin.key"
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class StackInfo:
    """How to reach a running stack.

    Attributes:
        gateway_url: The HTTP gateway, e.g. ``http://127.0.0.1:8000``.
        nats_url: The NATS server its services use.
        tenant: The tenant of the built-in admin key.
        api_key_file: Where that key is (mode 0600).
        database_url: The stack's Postgres, for operators' tools (``ragbus tenants
            create``, multi-tenant benchmarks); the file is its owner's only.
        nats_credentials: The embedded NATS server's credentials file (every
            identity's password, :mod:`ragbus_tools.servers.nats_secrets`), or
            ``None`` when the stack uses a NATS server of its own.
    """

    gateway_url: str
    nats_url: str
    tenant: str
    api_key_file: str
    database_url: str | None = None
    nats_credentials: str | None = None


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through os.open


def write_stack(data_dir: Path, info: StackInfo) -> Path:
    """Record ``info`` under ``data_dir``; returns the file written."""
    path = data_dir / STACK_FILE
    write_private(path, json.dumps(asdict(info), indent=2) + "\n")
    return path


def read_stack(data_dir: Path) -> StackInfo | None:
    """The stack recorded under ``data_dir``, or ``None`` if none was."""
    try:
        return StackInfo(**json.loads((data_dir / STACK_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def gateway_url(data_dir: Path, given: str | None) -> str:
    """``given`` (a flag or ``RAGBUS_URL``), else the recorded stack's, else the default."""
    if given:
        return given
    info = read_stack(data_dir)
    return info.gateway_url if info else DEFAULT_URL


def api_key(data_dir: Path, given: str | None) -> str | None:
    """``given`` (a flag or ``RAGBUS_API_KEY``), else the recorded admin key, else ``None``."""
    if given:
        return given
    info = read_stack(data_dir)
    candidates = [Path(info.api_key_file)] if info else []
    candidates.append(data_dir / ADMIN_KEY_FILE)
    for path in candidates:
        try:
            return path.read_text().strip() or None
        except OSError:
            continue
    return None


def nats_connection(data_dir: Path, given: str | None) -> tuple[str, dict[str, str]]:
    """Where an operator's tool reaches NATS, and the ``ragbus-admin`` credentials to use.

    The URL is ``given`` (a flag or ``NATS_URL``), else the recorded stack's, else
    the default. The credentials come from ``NATS_USER``/``NATS_PASSWORD`` or
    ``RAGBUS_NATS_CREDENTIALS`` when set, else from the recorded stack's credentials
    file when the URL is that stack's; ``{}`` for a NATS server without auth.

    Returns:
        ``(url, {"user": ..., "password": ...})`` (the mapping may be empty).
    """
    infra = InfraSettings()
    info = read_stack(data_dir)
    url = given or (info.nats_url if info else None) or infra.nats_url
    ours = info is not None and info.nats_credentials and url == info.nats_url
    if infra.nats_credentials is None and not infra.nats_user and ours:
        assert info is not None and info.nats_credentials is not None
        infra = infra.model_copy(update={"nats_credentials": Path(info.nats_credentials)})
    return url, connect_options(infra, ADMIN)
