"""Replay a recorded backlog through KEDA's scaling rule: ``python -m ragbus_tools.scale_sim``.

``record`` samples, once a second, what KEDA would read from a nats-server's
``/jsz`` for each worker (:data:`deploy.jetstream.BACKLOGS`): the backlog (a
consumer's ``num_pending + num_ack_pending``; for embed, the work-queue stream's
messages) and the work acknowledged so far. ``replay`` feeds the arrivals of such a
recording to a simulated deployment that scales as KEDA and the HPA do:

- every ``pollingInterval`` KEDA reads the backlog ``m``; at zero replicas it
  activates one when ``m > activation``, and returns to zero after
  ``cooldownPeriod`` without backlog;
- every 15 s the HPA wants ``ceil(m / lagThreshold)`` replicas (an ``AverageValue``
  target), leaves the count alone within its 10% tolerance, grows by at most
  max(4 pods, 100%) a period, and shrinks only to the highest count wanted over
  the scale-down stabilization window;
- a new replica serves after ``startup_s`` (loading the model), each ready replica
  settles ``rate`` messages a second.

It prints the replica count over time and, with ``--sweep``, the peak replicas,
replica-seconds and the time the backlog takes to drain for a range of thresholds:
the numbers the manifests' thresholds were chosen from (docs/deploy.md).
"""

import argparse
import itertools
import json
import math
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from deploy.jetstream import BACKLOGS, Backlog
from ragbus_tools.k8s_scaling import NATS_ACCOUNT, POLLING_S, PROFILES, Scaling

HPA_SYNC_S = 15
HPA_TOLERANCE = 0.1


def backlog_and_acked(jsz: dict[str, Any], backlog: Backlog) -> tuple[int, int]:
    """``(backlog, acknowledged so far)`` of one worker in a ``/jsz`` answer."""
    account = next(a for a in jsz.get("account_details", []) if a["name"] == NATS_ACCOUNT)
    stream = next(
        (s for s in account.get("stream_detail", []) if s["name"] == backlog.stream), None
    )
    if stream is None:
        return 0, 0
    state = stream["state"]
    if backlog.durable is None:  # a work queue: acked messages are deleted
        return int(state["messages"]), int(state["last_seq"]) - int(state["messages"])
    for consumer in stream.get("consumer_detail", []):
        if consumer["name"] == backlog.durable:
            lag = int(consumer["num_pending"]) + int(consumer["num_ack_pending"])
            return lag, int(consumer["ack_floor"]["consumer_seq"])
    return 0, 0


def record(monitor_url: str, seconds: float, out: Path) -> None:
    """Sample every worker's backlog once a second for ``seconds``; write JSON."""
    url = f"{monitor_url}/jsz?acc={quote(NATS_ACCOUNT)}&consumers=true&config=true"
    samples = []
    start = time.monotonic()
    while (now := time.monotonic() - start) < seconds:
        jsz = httpx.get(url, timeout=5).json()
        samples.append(
            {"t": round(now, 1), **{b.service: list(backlog_and_acked(jsz, b)) for b in BACKLOGS}}
        )
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start - now)))
    out.write_text(json.dumps({"interval_s": 1, "samples": samples}) + "\n")


def arrivals(recording: dict[str, Any], service: str) -> list[float]:
    """Messages that arrived for ``service`` in each second of the recording."""
    points = [sample[service] for sample in recording["samples"]]
    return [
        max(0, (lag + acked) - (prev_lag + prev_acked))
        for (prev_lag, prev_acked), (lag, acked) in itertools.pairwise(points)
    ]


def measured_rate(recording: dict[str, Any], service: str, window_s: int = 10) -> float:
    """Highest acks per second over ``window_s`` of the recording (one replica)."""
    acked = [sample[service][1] for sample in recording["samples"]]
    steps = [(b - a) / window_s for a, b in zip(acked, acked[window_s:], strict=False)]
    return max(steps, default=0.0)


@dataclass
class Outcome:
    """What a replay gives: the replica counts and the cost."""

    replicas: list[int]  # ready replicas, each second
    backlog: list[float]
    peak: int
    replica_seconds: float
    drain_s: float  # from the last arrival until the backlog is gone


