"""The embed worker's memory and throughput per onnxruntime setting
(``python -m ragbus_tools.bench.embed_memory [--chunks 1000] [--threads N]``).

Each setting runs in a fresh child process, since onnxruntime's CPU arena is the
process's: the child loads the model (:class:`~ragbus.embedding.FastEmbedEmbedder`
with the setting's ``embed_cpu_arena`` and ``embed_batch_size``), then embeds
``--chunks`` distinct chunks of exactly the model's capacity (254 word pieces, the
longest a chunk can be, so every model call is full: batch x 256 tokens) in calls
of ``--per-call`` texts, as an embed_svc pull does. A thread samples the child's
resident set size (``/proc/self/status`` ``VmRSS``) every 10 ms. Settings, by
default: ``on:64`` (arena on, 64 texts per model call: ragbus before issue 15),
``off:64`` (the arena disabled) and ``on:16`` (ragbus's default now). Printed: per
setting the RSS once the model is loaded, the peak while embedding and at the end,
and chunks per second (the median over ``--rounds`` interleaved runs); then each
one's throughput against the first, and whether
the default's peak stays under the embed worker's 1 GB budget.
"""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ragbus.settings import InfraSettings

BUDGET_MB = 1024.0
"""The embed worker's memory budget (issue 15)."""
DEFAULT_BATCH = InfraSettings().embed_batch_size

WORDS = (
    "calibration sensor pressure valve turbine maintenance record offset gain drift"
    " inspection bearing coolant flow rate schedule operator shift report anomaly"
    " threshold alarm reading voltage current temperature humidity vibration"
).split()


def rss_mb() -> float:
    """This process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def full_chunks(tokenizer, count: int, capacity: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``count`` distinct texts of exactly ``capacity`` word pieces each, counted by
    ``tokenizer`` (which must not truncate: the embedder's counting tokenizer)."""
    texts = []
    for n in range(count):
        words = [f"{WORDS[(n * 7 + i) % len(WORDS)]}{(n + i) % 97}" for i in range(capacity)]
        encoding = tokenizer.encode(" ".join(words), add_special_tokens=False)
        texts.append(" ".join(words)[: encoding.offsets[capacity - 1][1]])
    return texts


def child(arena: bool, batch: int, chunks: int, per_call: int, threads: int | None) -> dict:
    """Load the model with ``arena`` and ``batch``, embed; the figures of this process."""
    from ragbus.embedding import FastEmbedEmbedder

    settings = InfraSettings(embed_cpu_arena=arena, embed_batch_size=batch, embed_threads=threads)
    embedder = FastEmbedEmbedder(settings)
    embedder.warm_up()
    texts = full_chunks(embedder.tokenizer, chunks, embedder.max_tokens - 2)
    loaded = rss_mb()
    peak, done = loaded, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    for start in range(0, len(texts), per_call):
        embedder.embed_documents(texts[start : start + per_call])
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "loaded_mb": loaded,
        "peak_mb": max(peak, rss_mb()),
        "end_mb": rss_mb(),
        "chunks_per_s": len(texts) / seconds,
    }


def run(setting: str, args: argparse.Namespace) -> dict:
    """Run :func:`child` for ``setting`` (``on:64``) in a fresh interpreter."""
    command = [sys.executable, "-m", "ragbus_tools.bench.embed_memory", "--child", setting]
    command += ["--chunks", str(args.chunks), "--per-call", str(args.per_call)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def parse_setting(setting: str) -> tuple[bool, int]:
    """``"on:16"`` -> (arena on, 16 texts per model call)."""
    arena, batch = setting.split(":")
    return arena == "on", int(batch)


def main() -> None:
    """Print the figures of every setting."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--per-call", type=int, default=512, help="texts per embed call")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    parser.add_argument("--settings", default="on:64,off:64,on:16", help="arena:batch,...")
    parser.add_argument("--rounds", type=int, default=1, help="runs of every setting")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        arena, batch = parse_setting(args.child)
        print(json.dumps(child(arena, batch, args.chunks, args.per_call, args.threads)))
        return
    settings = args.settings.split(",")
    rounds: dict[str, list[dict]] = {setting: [] for setting in settings}
    for _ in range(args.rounds):  # interleaved, so a busy spell hits every setting
        for setting in settings:
            rounds[setting].append(run(setting, args))
    results = {
        setting: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for setting, runs in rounds.items()
    }
    print(
        f"{args.chunks} chunks of 254 word pieces, {args.per_call} per embed call,"
        f" median of {args.rounds} round(s)"
    )
    print(f"{'arena:batch':<12} {'loaded MB':>10} {'peak MB':>9} {'end MB':>8} {'chunks/s':>9}")
    base = results[settings[0]]["chunks_per_s"]
    for setting, r in results.items():
        change = (r["chunks_per_s"] / base - 1) * 100
        print(
            f"{setting:<12} {r['loaded_mb']:>10.0f} {r['peak_mb']:>9.0f}"
            f" {r['end_mb']:>8.0f} {r['chunks_per_s']:>9.1f} ({change:+.1f}% vs {settings[0]})"
        )
    default = f"on:{DEFAULT_BATCH}"
    if default in results:
        peak = results[default]["peak_mb"]
        verdict = "under" if peak < BUDGET_MB else "OVER"
        print(f"default {default}: peak RSS {peak:.0f} MB, {verdict} the {BUDGET_MB:.0f} MB budget")


if __name__ == "__main__":
    main()
