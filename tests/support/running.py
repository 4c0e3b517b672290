"""Start something for the length of a test and always stop it: servers and worker threads."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from tests.services import Service

S = TypeVar("S", bound=Service)


def serving(server: S, *, timeout_s: float = 60.0) -> Iterator[S]:
    """Start ``server``, yield it, stop it; a fixture body is ``yield from serving(...)``."""
    server.start(timeout_s=timeout_s)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running(run: Callable[[threading.Event], object]) -> Iterator[threading.Thread]:
    """Run ``run(stop)`` in a thread inside the ``with`` block; set ``stop`` and join after it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(30)


def adherence_argv(*args: str) -> list[str]:
    """The ``adherence`` command as a subprocess argument list (this interpreter, this checkout)."""
    return [sys.executable, "-m", "adherence.cli", *args]
