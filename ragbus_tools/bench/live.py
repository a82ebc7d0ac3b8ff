"""What the latency benchmarks ``answer_cache`` and ``first_delta`` share.

Both bench a running stack over HTTP: they upload ``--docs`` (by default four of
the Node.js API docs next to the repository) for a fresh tenant, wait until they
are indexed, then time requests and print percentiles.
"""

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ragbus_tools.client import FINAL_STATUSES, RagbusClient
from ragbus_tools.tenant_keys import tenant_key

NODEJS_API = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "nodejs-api"
DEFAULT_DOCS = [NODEJS_API / f for f in ("child_process.md", "fs.md", "events.md", "stream.md")]
"""The Node.js API docs the scripts upload unless ``--docs`` says otherwise."""


def arguments(description: str) -> argparse.ArgumentParser:
    """A parser with the options every script takes: ``--url``, ``--docs``, and how to
    get a key: ``--database-url`` (a fresh tenant per run) or ``--api-key``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--docs", type=Path, nargs="*", default=DEFAULT_DOCS)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--api-key", default=os.environ.get("RAGBUS_API_KEY"))
    return parser


async def bench_key(args: argparse.Namespace, tenant: str) -> str:
    """A key of a fresh ``tenant`` (with ``--database-url``), else ``--api-key``'s.

    Raises:
        SystemExit: neither is given.
    """
    if args.database_url:
        return await tenant_key(args.database_url, tenant)
    if args.api_key:
        return str(args.api_key)
    raise SystemExit("pass --database-url (DATABASE_URL) or --api-key (RAGBUS_API_KEY)")


async def indexed_tenant(
    args: argparse.Namespace, prefix: str, paths: Sequence[Path], timeout_s: float
) -> tuple[str, str]:
    """Upload ``paths`` for a fresh tenant ``<prefix>-<hex>`` (see :func:`bench_key`);
    return it and its key once all are final.

    Raises:
        TimeoutError: some document is still in progress after ``timeout_s`` seconds.
    """
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    key = await bench_key(args, tenant)
    async with RagbusClient(args.url, key) as client:
        ids = [(await client.upload(path))["id"] for path in paths]
        deadline = time.monotonic() + timeout_s
        while ids:
            docs = [await client.document(i) for i in ids]
            ids = [d["id"] for d in docs if d["status"] not in FINAL_STATUSES]
            if time.monotonic() > deadline:
                raise TimeoutError(f"not indexed in {timeout_s:.0f} s: {ids}")
            await asyncio.sleep(0.5)
    return tenant, key


def summary(values: Sequence[float]) -> str:
    """``p50 / p95 / max`` of ``values`` in milliseconds (p95: the nearest rank)."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  max {ordered[-1]:7.1f} ms"
