"""compose.yaml is a valid Compose file, pinned, health-checked and free of secrets.

Where the ``docker compose`` plugin exists, ``docker compose config`` checks it (it
needs no engine). The test machines have only the docker client without the
plugin, so the file is also interpolated here with ``.env.example``, as compose
would (``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``), and validated against
the Compose Specification's JSON Schema (tests/vendored/compose).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ragbus_tools.servers.nats_server import nats_server_binary

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "vendored" / "compose" / "compose-spec.json"
RAGBUS_SERVICES = ("gateway", "ingest", "embed", "retrieve", "generate")
VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})")


def read_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of an env file; comments and blank lines skipped."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation over every string of ``value``.

    Raises:
        KeyError: a ``${VAR:?message}`` whose variable is unset or empty.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg")
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return current or ""

    return VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return dict(interpolate(raw, read_env(ROOT / ".env.example")))


def test_docker_compose_config_passes_where_the_plugin_exists() -> None:
    docker = shutil.which("docker")
    plugin = (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not plugin:
        pytest.skip("the docker compose plugin is not installed here; see the schema test")
    argv = [docker, "compose", "--env-file", ".env.example", "config", "--quiet"]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(compose, schema)
    broken = {**compose, "services": {"nats": {"imagee": "nats:2"}}}  # a typo
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject
        jsonschema.validate(broken, schema)


def test_a_missing_secret_stops_compose() -> None:
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(raw, {})


def test_images_are_pinned_and_every_service_is_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        tag = service["image"].partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d", tag), (name, service["image"])
        assert service["healthcheck"]["test"], name
    version = subprocess.run(
        [str(nats_server_binary()), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # the server the tests run is the one compose and Kubernetes run
    assert services["nats"]["image"] == f"nats:{version.split('v')[-1].strip()}-alpine"


def test_workers_serve_metrics_and_no_empty_llm_model_is_passed(compose: dict[str, Any]) -> None:
    for name in RAGBUS_SERVICES:
        environment = compose["services"][name]["environment"]
        assert "RAGBUS_LLM_MODEL" not in environment, name  # set only through .env, if at all
        if name != "gateway":
            assert environment["RAGBUS_METRICS_PORT"] == "9100", name
    assert "RAGBUS_LLM_MODEL=" not in [
        line.strip() for line in (ROOT / ".env.example").read_text().splitlines()
    ]


def test_credentials_come_only_from_the_env_file() -> None:
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    secret_keys = ("PASSWORD", "SECRET", "ACCESS_KEY", "DATABASE_URL")
    for service in raw["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(part in key for part in secret_keys):
                assert "${" in str(value), (key, value)


def test_nats_fsyncs_every_write() -> None:
    conf = (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    assert "sync_interval: always" in conf
