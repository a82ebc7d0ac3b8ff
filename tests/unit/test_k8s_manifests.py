"""deploy/k8s renders with kustomize, and every object validates.

Each overlay is rendered by the real kustomize (``kubectl kustomize``, or a
``kustomize`` binary). Kubernetes objects are validated by kubernetes-validate
(strict: an unknown field fails) against the API's own schemas; KEDA's
ScaledObjects against the openAPIV3Schema of KEDA's released CRD
(tests/vendored/keda). The ScaledObjects must watch the consumers that
deploy/jetstream.py declares and the services bind.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy.jetstream import BACKLOGS, CHUNKS_STREAM
from ragbus_tools import deploy_files
from ragbus_tools.k8s_scaling import PROFILES, stream_messages_path

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.33.0"
KEDA_CRD = ROOT / "tests" / "vendored" / "keda" / "keda.sh_scaledobjects.yaml"


def kustomize(overlay: str) -> list[dict[str, Any]]:
    """The rendered objects of ``deploy/k8s/overlays/<overlay>``."""
    path = ROOT / "deploy" / "k8s" / "overlays" / overlay
    if shutil.which("kubectl"):
        argv = ["kubectl", "kustomize", str(path)]
    elif shutil.which("kustomize"):
        argv = ["kustomize", "build", str(path)]
    else:
        pytest.skip("neither kubectl nor kustomize is installed")
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: kustomize(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def scaled_object_schema() -> dict[str, Any]:
    crd = yaml.safe_load(KEDA_CRD.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return dict(version["schema"]["openAPIV3Schema"])


def test_generated_files_are_what_the_code_generates() -> None:
    assert deploy_files.main(["--check"]) == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates(
    overlay: str, rendered: dict[str, list[dict[str, Any]]], scaled_object_schema: dict[str, Any]
) -> None:
    kinds = set()
    for obj in rendered[overlay]:
        kinds.add(obj["kind"])
        if obj["apiVersion"] == "keda.sh/v1alpha1":
            jsonschema.validate(obj, scaled_object_schema)
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    expected = {"Deployment", "StatefulSet", "ScaledObject", "PodDisruptionBudget"}
    assert expected | {"HorizontalPodAutoscaler", "Service", "ConfigMap"} <= kinds


def test_a_wrong_field_fails_validation(scaled_object_schema: dict[str, Any]) -> None:
    """The validators do reject: a typo in a Deployment, a string where KEDA wants a number."""
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    bad["spec"] = {"replica": 1, "selector": {}, "template": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"}}
    scaled["spec"] = {"scaleTargetRef": {"name": "x"}, "minReplicaCount": "one", "triggers": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, scaled_object_schema)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaled_objects_watch_the_declared_consumers(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = rendered[overlay]
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    scaled = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ScaledObject"}
    declared = {(b.stream, b.durable) for b in BACKLOGS if b.durable}
    assert set(scaled) == {b.service for b in BACKLOGS}
    for name, obj in scaled.items():
        assert obj["spec"]["scaleTargetRef"]["name"] == name and name in deployments
        trigger = obj["spec"]["triggers"][0]
        if trigger["type"] == "nats-jetstream":
            meta = trigger["metadata"]
            assert (meta["stream"], meta["consumer"]) in declared, (name, meta)
            assert obj["metadata"]["namespace"] in meta["natsServerMonitoringEndpoint"]
        else:  # embed: the work-queue stream's message count
            assert name == "embed" and trigger["type"] == "metrics-api"
            assert trigger["metadata"]["valueLocation"] == stream_messages_path(
                CHUNKS_STREAM.name or ""
            )
        profile = PROFILES[overlay][name]
        assert obj["spec"]["minReplicaCount"] == profile.min_replicas


def test_nats_and_workers_drain_and_probe(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered["prod"]}
    nats = objects[("StatefulSet", "nats")]["spec"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert nats["replicas"] == 3
    assert (
        nats["template"]["spec"]["containers"][0]["image"] == compose["services"]["nats"]["image"]
    )
    config = next(o for o in rendered["prod"] if o["metadata"]["name"] == "nats-config")
    assert "sync_interval: always" in config["data"]["nats.conf"]
    for name in ("ingest", "embed", "retrieve", "generate", "gateway"):
        pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["terminationGracePeriodSeconds"] >= 45  # drain: 30 s of in-flight work
        assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(container)
        assert container["resources"]["limits"]["memory"]
        assert ("PodDisruptionBudget", name) in objects
