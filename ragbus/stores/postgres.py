"""Postgres connection pool, error classification and the migrations runner.

Every repository shares one :class:`asyncpg.Pool` built by :func:`create_pool`.
Its connections decode ``jsonb`` to Python objects and, once the ``vector``
extension exists, pgvector's ``vector`` type to numpy arrays.
"""

import asyncio
import functools
import json
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import resources
from typing import Any, ParamSpec, TypeVar

import asyncpg
from pgvector.asyncpg import register_vector

from ragbus.errors import PermanentError, RetryableError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MIGRATION_LOCK_KEY = 0x7261_6762_7573  # "ragbus": one advisory lock for every migrator
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # connection refused / reset, DNS failure
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed", pool closing
    asyncpg.exceptions.OperatorInterventionError,  # server starting or shutting down
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
)
"""Errors after which the same statement may succeed later."""

_PERMANENT_CONNECT_ERRORS = (
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # bad user or password
    asyncpg.exceptions.InvalidCatalogNameError,  # database does not exist
)


def pg_errors(
    fn: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Decorate a repository method so transient database errors become retryable.

    Raises:
        RetryableError: The server was unreachable, restarting, overloaded, or the
            transaction lost a serialization race; the call may be repeated.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except TRANSIENT_ERRORS as exc:
            raise RetryableError(f"postgres unavailable: {type(exc).__name__}: {exc}") from exc

    return wrapper


async def init_connection(conn: asyncpg.Connection) -> None:
    """Install the codecs every ragbus connection uses.

    ``json``/``jsonb`` map to Python objects; ``vector`` maps to numpy arrays when
    the pgvector extension is installed (connections made before it was created
    are renewed by :meth:`asyncpg.Pool.expire_connections`).
    """
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(
            pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    schema = await conn.fetchval(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
    )
    if schema is not None:
        await register_vector(conn, schema=schema)


async def keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection to the pool without asyncpg's reset query.

    asyncpg's default runs ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: one more round trip per query made through the
    pool, 7% of the event loop's time in a profile of ``ragbus up`` ingesting
    SciFact. ragbus leaves no session state: settings are ``SET LOCAL``, advisory
    locks are transaction-level, nothing LISTENs, cursors live in transactions.
    asyncpg still rolls back a transaction left open before calling this.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout_s: float = 10.0,
    attempts: int = 5,
    backoff_s: float = 0.5,
) -> asyncpg.Pool:
    """Connect a pool, retrying while the server is not accepting connections yet.

    Args:
        dsn: Postgres URL, ``postgresql://user:pass@host:port/db``.
        min_size: Connections opened up front.
        max_size: Most connections the pool opens.
        connect_timeout_s: Timeout of each connection attempt, in seconds.
        attempts: Connection attempts before giving up, at least 1.
        backoff_s: Delay before the second attempt in seconds; doubles every attempt.

    Returns:
        An open pool whose connections run :func:`init_connection`.

    Raises:
        RetryableError: The server stayed unreachable for ``attempts`` tries.
        PermanentError: The credentials or the database name are wrong.
    """
    delay = backoff_s
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout_s,
                init=init_connection,
                reset=keep_session,
            )
        except _PERMANENT_CONNECT_ERRORS as exc:
            raise PermanentError(f"postgres refused the connection: {exc}") from exc
        except TRANSIENT_ERRORS as exc:
            if attempt >= attempts:
                raise RetryableError(
                    f"postgres unreachable after {attempts} attempts: {type(exc).__name__}: {exc}"
                ) from exc
            log.warning(
                "postgres not ready, retrying",
                extra={"attempt": attempt, "delay_s": delay, "error": str(exc)},
            )
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change, ``migrations/NNN_name.sql``."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read the bundled migrations, ordered by version.

    Raises:
        PermanentError: Two files share a version number.
    """
    found: dict[int, Migration] = {}
    for entry in resources.files("ragbus.stores.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise PermanentError(f"two migrations share version {version:03d}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@pg_errors
async def migrate(pool: asyncpg.Pool, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations in order; safe to run from many processes at once.

    Each migration runs in its own transaction holding a transaction-scoped
    advisory lock, so concurrent start-ups apply each file exactly once and a
    failed file leaves no partial change.

    Args:
        pool: Pool of the target database.
        migrations: Migrations to apply; the bundled ones when omitted.

    Returns:
        Versions applied by this call, ascending (empty when up to date).

    Raises:
        RetryableError: The database was unreachable.
        asyncpg.PostgresError: A migration's SQL failed; nothing of it was applied.
    """
    applied: list[int] = []
    for migration in load_migrations() if migrations is None else migrations:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await conn.execute(_CREATE_LEDGER)
            done = await conn.fetchval(
                "SELECT true FROM schema_migrations WHERE version = $1", migration.version
            )
            if done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            log.info("applied migration", extra={"version": migration.version})
            applied.append(migration.version)
    return applied


def record_to_dict(row: asyncpg.Record) -> dict[str, Any]:
    """Turn a row into a plain dict (for building frozen dataclasses)."""
    return dict(row.items())
