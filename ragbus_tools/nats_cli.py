"""``ragbus nats``: NATS credentials for a tenant's client, and for a deployment.

- ``ragbus nats creds``: a NATS client's credential (an API key of the role asked
  for) and how to connect with it, as JSON. Without ``--tenant`` a tenant admin
  asks the gateway (``POST /v1/admin/nats-credentials``, the admin key's tenant);
  with ``--tenant`` an operator makes it straight in Postgres (``DATABASE_URL``, or
  the local stack's), for any tenant.
- ``ragbus nats secrets`` (also ``ragbus nats-secrets``): fresh passwords for every
  service identity and the auth callout's seed, for compose or Kubernetes.
"""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ragbus_tools.keys_cli import DataDirOpt, KeyOpt, UrlOpt, admin_call

nats_app = typer.Typer(help="NATS credentials (clients, deployments).", no_args_is_help=True)


@nats_app.command("creds")
def nats_creds(
    name: Annotated[str, typer.Option(help="A label for the key, e.g. dashboard.")] = "nats",
    role: Annotated[str, typer.Option(help="admin, member or reader.")] = "member",
    tenant: Annotated[
        str | None, typer.Option(help="Any tenant (operators: straight in Postgres).")
    ] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="Postgres DSN (with --tenant).")
    ] = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Make a NATS client's key and print how to connect with it (JSON, shown once).

    The client connects with ``token`` = the key and ``inbox_prefix`` as printed;
    NATS then allows exactly ``permissions`` (docs/events.md#connecting).
    """
    if tenant is None:
        body = {"name": name, "role": role, "expires_in_days": expires_in_days}
        made = admin_call("POST", "/v1/admin/nats-credentials", url, api_key, data_dir, json=body)
    else:
        made = asyncio.run(_operator_creds(data_dir, database_url, tenant, role, name))
    typer.echo(json.dumps(made, indent=2))


async def _operator_creds(
    data_dir: Path, database_url: str | None, tenant: str, role: str, name: str
) -> dict[str, Any]:
    from gateway.auth.bootstrap import issue_key
    from gateway.auth.roles import Role
    from gateway.nats_clients import client_access
    from ragbus.nats_identity import without_credentials
    from ragbus.stores.postgres import create_pool, migrate
    from ragbus_tools.cli_errors import EXIT_USAGE, CliError
    from ragbus_tools.stack_file import nats_connection, read_stack

    info = read_stack(data_dir)
    dsn = database_url or (info.database_url if info else None)
    if not dsn:
        raise CliError(EXIT_USAGE, "with --tenant, set DATABASE_URL (or --database-url)")
    try:
        wanted = Role(role)
    except ValueError:
        raise CliError(EXIT_USAGE, f"unknown role {role!r}: admin, member or reader") from None
    servers = without_credentials(nats_connection(data_dir, None)[0])
    pool = await create_pool(dsn)
    try:
        await migrate(pool)
        key = await issue_key(pool, tenant, wanted, name)
    finally:
        await pool.close()
    return {"key": key, **client_access(tenant, str(wanted), servers)}


def nats_secrets(
    k8s: Annotated[
        bool, typer.Option("--k8s", help="Print a Kubernetes Secret manifest instead.")
    ] = False,
    namespace: Annotated[
        str | None, typer.Option(help="The Secret's namespace (with --k8s).")
    ] = None,
) -> None:
    """Print new NATS passwords, the auth callout's seed and its issuer.

    As .env lines (`ragbus nats-secrets >> .env` for compose; also an env file
    for kustomize's secretGenerator), or with --k8s as the Secret ragbus-nats
    (`ragbus nats-secrets --k8s --namespace ragbus | kubectl apply -f -`). Every
    run makes new values: rotating means replacing the old ones, then restarting
    NATS and every service.
    """
    from ragbus_tools.nats_env import env_lines, new_values, secret_manifest

    values = new_values()
    typer.echo(secret_manifest(values, namespace=namespace) if k8s else env_lines(values), nl=False)


nats_app.command("secrets")(nats_secrets)
