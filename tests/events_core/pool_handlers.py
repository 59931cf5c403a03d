"""Module-level handlers and events that pickle, for process pools and pickling tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OrderPlaced:
    """A class event defined at module level, so it pickles by reference."""

    order_id: int


def record_pid(*args: object, path: str, label: str = "handled") -> str:
    """Append `label` and the current process id to the file at `path`."""
    with Path(path).open("a") as file:
        file.write(f"{label} {os.getpid()}\n")
    return label


def fail(*args: object, path: str, label: str = "failed") -> None:
    """Record the call like `record_pid`, then raise."""
    record_pid(*args, path=path, label=label)
    raise RuntimeError("handler failed on purpose")


def double(value: int) -> int:
    """Return twice `value`."""
    return value * 2


def order_id(event: OrderPlaced) -> int:
    """Return the order id of an `OrderPlaced` event."""
    return event.order_id
