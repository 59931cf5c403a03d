"""`is_async_callable` and `callable_ref`: what a handler learns about a callable."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from events_core import EventHandler
from events_core.callables import callable_ref, is_async_callable


async def async_function(value: int) -> int:
    return value


def sync_function(value: int) -> int:
    return value


class AsyncCallable:
    async def __call__(self, value: int) -> int:
        return value

    async def method(self, value: int) -> int:
        return value


class SyncCallable:
    def __call__(self, value: int) -> int:
        return value


async_instance = AsyncCallable()
sync_instance = SyncCallable()
async_partial = functools.partial(async_function, 1)
nested_partial = functools.partial(functools.partial(AsyncCallable(), 1))


@pytest.mark.parametrize(
    "obj",
    [
        async_function,
        AsyncCallable(),
        AsyncCallable().method,
        AsyncCallable.method,
        functools.partial(async_function, 1),
        functools.partial(AsyncCallable(), 1),
        functools.partial(functools.partial(async_function), 1),
        functools.partial(functools.partial(AsyncCallable()), 1),
    ],
    ids=repr,
)
def test_coroutine_functions_async_call_objects_and_their_partials_are_async(obj: Any) -> None:
    assert is_async_callable(obj)
    assert EventHandler(obj).is_async
    assert not EventHandler(obj).runs_inline


@pytest.mark.parametrize(
    "obj",
    [
        sync_function,
        SyncCallable(),
        functools.partial(sync_function, 1),
        functools.partial(SyncCallable(), 1),
        AsyncCallable,
        print,
        lambda: None,
    ],
    ids=repr,
)
def test_sync_callables_and_classes_are_not_async(obj: Any) -> None:
    assert not is_async_callable(obj)


def test_async_success_and_failure_callbacks_are_detected_when_the_handler_is_made() -> None:
    assert not EventHandler(sync_function, success_callback=AsyncCallable()).runs_inline
    assert not EventHandler(sync_function, failure_callback=async_partial).runs_inline
    assert EventHandler(sync_function, SyncCallable(), SyncCallable()).runs_inline


def test_a_module_level_instance_is_named_by_the_attribute_holding_it() -> None:
    assert callable_ref(async_instance) == "tests.events_core.test_callables:async_instance"
    assert callable_ref(sync_instance) == "tests.events_core.test_callables:sync_instance"


def test_a_module_level_partial_is_named_by_the_attribute_holding_it() -> None:
    assert callable_ref(async_partial) == "tests.events_core.test_callables:async_partial"
    assert callable_ref(nested_partial) == "tests.events_core.test_callables:nested_partial"


def test_an_instance_without_a_module_level_name_is_named_by_its_class() -> None:
    assert callable_ref(AsyncCallable()) == "tests.events_core.test_callables:AsyncCallable"


def test_a_partial_without_a_module_level_name_is_named_like_what_it_wraps() -> None:
    assert callable_ref(functools.partial(async_function, 2)) == (
        "tests.events_core.test_callables:async_function"
    )
    assert callable_ref(functools.partial(functools.partial(async_instance), 2)) == (
        "tests.events_core.test_callables:async_instance"
    )
