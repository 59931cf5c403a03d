"""Fixtures shared by the events-core tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from events_core import EventLinker

_numbers = itertools.count(1)


@pytest.fixture
def linker() -> Iterator[type[EventLinker]]:
    """A fresh `EventLinker` subclass: an isolated namespace for one test."""
    cls = type(f"TestLinker{next(_numbers)}", (EventLinker,), {})
    yield cls
    cls.remove_all()
