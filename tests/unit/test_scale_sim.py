"""The scale simulation follows KEDA's and the HPA's rules, and backs the manifests' numbers."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ragbus_tools.k8s_scaling import NATS_ACCOUNT, PROFILES, Scaling
from ragbus_tools.scale_sim import arrivals, backlog_and_acked, measured_rate, simulate

pytestmark = pytest.mark.unit

RECORDING = (
    Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "scaling" / "scifact-import.json"
)


def test_a_steady_backlog_asks_for_backlog_over_threshold_replicas() -> None:
    """HPA AverageValue: ceil(100 / 30) = 4 replicas for a backlog that never drains."""
    scaling = Scaling(lag_threshold=30, min_replicas=1, max_replicas=10, scale_down_window_s=0)
    out = simulate([100.0] + [0.0] * 299, scaling, rate=0.0, startup_s=0, tail_s=0)
    assert out.peak == 4 and out.replicas[-1] == 4


def test_growth_is_capped_and_the_maximum_holds() -> None:
    scaling = Scaling(lag_threshold=1, min_replicas=1, max_replicas=6)
    out = simulate([1000.0] + [0.0] * 59, scaling, rate=0.0, startup_s=0, tail_s=0)
    steps = sorted(set(out.replicas))
    assert steps == [1, 5, 6]  # at most max(+4 pods, +100%) per 15 s sync, then the maximum


def test_zero_replicas_wake_on_backlog_and_sleep_after_the_cooldown() -> None:
    scaling = Scaling(lag_threshold=10, min_replicas=0, max_replicas=3, cooldown_s=60)
    incoming = [0.0] * 30 + [5.0] + [0.0] * 300
    out = simulate(incoming, scaling, rate=1.0, startup_s=5, tail_s=0)
    assert out.replicas[0] == 0 and max(out.replicas[30:60]) == 1 and out.replicas[-1] == 0


def test_arrivals_and_rates_come_from_backlog_plus_acks() -> None:
    recording = {"samples": [{"embed": [0, 0]}, {"embed": [5, 1]}, {"embed": [3, 5]}]}
    assert arrivals(recording, "embed") == [6, 2]
    assert measured_rate(recording, "embed", window_s=1) == 4


def test_the_jsz_reading_matches_what_keda_reads() -> None:
    from deploy.jetstream import BACKLOGS

    ingest, embed = BACKLOGS[0], BACKLOGS[1]
    consumer = {"name": ingest.durable, "num_pending": 7, "num_ack_pending": 2}
    consumer["ack_floor"] = {"consumer_seq": 40}
    jsz = {
        "account_details": [
            {
                "name": NATS_ACCOUNT,
                "stream_detail": [
                    {"name": ingest.stream, "state": {}, "consumer_detail": [consumer]},
                    {"name": embed.stream, "state": {"messages": 12, "last_seq": 50}},
                ],
            }
        ]
    }
    assert backlog_and_acked(jsz, ingest) == (9, 40)
    assert backlog_and_acked(jsz, embed) == (12, 38)


def test_the_prod_embed_threshold_drains_the_recorded_import_within_30_s() -> None:
    """The number in the manifests, replayed: a recorded 600-document SciFact import
    (one embed replica, 2 loaded cores) drains within 30 s of its last upload, where a
    threshold four times higher takes longer and a quarter of it needs more replicas."""
    recording = json.loads(RECORDING.read_text())
    incoming = arrivals(recording, "embed")
    rate = measured_rate(recording, "embed")
    chosen = PROFILES["prod"]["embed"]
    out = simulate(incoming, chosen, rate=rate, startup_s=15)
    lazier = simulate(
        incoming, replace(chosen, lag_threshold=chosen.lag_threshold * 4), rate=rate, startup_s=15
    )
    eager = simulate(
        incoming, replace(chosen, lag_threshold=chosen.lag_threshold // 4), rate=rate, startup_s=15
    )
    print(f"\nembed: {sum(incoming):.0f} batches, {rate:.1f}/s a replica, peak {out.peak},")
    print(f"drained {out.drain_s:.0f} s after the last upload")
    assert sum(incoming) == 600 and out.drain_s <= 30
    assert lazier.drain_s > out.drain_s and eager.peak > out.peak