def simulate(
    incoming: list[float], scaling: Scaling, *, rate: float, startup_s: float, tail_s: int = 900
) -> Outcome:
    """Replay ``incoming`` (messages per second) through KEDA's and the HPA's rules."""
    backlog, metric, target = 0.0, 0.0, scaling.min_replicas
    starting: deque[float] = deque([0.0] * scaling.min_replicas)  # ready times
    wanted: deque[tuple[float, int]] = deque()
    last_active, ready_counts, backlogs = 0.0, [], []
    last_arrival = max((i for i, n in enumerate(incoming) if n), default=0)
    for second in range(len(incoming) + tail_s):
        t = float(second)
        backlog += incoming[second] if second < len(incoming) else 0.0
        ready = sum(1 for at in starting if at <= t)
        backlog = max(0.0, backlog - ready * rate)
        if second % POLLING_S == 0:
            metric = backlog
            if metric > scaling.activation:
                last_active = t
        if second % HPA_SYNC_S == 0:
            target = _hpa(target, metric, scaling, t, last_active, wanted)
        while len(starting) < target:
            starting.append(t + startup_s)
        while len(starting) > target:
            starting.pop()  # the newest goes first
        ready_counts.append(ready)
        backlogs.append(backlog)
    drained = next((i for i in range(last_arrival, len(backlogs)) if backlogs[i] == 0), None)
    return Outcome(
        replicas=ready_counts,
        backlog=backlogs,
        peak=max(ready_counts),
        replica_seconds=float(sum(ready_counts)),
        drain_s=float("inf") if drained is None else float(drained - last_arrival),
    )


def _hpa(
    current: int,
    metric: float,
    scaling: Scaling,
    t: float,
    last_active: float,
    wanted: deque[tuple[float, int]],
) -> int:
    """The replica count KEDA and the HPA settle on at one sync."""
    if current == 0:
        return 1 if metric > scaling.activation else 0
    if scaling.min_replicas == 0 and metric <= scaling.activation:
        if t - last_active >= scaling.cooldown_s:
            return 0
    ratio = metric / (scaling.lag_threshold * current)
    desired = (
        current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(metric / scaling.lag_threshold)
    )
    desired = min(max(desired, scaling.min_replicas, 1), scaling.max_replicas)
    desired = min(desired, max(current + 4, current * 2))
    wanted.append((t, desired))
    while wanted and wanted[0][0] < t - scaling.scale_down_window_s:
        wanted.popleft()
    if desired < current:
        desired = min(current, max(n for _, n in wanted))
    return desired


def main(argv: list[str] | None = None) -> None:
    """``record`` or ``replay`` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m ragbus_tools.scale_sim")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="sample a running stack's backlogs from /jsz")
    rec.add_argument("monitor_url"), rec.add_argument("out", type=Path)
    rec.add_argument("--seconds", type=float, default=300)
    rep = sub.add_parser("replay", help="replay a recording through KEDA's rule")
    rep.add_argument("recording", type=Path)
    rep.add_argument("--service", default="embed", choices=[b.service for b in BACKLOGS])
    rep.add_argument("--profile", default="prod", choices=list(PROFILES))
    rep.add_argument("--rate", type=float, help="messages/s per replica (default: measured)")
    rep.add_argument("--startup-s", type=float, default=15.0)
    rep.add_argument("--every", type=int, default=15, help="print a line every N seconds")
    rep.add_argument("--sweep", action="store_true", help="compare lag thresholds")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.monitor_url, args.seconds, args.out)
        return
    recording = json.loads(args.recording.read_text())
    incoming = arrivals(recording, args.service)
    rate = args.rate or measured_rate(recording, args.service)
    scaling = PROFILES[args.profile][args.service]
    print(
        f"{args.service}: {sum(incoming):.0f} messages in {len(incoming)} s; {rate:.2f}/s a replica"
    )
    if args.sweep:
        print(f"{'lagThreshold':>12} {'peak':>5} {'replica-s':>10} {'drain s':>8}")
        for threshold in (5, 10, 20, 40, 80, 160, 320):
            out = simulate(
                incoming,
                replace(scaling, lag_threshold=threshold),
                rate=rate,
                startup_s=args.startup_s,
            )
            print(f"{threshold:>12} {out.peak:>5} {out.replica_seconds:>10.0f} {out.drain_s:>8.0f}")
        return
    out = simulate(incoming, scaling, rate=rate, startup_s=args.startup_s)
    print(f"{'t s':>5} {'arrived':>8} {'backlog':>8} {'replicas':>8}")
    for second in range(0, len(out.replicas), args.every):
        came = sum(incoming[second : second + args.every])
        print(f"{second:>5} {came:>8.0f} {out.backlog[second]:>8.0f} {out.replicas[second]:>8}")
    print(
        f"peak {out.peak} replicas, {out.replica_seconds:.0f} replica-s,"
        f" drained {out.drain_s:.0f} s after the last arrival"
    )


if __name__ == "__main__":
    main()
