"""deploy/grafana/ragbus-dashboard.json plots only metrics ragbus exports.

Every ``ragbus_*`` series a panel queries must be one that a collector of
:mod:`ragbus.metrics` or :mod:`gateway.http_metrics` produces (a renamed metric
would otherwise leave an empty panel), and the panels cover what operators watch:
backlog per stage, dead letters, stage latencies, HTTP traffic.
"""

import json
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import gateway.http_metrics
import ragbus.metrics

pytestmark = pytest.mark.unit

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "ragbus-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_series() -> set[str]:
    names = set()
    for collector in (*vars(ragbus.metrics).values(), *vars(gateway.http_metrics).values()):
        if hasattr(collector, "describe") and collector in REGISTRY._collector_to_names:
            for family in collector.describe():
                names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def test_every_queried_series_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bragbus_[a-z_]+", target["expr"])
    }
    assert queried, "the dashboard queries nothing"
    assert queried - exported_series() == set()
    for wanted in ("ragbus_consumer_pending", "ragbus_dlq_messages", "ragbus_stage_seconds_bucket"):
        assert wanted in queried
    assert "ragbus_http_requests_total" in queried


def test_panels_are_laid_out_once_on_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}" and "datasource" in variables
            place = panel["gridPos"]
            assert 0 <= place["x"] and place["x"] + place["w"] <= 24
