"""The event loop that runs a worker's async handlers.

One loop per process (per thread, with a threads pool), made once and reused for every
message, except in the thread that runs Celery's consumer (the solo pool): a loop left open
there between messages stalls kombu's hub on RabbitMQ for seconds at a time, so each run gets a
loop of its own and closes it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loops = threading.local()
_consumer: tuple[int, int] | None = None
"""(pid, thread id) of the thread that runs the worker's consumer, once it started."""


def mark_consumer_thread() -> None:
    """Record the calling thread as the one that runs the worker's consumer."""
    global _consumer
    _consumer = (os.getpid(), threading.get_ident())


def worker_loop() -> asyncio.AbstractEventLoop:
    """The event loop of this worker process (of this thread, with a threads pool)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None or getattr(_loops, "pid", None) != os.getpid() or loop.is_closed():
        loop = asyncio.new_event_loop()
        _loops.loop, _loops.pid = loop, os.getpid()
    return loop


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to its end: on the worker loop, or on a loop of its own in the consumer's
    thread."""
    if _consumer == (os.getpid(), threading.get_ident()):
        return asyncio.run(work)
    return worker_loop().run_until_complete(work)
