"""A local OpenAI-compatible chat server for the retrieval techniques' tests.

It answers by the system prompt: retrieve_svc's multi-query prompt gets
:data:`REWRITES`, anything else (the HyDE prompt) :data:`DRAFT`; a user message
containing ``BROKEN`` gets a 500, one containing ``EMPTY`` an empty reply. Every
request body is recorded.
"""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

REWRITES = "1. emperor colonies on antarctic sea ice\n2. flightless seabird habitat\n3. penguins"
DRAFT = "Emperor penguins breed on the antarctic sea ice through the polar winter."


class FakeLLM:
    """The app and the requests it received (``requests``, oldest first)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
            if "BROKEN" in user:
                return JSONResponse({"error": {"message": "upstream exploded"}}, 500)
            content = REWRITES if "search queries" in system else DRAFT
            if "EMPTY" in user:
                content = ""
            message = {"role": "assistant", "content": content}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
            return {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [choice], "usage": usage}  # fmt: skip

        return app


@contextlib.contextmanager
def serve_fake_llm() -> Iterator[tuple[str, FakeLLM]]:
    """Serve a :class:`FakeLLM` on a free 127.0.0.1 port; yields its ``/v1`` URL and it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeLLM()
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "fake LLM did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
