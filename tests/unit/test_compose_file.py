"""compose.yaml is a valid Compose file, pinned, health-checked and free of secrets.

Where the ``docker compose`` plugin exists, ``docker compose config`` checks it (it
needs no engine). The test machines have only the docker client without the
plugin, so the file is also interpolated here with ``.env.example`` plus the output
of ``ragbus nats-secrets``, as compose would (``${VAR}``, ``${VAR:-default}``,
``${VAR:?error}``), and validated against the Compose Specification's JSON Schema
(tests/vendored/compose). Each ragbus container must end up with its own NATS
password only, although compose hands it the whole ``.env``.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import nkeys
import pytest
import yaml
from typer.testing import CliRunner

from deploy.nats_security import AUTH, GATEWAY, IDENTITIES
from ragbus_tools.cli import app
from ragbus_tools.nats_env import ISSUER_VAR, SEED_VAR, password_var
from ragbus_tools.servers.nats_server import nats_server_binary

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "vendored" / "compose" / "compose-spec.json"
RAGBUS_SERVICES = ("gateway", "ingest", "embed", "retrieve", "generate")
NATS_IDENTITY = {name: name if name == GATEWAY else f"{name}-svc" for name in RAGBUS_SERVICES}
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
def nats_secrets() -> dict[str, str]:
    """What ``ragbus nats-secrets`` prints, parsed as compose parses ``.env``."""
    result = CliRunner().invoke(app, ["nats-secrets"])
    assert result.exit_code == 0, result.output
    return dict(line.split("=", 1) for line in result.output.splitlines() if line)


@pytest.fixture(scope="module")
def dotenv(nats_secrets: dict[str, str]) -> dict[str, str]:
    """A ``.env`` as the setup steps make it: the example, then ``ragbus nats-secrets``."""
    return {**read_env(ROOT / ".env.example"), **nats_secrets}


@pytest.fixture(scope="module")
def compose(dotenv: dict[str, str]) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return dict(interpolate(raw, dotenv))


def test_docker_compose_config_passes_where_the_plugin_exists(
    dotenv: dict[str, str], tmp_path: Path
) -> None:
    docker = shutil.which("docker")
    plugin = (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not plugin:
        pytest.skip("the docker compose plugin is not installed here; see the schema test")
    assert docker is not None
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in dotenv.items()))
    argv = [docker, "compose", "--env-file", str(env_file), "config", "--quiet"]
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
    """Every credential is a ``${...}`` of .env, or blanked (another identity's)."""
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    secret_keys = ("PASSWORD", "SECRET", "ACCESS_KEY", "DATABASE_URL", "SEED")
    for service in raw["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(part in key for part in secret_keys):
                assert "${" in str(value) or value == "", (key, value)


def test_nats_secrets_prints_every_identity_and_a_matching_callout_key(
    nats_secrets: dict[str, str],
) -> None:
    expected = {password_var(identity) for identity in IDENTITIES} | {SEED_VAR, ISSUER_VAR}
    assert set(nats_secrets) == expected
    passwords = [nats_secrets[password_var(identity)] for identity in IDENTITIES]
    assert len(set(passwords)) == len(IDENTITIES)  # fresh and distinct
    assert all(len(p) == 32 and p[0].isalpha() for p in passwords)  # nats-server reads a string
    seed = nats_secrets[SEED_VAR]
    assert seed.startswith("SA") and nats_secrets[ISSUER_VAR].startswith("A")
    assert nkeys.from_seed(seed.encode()).public_key.decode() == nats_secrets[ISSUER_VAR]
    again = CliRunner().invoke(app, ["nats-secrets"]).output
    assert nats_secrets[SEED_VAR] not in again  # every run makes new ones


def test_without_the_nats_secrets_compose_says_how_to_make_them() -> None:
    raw = yaml.safe_load((ROOT / "compose.yaml").read_text())
    with pytest.raises(KeyError, match=r"NATS_PASSWORD_\w+: run ragbus nats-secrets >> \.env"):
        interpolate(raw, read_env(ROOT / ".env.example"))


def test_nats_gets_every_password_and_the_issuer(
    compose: dict[str, Any], nats_secrets: dict[str, str]
) -> None:
    nats = compose["services"]["nats"]
    wanted = [password_var(identity) for identity in IDENTITIES] + [ISSUER_VAR]
    assert nats["environment"] == {var: nats_secrets[var] for var in wanted}
    assert SEED_VAR not in nats["environment"]  # the server needs the public key only
    assert "8222/healthz" in nats["healthcheck"]["test"][-1]  # monitoring: no credentials


def test_each_service_gets_only_its_own_nats_password(
    compose: dict[str, Any], dotenv: dict[str, str], nats_secrets: dict[str, str]
) -> None:
    """What a container ends up with: .env (env_file), overridden by ``environment``."""
    secret_values = {
        value: var for var, value in nats_secrets.items() if var != ISSUER_VAR
    }  # the issuer is public
    for name, identity in NATS_IDENTITY.items():
        service = compose["services"][name]
        assert [entry["path"] for entry in service["env_file"]] == [".env"]
        container = {**dotenv, **service["environment"]}
        assert container["NATS_USER"] == identity
        assert container["NATS_PASSWORD"] == nats_secrets[password_var(identity)]
        own = {password_var(identity)}
        if identity == GATEWAY:  # the auth callout: its seed, ragbus-auth's password
            assert container[SEED_VAR] == nats_secrets[SEED_VAR]
            assert container["RAGBUS_NATS_CALLOUT_PASSWORD"] == nats_secrets[password_var(AUTH)]
            own |= {SEED_VAR, password_var(AUTH)}
        held = {secret_values[v] for v in container.values() if v in secret_values}
        assert held == own, (name, held - own)


def test_nats_fsyncs_every_write() -> None:
    conf = (ROOT / "deploy" / "compose" / "nats.conf").read_text()
    assert "sync_interval: always" in conf
