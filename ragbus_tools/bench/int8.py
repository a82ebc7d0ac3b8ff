"""Quality and speed of derived embedding models (optimised, int8) on a SciFact sample.

For each variant of the cached fp32 export (see ``ragbus.embedding.quantize``), the
same documents and queries are embedded in this process; the script prints nDCG@10
(pytrec_eval, exact dot-product search over the sample) and documents per second,
with both ratios to fp32 measured in the same run.

The sample is the first ``--queries`` train queries, every document they judge
relevant, and the corpus's first other documents up to ``--docs`` (distractors).
Absolute nDCG is higher than on the full corpus; the loss against fp32 is what
this measures. Each document is embedded whole (title and text, truncated at 256
tokens), as BEIR evaluates SciFact.

Usage::

    python -m ragbus_tools.bench.int8 --queries 300 --docs 1500 [--variant NAME ...]
    python -m ragbus_tools.bench.int8 --docs 120 --speed-rounds 5 [--threads 0 1] --variant fp32 ...
    python -m ragbus_tools.bench.int8 --profile 16 --variant fp32 --variant int8
"""

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytrec_eval

from ragbus.embedding import FastEmbedEmbedder, resolve_model
from ragbus.embedding.quantize import INT8, Variant, derive_once
from ragbus.settings import InfraSettings
from ragbus_tools.beir import read_corpus

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared/datasets/scifact"
VARIANTS = {
    "fp32": None,
    "fp32-optimised": Variant("opt", quantize=False),
    "fp32-noguard": Variant("noguard", drop_guards=True, optimize=False, quantize=False),
    "int8-default": Variant("int8-default", optimize=False, per_channel=False,
                            op_types=("MatMul", "Attention", "Gather")),
    "int8-per-tensor": Variant("int8-pt", optimize=False, per_channel=False),
    "int8-optimised-per-channel": Variant("int8-opt-pc"),
    "int8-pc": Variant("int8-pc", optimize=False),  # the previous default: guards kept
    "int8-pt-noguard": Variant("int8-pt-noguard", drop_guards=True, optimize=False,
                               per_channel=False),
    "int8-pc-all-matmuls": Variant("int8-pc-noguard-all", drop_guards=True, optimize=False,
                                   weights_only=False),
    "int8": INT8,  # no guards, per channel, weight MatMuls: RAGBUS_EMBED_PRECISION=int8
}  # fmt: skip


def sample(dataset: Path, n_queries: int, n_docs: int) -> tuple[dict, dict, dict]:
    """``(queries, qrels, docs)``: id -> text, query id -> {doc id: grade}, id -> text."""
    qrels: dict[str, dict[str, int]] = {}
    with (dataset / "qrels_train.tsv").open() as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries: dict[str, str] = {}
    with (dataset / "queries_train.jsonl").open() as lines:
        for line in lines:
            q = json.loads(line)
            if q["_id"] in qrels and len(queries) < n_queries:
                queries[q["_id"]] = q["text"]
    qrels = {q: qrels[q] for q in queries}
    wanted = {d for judged in qrels.values() for d in judged}
    docs: dict[str, str] = {}
    for doc in read_corpus(dataset / "corpus.jsonl"):
        if doc.beir_id in wanted or len(docs) < n_docs - len(wanted):
            docs[doc.beir_id] = doc.content
    return queries, qrels, docs


def evaluate(model_dir: Path, queries: dict, qrels: dict, docs: dict) -> dict[str, float]:
    """nDCG@10 and documents per second of the model in ``model_dir``."""
    embedder = FastEmbedEmbedder(InfraSettings(embed_model_path=model_dir))
    embedder.warm_up()
    doc_ids = list(docs)
    started = time.perf_counter()
    doc_vectors = embedder.embed_documents([docs[d] for d in doc_ids])
    seconds = time.perf_counter() - started
    query_ids = list(queries)
    scores = embedder.embed_documents([queries[q] for q in query_ids]) @ doc_vectors.T
    run = {}
    for row, qid in enumerate(query_ids):
        top = np.argsort(-scores[row])[:100]
        run[qid] = {doc_ids[i]: float(scores[row, i]) for i in top}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    ndcg = float(np.mean([m["ndcg_cut_10"] for m in per_query.values()]))
    return {"ndcg_10": ndcg, "docs_per_s": len(doc_ids) / seconds, "seconds": seconds}


