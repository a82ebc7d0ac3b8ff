"""``ragbus bench``: reproducible throughput and latency figures of the real pipeline.

Each command measures the pipeline and, in the same run, a reference to compare it
with (raw fastembed for ingest, a no-op NATS round trip for queries), so figures on a
busy machine still give honest ratios. See docs/benchmarks.md for the method.
"""
