"""Time of one question's embedding: ``python -m ragbus_tools.bench.question_embed``.

Loads the deployment's model (``RAGBUS_EMBED_*``), then embeds ``--n`` questions one
at a time through an ``asyncio.to_thread`` hop, as retrieve_svc does, with a 3 ms
pause after each (the rest of a request) so that a thread spinning past the call is
counted. For each session it prints the median wall time and the process's CPU time
per question, both in ms: a session that is fast only because its threads spin
takes that CPU from the event loop. The last row is the session the service uses
(:class:`~ragbus.embedding.question_session.QuestionSession`). Example::

    python -m ragbus_tools.bench.question_embed \\
        --queries ../shared/datasets/scifact/queries_train.jsonl --n 300
"""

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnxruntime as ort

from ragbus.embedding.fastembed_embedder import FastEmbedEmbedder
from ragbus.embedding.question_session import SPIN_US, QuestionSession
from ragbus.settings import InfraSettings

T = TypeVar("T")

SESSIONS: dict[str, tuple[int, dict[str, str]]] = {
    "1 thread": (1, {"session.intra_op.allow_spinning": "0"}),
    "2 threads, default spinning": (2, {}),
    "2 threads, no spinning": (2, {"session.intra_op.allow_spinning": "0"}),
}


def _session(model_file: Path, threads: int, entries: dict[str, str]) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    for key, value in entries.items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


async def time_calls(embed: Callable[[T], Any], items: Sequence[T]) -> tuple[float, float]:
    """(median wall ms, CPU ms per item) of ``embed`` over ``items``.

    Each call goes through an ``asyncio.to_thread`` hop, as the services make it,
    and is followed by a 3 ms pause (the rest of a request), so that a thread
    spinning past the call is counted in the CPU time.
    """
    wall = []
    cpu = _cpu_ms()
    for item in items:
        started = time.perf_counter()
        await asyncio.to_thread(embed, item)
        wall.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.003)
    return float(np.median(wall)), (_cpu_ms() - cpu) / len(items)


async def bench(questions: list[str]) -> list[tuple[str, float, float]]:
    """Rows of (session, p50 ms, CPU ms per question)."""
    embedder = FastEmbedEmbedder(InfraSettings())
    embedder.warm_up()
    inner = embedder._model.model  # fastembed's model: its file and tokenizer
    model_file = Path(inner._model_dir) / inner.model_description.model_file
    tokenizer = inner.tokenizer

    def raw(session: ort.InferenceSession) -> Callable[[str], Any]:
        def embed(text: str) -> Any:
            ids = np.asarray([tokenizer.encode(text).ids], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            feeds["token_type_ids"] = np.zeros_like(ids)
            return session.run(None, feeds)

        return embed

    rows = []
    for name, (threads, entries) in SESSIONS.items():
        embed = raw(_session(model_file, threads, entries))
        rows.append((name, *await time_calls(embed, questions)))
    ours = QuestionSession(model_file, tokenizer)
    name = f"{ours.threads} threads, spinning {SPIN_US} µs at most (used)"
    rows.append((name, *await time_calls(ours.embed, questions)))
    return rows


def main() -> None:
    """Parse arguments, run, print one line per session."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=Path, required=True, help="a BEIR queries .jsonl")
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    lines = [line for line in args.queries.read_text().splitlines() if line.strip()]
    questions = [json.loads(line)["text"] for line in lines[: args.n]]
    for name, p50, cpu in asyncio.run(bench(questions)):
        print(f"{name:<46} p50 {p50:5.2f} ms   CPU {cpu:5.2f} ms per question")


if __name__ == "__main__":
    main()
