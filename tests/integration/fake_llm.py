"""A local OpenAI-compatible chat server for the retrieval techniques' tests.

It answers by the system prompt: retrieve_svc's multi-query prompt gets
:data:`REWRITES`, anything else (the HyDE prompt) :data:`DRAFT`; a user message
containing ``BROKEN`` gets a 500, one containing ``EMPTY`` an empty reply; a
streamed request (an answer) gets the server's ``answer``. Every request body is
recorded.
"""

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

REWRITES = "1. emperor colonies on antarctic sea ice\n2. flightless seabird habitat\n3. penguins"
DRAFT = "Emperor penguins breed on the antarctic sea ice through the polar winter."


class FakeLLM:
    """The app and the requests it received (``requests``, oldest first).

    A streamed request (``"stream": true``, generate_svc's answers) gets ``answer``
    as OpenAI ``chat.completion.chunk`` events, one per word, then usage.
    """

    def __init__(self, answer: str = DRAFT) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer = answer

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
            if "BROKEN" in user:
                return JSONResponse({"error": {"message": "upstream exploded"}}, 500)
            if body.get("stream"):
                return StreamingResponse(self._chunks(), media_type="text/event-stream")
            content = REWRITES if "search queries" in system else DRAFT
            if "EMPTY" in user:
                content = ""
            message = {"role": "assistant", "content": content}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
            return {"id": "c", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [choice], "usage": usage}  # fmt: skip

        return app

    async def _chunks(self) -> AsyncIterator[str]:
        head = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
        for i, word in enumerate(self.answer.split(" ")):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": " " + word}
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            yield f"data: {json.dumps({**head, 'choices': [choice]})}\n\n"
        stop = {"index": 0, "delta": {}, "finish_reason": "stop"}
        yield f"data: {json.dumps({**head, 'choices': [stop]})}\n\n"
        usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage})}\n\ndata: [DONE]\n\n"


@contextlib.contextmanager
def serve_fake_llm(answer: str = DRAFT) -> Iterator[tuple[str, FakeLLM]]:
    """Serve a :class:`FakeLLM` on a free 127.0.0.1 port; yields its ``/v1`` URL and it.

    Args:
        answer: What streamed requests (answers) get.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeLLM(answer)
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
