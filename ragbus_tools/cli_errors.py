"""How the ``ragbus`` command line ends: one line saying what to do, and a documented code.

Every error a person can cause or meet (a bad argument, a stack that is not
running, a refused key, a taken port) becomes one line on stderr that starts with
``error:`` and says what to do next, and the process exits with one of the codes
below (also in the README). Nothing prints a traceback unless ``RAGBUS_DEBUG=1``.

=====  ================================================================
code   meaning
=====  ================================================================
0      done
1      done, but not everything succeeded (a document failed, no answer
       was found, a replica is not ready)
2      bad usage: an unknown option, a missing or invalid argument, a
       file that does not exist, a setting this machine cannot honour
       (``RAGBUS_EMBED_DEVICE=cuda`` without a usable GPU)
3      the port ``ragbus up`` (or ``ragbus mcp --transport http``) needs
       is taken
4      refused credentials: no API key, an unknown, revoked or expired
       one (401), or a role that may not do this (403)
5      cannot reach the stack: the gateway or NATS is down, or the URL is
       wrong
6      the stack refused or failed the request (another 4xx or 5xx; the
       line carries the gateway's reason)
7      an unexpected error, a bug (``RAGBUS_DEBUG=1`` shows the traceback)
=====  ================================================================
"""

import os
import sys
from collections.abc import Callable
from typing import Any

import httpx
import typer

from ragbus.errors import EmbeddingDeviceError

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_PORT_TAKEN = 3
EXIT_AUTH = 4
EXIT_UNREACHABLE = 5
EXIT_REFUSED = 6
EXIT_BUG = 7

MAX_LINE = 400
"""Longest error line, in characters; a longer reason is cut."""


class CliError(Exception):
    """An error the CLI reports as one line with its own exit code.

    Args:
        code: One of the ``EXIT_*`` codes.
        message: What went wrong and what to do, without the ``error:`` prefix.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def run_cli(app: Callable[..., Any], args: list[str] | None = None) -> int:
    """Run the typer ``app`` on ``args`` (default ``sys.argv[1:]``); returns the exit code.

    Errors are printed by :func:`explain` as one line on stderr; ``--help`` and
    a command's own output are untouched.
    """
    try:
        result = app(args=args, standalone_mode=False, prog_name="ragbus")
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help (printed)
            if exc.format_message().strip():
                print(exc.format_message(), file=sys.stderr)
            return EXIT_USAGE
        code, line = explain(exc)
        print(one_line(f"error: {line}"), file=sys.stderr, flush=True)
        return code
    except typer.Abort:
        return 130
    except Exception as exc:
        if os.environ.get("RAGBUS_DEBUG"):
            raise
        code, line = explain(exc)
        print(one_line(f"error: {line}"), file=sys.stderr, flush=True)
        return code
    return result if isinstance(result, int) else EXIT_OK


def one_line(text: str) -> str:
    """``text`` on one line (newlines become spaces), at most :data:`MAX_LINE` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_LINE else flat[: MAX_LINE - 1] + "…"


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit code and the line (without ``error:``) for an exception a command raised."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return explain(exc.exceptions[0])
    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, typer.TyperException):  # click's usage errors (typer vendors click)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "ragbus"
        return EXIT_USAGE, f"{exc.format_message()} (see `{where} --help`)"
    if isinstance(exc, httpx.HTTPStatusError):
        return _refused(exc.response)
    if isinstance(exc, httpx.TransportError):
        return EXIT_UNREACHABLE, _unreachable(exc)
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, EmbeddingDeviceError):  # RAGBUS_EMBED_DEVICE asks for what is not here
        return EXIT_USAGE, str(exc)
    if _is_nats_unreachable(exc):
        return EXIT_UNREACHABLE, (
            f"cannot reach NATS ({type(exc).__name__}): start the stack with `ragbus up`,"
            " or pass --nats-url / set NATS_URL"
        )
    return EXIT_BUG, (
        f"unexpected {type(exc).__name__}: {exc} (a bug: RAGBUS_DEBUG=1 shows the traceback)"
    )


def _unreachable(exc: httpx.TransportError) -> str:
    try:
        url = str(exc.request.url.copy_with(path="/", query=None)).rstrip("/")
    except RuntimeError:  # no request attached
        url = "the gateway"
    reason = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
    return (
        f"cannot reach the gateway at {url} ({reason}): start the stack with `ragbus up`,"
        " or pass --url / set RAGBUS_URL (default: the stack recorded in --data-dir)"
    )


def _refused(response: httpx.Response) -> tuple[int, str]:
    code, detail = _reason(response)
    status = response.status_code
    if status == 401:
        if code == "missing_credentials":
            return EXIT_AUTH, (
                "no API key was sent: pass --api-key or set RAGBUS_API_KEY (a stack started"
                " with `ragbus up` keeps its admin key in --data-dir)"
            )
        return EXIT_AUTH, (
            f"the gateway refused the API key ({code or status}: {detail}): pass a valid one"
            " with --api-key or RAGBUS_API_KEY (`ragbus keys create` makes one)"
        )
    if status == 403:
        return EXIT_AUTH, f"the API key's role may not do this ({detail}): use an admin key"
    return EXIT_REFUSED, f"the gateway answered {status}: {detail}"


def _reason(response: httpx.Response) -> tuple[str | None, str]:
    """``(code, message)`` of a refusal in ragbus's or OpenAI's error shape."""
    try:
        body = response.json()
    except httpx.ResponseNotRead:  # a streamed response read no further than its status
        return None, response.reason_phrase
    except ValueError:
        return None, response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return error.get("code"), str(error.get("message"))
    if isinstance(body, dict):
        return body.get("code"), str(body.get("detail", body))
    return None, str(body)


def _is_nats_unreachable(exc: BaseException) -> bool:
    import nats.errors

    unreachable = (
        nats.errors.NoServersError,
        nats.errors.ConnectionClosedError,
        nats.errors.TimeoutError,
        ConnectionRefusedError,
    )
    return isinstance(exc, unreachable)
