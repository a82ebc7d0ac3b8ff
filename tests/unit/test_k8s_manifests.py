"""deploy/k8s renders with kustomize, and every object validates.

Each overlay is rendered by the real kustomize (``kubectl kustomize``, or a
``kustomize`` binary). Kubernetes objects are validated by kubernetes-validate
(strict: an unknown field fails) against the API's own schemas; KEDA's
ScaledObjects against the openAPIV3Schema of KEDA's released CRD
(tests/vendored/keda). The ScaledObjects must watch the consumers that
deploy/jetstream.py declares and the services bind, in the account JetStream lives
in; NATS gets every password from the Secret ragbus-nats, each service only its own.
"""

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import nkeys
import pytest
import yaml
from typer.testing import CliRunner

from deploy.jetstream import BACKLOGS, CHUNKS_STREAM
from deploy.nats_security import ACCOUNT, AUTH, GATEWAY, IDENTITIES
from ragbus_tools import deploy_files
from ragbus_tools.cli import app
from ragbus_tools.k8s_scaling import PROFILES, stream_messages_path
from ragbus_tools.nats_env import ISSUER_VAR, SECRET_NAME, SEED_VAR, password_var

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.33.0"
KEDA_CRD = ROOT / "tests" / "vendored" / "keda" / "keda.sh_scaledobjects.yaml"
SERVICES = ("gateway", "ingest", "embed", "retrieve", "generate")
NATS_VARS = {password_var(identity) for identity in IDENTITIES} | {SEED_VAR, ISSUER_VAR}


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
            assert meta["account"] == ACCOUNT  # JetStream lives in the ragbus account
            assert obj["metadata"]["namespace"] in meta["natsServerMonitoringEndpoint"]
        else:  # embed: the work-queue stream's message count
            assert name == "embed" and trigger["type"] == "metrics-api"
            assert trigger["metadata"]["valueLocation"] == stream_messages_path(
                CHUNKS_STREAM.name or ""
            )
            assert f"acc={ACCOUNT}&" in trigger["metadata"]["url"]
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


def secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Env var -> (Secret name, key) of a container's ``secretKeyRef`` entries."""
    refs = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            refs[entry["name"]] = (ref["name"], ref["key"])
    return refs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_gets_every_secret_and_each_service_only_its_own(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered[overlay]}
    secrets = [o for o in rendered[overlay] if o["kind"] == "Secret"]
    nats_secret = [o for o in secrets if o["metadata"]["name"].startswith(SECRET_NAME)]
    if overlay == "dev":  # generated from the committed throwaway dev.nats.env
        (secret,) = nats_secret
        name = secret["metadata"]["name"]
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert set(data) == NATS_VARS
        issuer = nkeys.from_seed(data[SEED_VAR].encode()).public_key.decode()
        assert issuer == data[ISSUER_VAR]
    else:  # made beforehand with ragbus nats-secrets --k8s
        assert nats_secret == []
        name = SECRET_NAME
    nats = objects[("StatefulSet", "nats")]["spec"]["template"]["spec"]["containers"][0]
    wanted = NATS_VARS - {SEED_VAR}  # the server needs the issuer, not the seed
    assert secret_refs(nats) == {var: (name, var) for var in wanted}
    for service in SERVICES:
        pod = objects[("Deployment", service)]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        identity = service if service == GATEWAY else f"{service}-svc"
        plain = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
        assert plain["NATS_USER"] == identity
        expected = {"NATS_PASSWORD": (name, password_var(identity))}
        if service == GATEWAY:
            expected[SEED_VAR] = (name, SEED_VAR)
            expected["RAGBUS_NATS_CALLOUT_PASSWORD"] = (name, password_var(AUTH))
        assert secret_refs(container) == expected, service
        from_all = [e.get("secretRef", {}).get("name", "") for e in container["envFrom"]]
        assert not any(n.startswith(SECRET_NAME) for n in from_all)  # never every key


def test_nats_secrets_k8s_prints_a_valid_secret_with_every_key() -> None:
    result = CliRunner().invoke(app, ["nats-secrets", "--k8s", "--namespace", "ragbus"])
    assert result.exit_code == 0, result.output
    secret = yaml.safe_load(result.output)
    kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    assert secret["metadata"] == {"name": SECRET_NAME, "namespace": "ragbus"}
    assert set(secret["stringData"]) == NATS_VARS
    seed = secret["stringData"][SEED_VAR]
    assert nkeys.from_seed(seed.encode()).public_key.decode() == secret["stringData"][ISSUER_VAR]