def variant_path(fp32_dir: Path, variant: Variant | None) -> Path:
    """The export of ``variant`` (made once), or the fp32 export for ``None``.

    :data:`INT8` is made in the model cache, where ``RAGBUS_EMBED_PRECISION=int8``
    finds it; the other variants are experiments and go to the temporary directory.
    """
    if variant is None:
        return fp32_dir
    if variant == INT8:
        return derive_once(fp32_dir, variant)
    scratch = Path(tempfile.gettempdir()) / "ragbus-bench-int8"
    scratch.mkdir(exist_ok=True)
    return derive_once(fp32_dir, variant, scratch / f"{fp32_dir.name}-{variant.name}")


def interleaved_speed(
    model_dirs: dict[str, Path], texts: list[str], rounds: int, threads: list[int | None]
) -> dict:
    """Median seconds per variant to embed ``texts``, variants taking turns every round.

    Taking turns spreads the other load on a shared machine over every variant alike,
    so the ratios are fairer than from runs one after another. With several
    ``threads`` settings (``None``: onnxruntime's default), each variant runs with
    each, named ``variant@threads``.
    """
    embedders = {}
    for name, model_dir in model_dirs.items():
        for n in threads:
            settings = InfraSettings(embed_model_path=model_dir, embed_threads=n)
            key = name if len(threads) == 1 else f"{name}@{n or 'default'}"
            embedders[key] = FastEmbedEmbedder(settings)
            embedders[key].warm_up()
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    for _ in range(rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_documents(texts)
            seconds[name].append(time.perf_counter() - started)
    return {name: float(np.median(s)) for name, s in seconds.items()}


def profile(model_dir: Path, texts: list[str], runs: int = 3) -> dict[str, float]:
    """Share of onnxruntime kernel time per operator type (after its graph fusions).

    One intra-op thread and one padded batch of ``texts`` (truncated at 256 tokens),
    run ``runs`` times, so the shares do not depend on thread scheduling.
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding()
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.array([e.attention_mask for e in encodings])}
    feed["token_type_ids"] = np.zeros_like(ids)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.enable_profiling = 1, True
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "ragbus-bench-int8-profile")
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options)
    for _ in range(runs):
        session.run(None, feed)
    trace = Path(session.end_profiling())
    per_op: dict[str, float] = {}
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            per_op[op] = per_op.get(op, 0.0) + event["dur"] / 1000 / runs
    trace.unlink()
    return dict(sorted(per_op.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS))
    parser.add_argument(
        "--speed-rounds",
        type=int,
        metavar="R",
        help="only speed: the variants take turns R times on --docs documents",
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[0],
        help="with --speed-rounds: onnxruntime threads to try per variant (0: its default)",
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="only profile: one batch of N documents"
    )
    args = parser.parse_args()
    queries, qrels, docs = sample(args.dataset, args.queries, args.docs)
    print(f"sample: {len(queries)} queries, {len(docs)} documents", flush=True)
    fp32_dir = resolve_model(InfraSettings()).path
    assert fp32_dir is not None, "needs a local export (ragbus model prepare)"
    names = args.variant or list(VARIANTS)
    if args.profile:
        texts = list(docs.values())[: args.profile]
        for name in names:
            per_op = profile(variant_path(fp32_dir, VARIANTS[name]), texts)
            total = sum(per_op.values())
            top = ", ".join(f"{op} {100 * ms / total:.0f}%" for op, ms in list(per_op.items())[:6])
            print(f"{name}: {total:.0f} ms per batch; {top}", flush=True)
        return
    if args.speed_rounds:
        dirs = {n: variant_path(fp32_dir, VARIANTS[n]) for n in names}
        texts = list(docs.values())[: args.docs]
        load = os.getloadavg()[0]
        threads = [n or None for n in args.threads]
        medians = interleaved_speed(dirs, texts, args.speed_rounds, threads)
        first = next(iter(medians))
        for name, s in medians.items():
            print(f"{name}: {len(texts) / s:.1f} docs/s (x{medians[first] / s:.2f} {first})")
        print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
        print(json.dumps(medians))
        return
    results: dict[str, dict[str, float]] = {}
    for name in names:
        results[name] = evaluate(variant_path(fp32_dir, VARIANTS[name]), queries, qrels, docs)
        base = results.get("fp32")
        r = results[name]
        rel = (
            f" (fp32: dnDCG {r['ndcg_10'] - base['ndcg_10']:+.4f}, "
            f"speed x{r['docs_per_s'] / base['docs_per_s']:.2f})"
            if base and name != "fp32"
            else ""
        )
        print(f"{name}: nDCG@10 {r['ndcg_10']:.4f}, {r['docs_per_s']:.1f} docs/s{rel}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
