"""Gateway memory while oversized bodies are refused (``python -m ragbus_tools.bench.body_limits``).

Starts ``ragbus up`` in a temporary data directory, reads its admin key, then sends
``--bodies`` JSON uploads of ``--mb`` MB each at once, twice: once with a
``Content-Length`` (refused before a byte is read) and once chunked, without one
(counted while it streams in and spooled to disk past 1 MiB, then refused at the
JSON upload limit). It samples the ``ragbus up`` process's resident set size
(``/proc/<pid>/status`` ``VmRSS``) every 20 ms and prints the baseline, the peak
and the growth per round, and whether every body was refused with 413.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from ragbus_tools.stack_file import api_key, read_stack

PIECE = b"y" * (1024 * 1024)


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def body(mb: int) -> AsyncIterator[bytes]:
    """A JSON upload of ``mb`` MiB, generated as it is sent."""
    yield b'{"filename": "huge.txt", "text": "'
    for _ in range(mb):
        yield PIECE
    yield b'"}'


async def send(url: str, key: str, mb: int, *, declared: bool) -> int | str:
    """POST one oversized body; its status, or the error that ended it."""
    if declared:
        return await send_declared(url, key, mb)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            response = await http.post("/v1/documents", content=body(mb), headers=headers)
            return response.status_code
    except httpx.HTTPError as exc:  # a server closing after its early 413 resets the upload
        return type(exc).__name__


async def send_declared(url: str, key: str, mb: int) -> int | str:
    """Declare ``mb`` MiB, send the first MiB on a raw socket, and read the status line.

    The gateway answers 413 from the ``Content-Length`` alone and closes; an HTTP
    client still writing its body would only see the connection reset.
    """
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {mb * len(PIECE) + 36}\r\n\r\n"
    )
    try:
        writer.write(head.encode() + b'{"filename": "huge.txt", "text": "' + PIECE)
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 30)).split()
        return int(status[1]) if len(status) > 1 else "no reply"
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__
    finally:
        writer.close()


async def round_(url: str, key: str, pid: int, args: argparse.Namespace, declared: bool) -> dict:
    baseline = rss_mb(pid)
    peak = baseline
    sending = asyncio.gather(
        *(send(url, key, args.mb, declared=declared) for _ in range(args.bodies))
    )
    while not sending.done():
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.02)
    outcomes = await sending
    return {
        "content_length": declared,
        "bodies": args.bodies,
        "mb_each": args.mb,
        "outcomes": outcomes,
        "rss_baseline_mb": round(baseline, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(peak - baseline, 1),
    }


async def main(args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="ragbus-bodies-") as tmp:
        data_dir = Path(tmp)
        port = args.port
        env = {**os.environ, "RAGBUS_QUOTA_ENABLED": "false"}
        ragbus = Path(sys.executable).with_name("ragbus")
        command = [str(ragbus), "up", "--port", str(port), "--data-dir", str(data_dir)]
        proc = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 240
            while read_stack(data_dir) is None or not await ready(url):
                if proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("ragbus up did not start")
                await asyncio.sleep(0.5)
            key = api_key(data_dir, None)
            assert key is not None
            return [await round_(url, key, proc.pid, args, declared) for declared in (True, False)]
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 60)


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            return (await http.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bodies", type=int, default=4, help="bodies sent at once")
    parser.add_argument("--mb", type=int, default=250, help="size of each body, MiB")
    parser.add_argument("--port", type=int, default=8799)
    return parser.parse_args()


if __name__ == "__main__":
    for report in asyncio.run(main(parse_args())):
        print(json.dumps(report))
