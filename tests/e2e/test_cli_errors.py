"""The ``ragbus`` command line, run as a person runs it: every error is one line and a code.

Each command runs as its own process (the installed ``ragbus`` script) against the
real gateway of this module's stack, with the gateway down (an unused port), with
a bad API key, with a taken port and with bad arguments. Each must print exactly
one line on stderr, starting ``error:``, no traceback, and exit with the code
the README documents (:mod:`ragbus_tools.cli_errors`). Runs go four at a time.
"""

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ragbus_tools.cli_errors import (
    EXIT_AUTH,
    EXIT_PORT_TAKEN,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)
from tests.e2e.stack import RunningStack
from tests.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RAGBUS = str(Path(sys.executable).with_name("ragbus"))
BAD_KEY = "rbk_000000000000_" + "x" * 43
AT_ONCE = asyncio.Semaphore(4)


async def ragbus(*args: str, data_dir: Path, timeout_s: float = 90.0) -> tuple[int, str, str]:
    """Run ``ragbus ARGS``; returns its exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGBUS_", "NATS_URL"))}
    env["RAGBUS_DATA_DIR"] = str(data_dir)
    async with AT_ONCE:
        process = await asyncio.create_subprocess_exec(
            RAGBUS,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def run_all(cases: dict[str, list[str]], data_dir: Path) -> dict[str, tuple[int, str, str]]:
    names = list(cases)
    results = await asyncio.gather(*(ragbus(*cases[n], data_dir=data_dir) for n in names))
    return dict(zip(names, results, strict=True))


def assert_one_line(results: dict[str, tuple[int, str, str]], code: int, *words: str) -> None:
    """Every run exited ``code`` with one ``error:`` line on stderr naming ``words``."""
    for name, (got, out, err) in results.items():
        lines = err.strip().splitlines()
        assert got == code, (name, got, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (name, err)
        assert "Traceback" not in out + err, (name, err)
        assert all(word in lines[0] for word in words), (name, lines[0])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BEIR folder of one document and one query, for ``ragbus eval``."""
    root = tmp_path_factory.mktemp("beir")
    doc = {"_id": "d1", "title": "Bells", "text": "The bronze bell rings at noon."}
    (root / "corpus.jsonl").write_text(json.dumps(doc) + "\n")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "When?"}) + "\n")
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return root


def http_commands(url: str, key: str, dataset: Path) -> dict[str, list[str]]:
    """Every command that talks to the gateway, pointed at ``url`` with ``key``."""
    auth = ["--url", url, "--api-key", key]
    return {
        "ask": ["ask", "When does the bell ring?", *auth],
        "ingest": ["ingest", str(dataset / "corpus.jsonl"), *auth],
        "eval": ["eval", str(dataset), *auth, "--out", str(dataset / "eval.json")],
        "keys list": ["keys", "list", *auth],
        "keys create": ["keys", "create", "ci", *auth],
        "keys revoke": ["keys", "revoke", "00000000-0000-0000-0000-000000000000", *auth],
        "mcp": ["mcp", *auth],
        "mcp http": ["mcp", "--transport", "http", "--port", str(free_port()), *auth],
    }


async def test_every_command_with_the_gateway_down_says_so(tmp_path: Path, dataset: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    nats_down = f"nats://127.0.0.1:{free_port()}"
    cases = http_commands(down, BAD_KEY, dataset)
    cases |= {
        "status": ["status", "--url", down, "--nats-url", nats_down],
        "status, no stack": ["status"],
        "dlq list": ["dlq", "list", "--nats-url", nats_down],
        "dlq show": ["dlq", "show", "1", "--nats-url", nats_down],
        "dlq replay": ["dlq", "replay", "--all", "--nats-url", nats_down],
    }
    results = await run_all(cases, tmp_path)
    assert_one_line(results, EXIT_UNREACHABLE, "cannot reach")
    assert down in results["ask"][2] and "ragbus up" in results["ask"][2]


async def test_every_command_with_a_bad_key_says_which_key_to_use(
    stack: RunningStack, tmp_path: Path, dataset: Path
) -> None:
    results = await run_all(http_commands(stack.url, BAD_KEY, dataset), tmp_path)
    assert_one_line(results, EXIT_AUTH, "refused the API key", "--api-key")


async def test_commands_without_any_key_say_how_to_get_one(
    stack: RunningStack, tmp_path: Path, dataset: Path
) -> None:
    cases = {
        name: [a for a in args if a not in ("--api-key", BAD_KEY)]
        for name, args in http_commands(stack.url, BAD_KEY, dataset).items()
    }
    del cases["eval"]  # eval without a key reads a tenant by name (trusted headers)
    del cases["mcp http"]  # over HTTP each client may bring its own key
    results = await run_all(cases, tmp_path)
    assert_one_line(results, EXIT_AUTH, "RAGBUS_API_KEY")


async def test_a_taken_port_is_named_before_anything_starts(
    stack: RunningStack, tmp_path: Path
) -> None:
    port = stack.url.rsplit(":", 1)[1]  # the module's gateway holds it
    cases = {
        "up": ["up", "--port", port, "--data-dir", str(tmp_path / "a")],
        "up --processes": ["up", "--processes", "--port", port, "--data-dir", str(tmp_path / "b")],
        "mcp http": ["mcp", "--transport", "http", "--port", port, "--url", stack.url],
    }
    results = await run_all(cases, tmp_path)
    assert_one_line(results, EXIT_PORT_TAKEN, f"port {port}", "--port")
    assert not (tmp_path / "a" / "stack.json").exists()  # nothing was started


async def test_bad_arguments_are_one_line_naming_the_help(tmp_path: Path) -> None:
    cases = {
        "ask, no question": ["ask"],
        "ask, top-k": ["ask", "why?", "--top-k", "0"],
        "unknown option": ["ask", "why?", "--bogus"],
        "unknown command": ["fly"],
        "ingest, no file": ["ingest", str(tmp_path / "missing.md"), "--api-key", BAD_KEY],
        "serve": ["serve", "nothing"],
        "dlq replay": ["dlq", "replay"],
        "tenant id": ["tenants", "create", "not a tenant!", "--database-url", "postgresql://x"],
    }
    results = await run_all(cases, tmp_path)
    assert_one_line(results, EXIT_USAGE)
    assert "ragbus ask --help" in results["ask, no question"][2]


def by_stage(stages: list[dict[str, Any]]) -> dict[str, int]:
    return {s["stage"]: s["backlog"] for s in stages}


async def test_status_prints_the_urls_backlog_and_dead_letters(
    stack: RunningStack, tmp_path: Path
) -> None:
    record = {
        "gateway_url": stack.url,
        "nats_url": stack.infra.nats_url,
        "tenant": "default",
        "api_key_file": str(tmp_path / "admin.key"),
    }
    (tmp_path / "stack.json").write_text(json.dumps(record))
    (code, text, err), (json_code, raw, _) = await asyncio.gather(
        ragbus("status", data_dir=tmp_path), ragbus("status", "--json", data_dir=tmp_path)
    )
    assert (code, json_code) == (0, 0), err
    assert stack.url in text and stack.infra.nats_url in text and "dead letters" in text
    for stage in ("ingest", "embed", "retrieve", "generate"):
        assert any(line.split()[0] == stage for line in text.splitlines()), text
    status = json.loads(raw)
    assert status["gateway"] == stack.url and status["gateway_ready"] is True
    assert set(by_stage(status["stages"])) == {"ingest", "embed", "retrieve", "generate"}
