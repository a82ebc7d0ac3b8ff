"""``ragbus keys`` (a tenant admin's keys, over HTTP) and ``ragbus tenants create`` (operators).

``keys create|list|revoke`` call the gateway's admin routes with an admin key (by
default the local stack's, see :mod:`ragbus_tools.stack_file`). ``tenants create``
makes a tenant and its first admin key straight in Postgres (``DATABASE_URL``):
the one step that no HTTP credential can authorise, since the tenant has none yet.
"""

import asyncio
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from ragbus_tools.cli_errors import EXIT_AUTH, CliError
from ragbus_tools.client import auth_headers
from ragbus_tools.stack_file import api_key as recorded_key
from ragbus_tools.stack_file import gateway_url

keys_app = typer.Typer(help="API keys of your tenant (needs an admin key).", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants (operators, with DATABASE_URL).", no_args_is_help=True)

UrlOpt = Annotated[str | None, typer.Option(envvar="RAGBUS_URL", help="Gateway URL.")]
KeyOpt = Annotated[
    str | None, typer.Option(envvar="RAGBUS_API_KEY", help="Admin API key.", show_default=False)
]
DataDirOpt = Annotated[Path, typer.Option(envvar="RAGBUS_DATA_DIR", help="`ragbus up` state.")]


def admin_call(
    method: str, path: str, url: str | None, key: str | None, data_dir: Path, **kw: Any
) -> Any:
    """One admin call; refusals and connection errors are left to the CLI's one-line
    report (:mod:`ragbus_tools.cli_errors`: 4 credentials, 5 unreachable, 6 refused)."""
    base, token = gateway_url(data_dir, url), recorded_key(data_dir, key)
    if token is None:
        raise CliError(
            EXIT_AUTH, f"no API key: pass --api-key or set RAGBUS_API_KEY (none in {data_dir})"
        )
    response = httpx.request(method, base + path, headers=auth_headers(token), timeout=30.0, **kw)
    response.raise_for_status()
    return response.json() if response.content else None


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A label, e.g. ci or alice-laptop.")],
    role: Annotated[str, typer.Option(help="admin, member or reader.")] = "member",
    principal: Annotated[
        str | None, typer.Option(help="An existing user or service account (default: new).")
    ] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1)] = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Create a key and print it; it is shown once."""
    body = {"name": name, "role": role, "principal": principal, "expires_in_days": expires_in_days}
    created = admin_call("POST", "/v1/admin/keys", url, api_key, data_dir, json=body)
    typer.echo(created["key"])
    typer.echo(f"{created['prefix']}  role={created['role']}  id={created['id']}", err=True)


@keys_app.command("list")
def list_(
    url: UrlOpt = None, api_key: KeyOpt = None, data_dir: DataDirOpt = Path(".ragbus")
) -> None:
    """List your tenant's keys (never their secrets)."""
    for k in admin_call("GET", "/v1/admin/keys", url, api_key, data_dir)["keys"]:
        state = "revoked" if k["revoked_at"] else "active"
        typer.echo(f"{k['id']}  {k['prefix']}  {k['role']:<6}  {state:<7}  {k['name']}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `ragbus keys list`).")],
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    data_dir: DataDirOpt = Path(".ragbus"),
) -> None:
    """Revoke a key at once."""
    revoked = admin_call("DELETE", f"/v1/admin/keys/{key_id}", url, api_key, data_dir)
    typer.echo(f"revoked {revoked['prefix']}")


@tenants_app.command("create")
def create_tenant(
    tenant: Annotated[str, typer.Argument(help="The new tenant's id.")],
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="Postgres DSN.")
    ] = None,
) -> None:
    """Create a tenant and print its first admin key (shown once)."""
    from pydantic import TypeAdapter, ValidationError

    from schemas.envelope import TenantId

    try:
        TypeAdapter(TenantId).validate_python(tenant)
    except ValidationError:
        typer.echo("error: a tenant id is 1-128 letters, digits or ._:@- characters", err=True)
        raise typer.Exit(2) from None
    if not database_url:
        typer.echo("error: set DATABASE_URL (or --database-url)", err=True)
        raise typer.Exit(2)
    key = asyncio.run(_first_key(database_url, tenant))
    if key is None:
        typer.echo(f"error: tenant {tenant!r} already has an admin key", err=True)
        raise typer.Exit(1)
    typer.echo(key)


async def _first_key(database_url: str, tenant: str) -> str | None:
    from gateway.auth.bootstrap import bootstrap_admin
    from ragbus.stores.postgres import create_pool, migrate

    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        return await bootstrap_admin(pool, tenant)
    finally:
        await pool.close()


signing_app = typer.Typer(
    help="The gateway's token signing keys (operators, with DATABASE_URL).", no_args_is_help=True
)


@signing_app.command("rotate")
def rotate_signing_key(
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="Postgres DSN.")
    ] = None,
) -> None:
    """Start signing with a new key; the old ones verify until their tokens expire."""
    if not database_url:
        typer.echo("error: set DATABASE_URL (or --database-url)", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(_rotate(database_url)))


async def _rotate(database_url: str) -> str:
    from gateway.auth.settings import AuthSettings
    from gateway.auth.signing_keys import SigningKeys
    from ragbus.stores.postgres import create_pool, migrate

    settings = AuthSettings()
    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        keys = SigningKeys(pool, retire_after_s=settings.access_ttl_s + settings.leeway_s)
        return await keys.rotate()
    finally:
        await pool.close()
