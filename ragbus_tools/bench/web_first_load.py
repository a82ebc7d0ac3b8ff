"""The web app's first load with a full library: bytes transferred and time to interactive.

Fills a fresh tenant with ``--documents`` small text documents (200 by default) and
waits until they are indexed, then opens ``/`` in headless Chromium (Debian's
``chromium``, driven by Playwright) already signed in, ``--runs`` times, each in a
new browser context (a cold cache). For each load it reads:

* bytes transferred: every response's encoded size on the wire, headers included
  (Chromium's ``Network.loadingFinished`` events), and the number of requests;
* interactive: the ``ragbus:library-ready`` performance mark, set once the library
  table is rendered and its controls work, in milliseconds from navigation start.

Then one reload of the same context (a warm cache: files revalidated, ``304``).
It prints each figure and exits 1 when the median misses a target (300 KB, 1 s).

Usage::

    python -m ragbus_tools.bench.web_first_load              # starts its own stack
    python -m ragbus_tools.bench.web_first_load --url http://127.0.0.1:8000 --api-key rbk_...

Against a given stack the documents go to a fresh tenant when ``DATABASE_URL`` is
set, else to the tenant of ``--api-key`` (``RAGBUS_API_KEY``).
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ragbus_tools.bench.target import Target, given_target, key_for, started_stack

TARGET_BYTES = 300 * 1024
TARGET_MS = 1000.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


async def fill_library(url: str, key: str, count: int, timeout_s: float = 600.0) -> None:
    """Upload ``count`` short text documents and wait until none is in progress."""
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        http.timeout = httpx.Timeout(60)
        for n in range(count):
            text = (
                f"# Note {n}\n\nThis is note number {n} of the benchmark library, {uuid.uuid4()}."
            )
            reply = await http.post(
                "/v1/documents", json={"filename": f"note-{n:04}.md", "text": text}
            )
            reply.raise_for_status()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            docs = (await http.get("/v1/documents", params={"limit": 1000})).json()["documents"]
            busy = [d for d in docs if d["status"] not in ("indexed", "failed")]
            if not busy:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"{len(busy)} documents still in progress")
            await asyncio.sleep(1.0)


async def session_for(url: str, key: str) -> dict[str, Any]:
    """What the app keeps in ``sessionStorage`` after signing in with ``key``."""
    async with httpx.AsyncClient(base_url=url) as http:
        reply = await http.post("/v1/auth/token", json={"grant_type": "api_key", "api_key": key})
        reply.raise_for_status()
        tokens = reply.json()
    return {
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": None,  # set in the page: its own clock
        "expires_in": tokens["expires_in"],
        "tenant": tokens["tenant"],
        "role": tokens["role"],
        "label": "benchmark",
    }


async def load_once(browser: Any, url: str, session: dict[str, Any]) -> list[dict[str, float]]:
    """A cold load, then a warm reload, of ``url`` in a new context: bytes, requests, ms."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    restore = (
        "(s => { s.expires_at = Date.now() + s.expires_in * 1000;"
        " sessionStorage.setItem('ragbus.session', JSON.stringify(s)); })"
    )
    await context.add_init_script(f"{restore}({json.dumps(session)})")
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    sizes: list[float] = []
    cdp.on("Network.loadingFinished", lambda e: sizes.append(e["encodedDataLength"]))
    figures = []
    for go in (lambda: page.goto(url), page.reload):
        sizes.clear()
        await go()
        await page.locator("body[data-ready='library']").wait_for(timeout=30_000)
        ready = await page.evaluate(
            "performance.getEntriesByName('ragbus:library-ready').pop().startTime"
        )
        rows = await page.locator("#doc-rows tr").count()
        await asyncio.sleep(0.2)  # late loadingFinished events
        figures.append({"bytes": sum(sizes), "requests": len(sizes), "ms": ready, "rows": rows})
    await context.close()
    return figures


@contextlib.asynccontextmanager
async def target(args: argparse.Namespace) -> AsyncIterator[Target]:
    """The stack given by ``--url``, else one started here."""
    if args.url:
        given = given_target(args.url, None)
        yield Target(args.url, None, given.database_url, args.api_key or given.api_key)
    else:
        async with started_stack() as started:
            yield started


async def main(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    async with target(args) as stack:
        key = await key_for(stack, f"web-bench-{uuid.uuid4().hex[:8]}")
        await fill_library(stack.url, key, args.documents)
        session = await session_for(stack.url, key)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=args.chromium, args=ARGS)
            runs = [await load_once(browser, stack.url + "/", session) for _ in range(args.runs)]
            await browser.close()
    cold = [r[0] for r in runs]
    warm = [r[1] for r in runs]
    print(f"first load of {stack.url}/ with {cold[0]['rows']} documents, {args.runs} runs")
    for label, loads in (("cold", cold), ("warm", warm)):
        kb = statistics.median(r["bytes"] for r in loads) / 1024
        ms = statistics.median(r["ms"] for r in loads)
        worst = max(r["ms"] for r in loads)
        print(f"{label}: {kb:6.1f} KB transferred in {loads[0]['requests']:.0f} requests; "
              f"interactive p50 {ms:6.1f} ms, max {worst:6.1f} ms")  # fmt: skip
    kb_ok = statistics.median(r["bytes"] for r in cold) <= TARGET_BYTES
    ms_ok = statistics.median(r["ms"] for r in cold) <= TARGET_MS
    print(f"targets: <= {TARGET_BYTES // 1024} KB {'met' if kb_ok else 'MISSED'}, "
          f"< {TARGET_MS:.0f} ms {'met' if ms_ok else 'MISSED'}")  # fmt: skip
    return 0 if kb_ok and ms_ok else 1


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running gateway (default: start a stack here)")
    parser.add_argument("--api-key", default=os.environ.get("RAGBUS_API_KEY"))
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
