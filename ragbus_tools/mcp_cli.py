"""``ragbus mcp``: the MCP server (:mod:`ragbus_tools.mcp_server`) over stdio or HTTP.

Before serving, the gateway and the key are checked once, so a stack that is down,
a bad key or a taken port is one line and an exit code (:mod:`ragbus_tools.cli_errors`)
rather than a server that fails on its first tool call.
"""

import asyncio
import socket
from pathlib import Path
from typing import Annotated, Literal

import typer

from ragbus_tools.cli_errors import EXIT_AUTH, EXIT_PORT_TAKEN, CliError

DEFAULT_MCP_PORT = 8765


def mcp(
    transport: Annotated[
        Literal["stdio", "http"],
        typer.Option(help="stdio (a client starts this command) or http (streamable HTTP)."),
    ] = "stdio",
    host: Annotated[str, typer.Option(help="Interface of the HTTP transport.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP transport.")] = DEFAULT_MCP_PORT,
    url: Annotated[
        str | None,
        typer.Option(envvar="RAGBUS_URL", help="Gateway URL (default: the stack in --data-dir)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="RAGBUS_API_KEY",
            help="API key the tools use (default: the stack's admin key in --data-dir).",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(envvar="RAGBUS_DATA_DIR", help="Where `ragbus up` keeps its state.")
    ] = Path(".ragbus"),
) -> None:
    """Serve search, ask, list_documents and upload to MCP clients (agents, IDEs).

    Over HTTP the endpoint is http://HOST:PORT/mcp, and a client's own
    `Authorization: Bearer <ragbus key>` replaces the server's key.
    """
    from ragbus_tools.mcp_server import build_server
    from ragbus_tools.stack_file import api_key as recorded_key
    from ragbus_tools.stack_file import gateway_url

    gateway, key = gateway_url(data_dir, url), recorded_key(data_dir, api_key)
    if key is None and transport == "stdio":
        raise CliError(
            EXIT_AUTH,
            f"no API key: pass --api-key or set RAGBUS_API_KEY (none in {data_dir})",
        )
    if transport == "http" and (taken := _port_taken(host, port)):
        raise CliError(EXIT_PORT_TAKEN, f"port {port} on {host} is taken ({taken}); use --port")
    asyncio.run(_check(gateway, key))
    server = build_server(gateway, key)
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)


async def _check(gateway: str, key: str | None) -> None:
    """Reach the gateway once, with the key when there is one.

    Raises:
        httpx.TransportError: the gateway does not answer (exit 5).
        httpx.HTTPStatusError: it refused the key (exit 4).
    """
    from ragbus_tools.client import RagbusClient

    async with RagbusClient(gateway, key, timeout_s=10.0) as client:
        if key is None:
            await client.health()
        else:
            await client.check_access()


def _port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound, or None when it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
