"""The model's FIFO lock: tenant lanes and ``texts.embed`` requests take turns on it."""

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ModelLock:
    """A FIFO lock on the embedding model: whoever asked first goes first.

    ``asyncio.Lock`` wakes its waiters in the order they came, so a lane that just
    embedded and asks again queues behind every lane already waiting, which is what
    makes the lanes round-robin (weighted fair queueing with equal weights).
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this caller's turn on the model and hold it for the body."""
        async with self._lock:
            yield
