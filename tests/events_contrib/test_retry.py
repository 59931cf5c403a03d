from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest

from events_contrib.backoff import Backoff, compute_backoff
from events_contrib.errors import ConfigurationError
from events_contrib.retry import RETRY_OPTION, RetryPolicy, policy_for, retry
from events_core import EventLinker
from events_core.handler import OPTIONS_ATTRIBUTE


class Transient(Exception):
    pass


class Permanent(Transient):
    pass


def fresh_linker() -> type[EventLinker]:
    class Linker(EventLinker):
        pass

    return Linker


# RetryPolicy --------------------------------------------------------------------------


def test_the_default_policy_tries_three_times_on_any_exception() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 3
    assert policy.backoff == Backoff()
    assert policy.retry_on == (Exception,)
    assert policy.give_up_on == ()


def test_a_single_class_or_a_list_becomes_a_tuple() -> None:
    policy = RetryPolicy(retry_on=Transient, give_up_on=[KeyError, Permanent])  # type: ignore[arg-type]
    assert policy.retry_on == (Transient,)
    assert policy.give_up_on == (KeyError, Permanent)
    assert policy == RetryPolicy(retry_on=(Transient,), give_up_on=(KeyError, Permanent))


def test_a_policy_is_frozen_and_hashable() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 5  # type: ignore[misc]
    assert hash(policy) == hash(RetryPolicy())


@pytest.mark.parametrize(
    ("kwargs", "setting", "problem"),
    [
        ({"max_attempts": 0}, "RetryPolicy.max_attempts", "must be an int >= 1"),
        ({"max_attempts": -3}, "RetryPolicy.max_attempts", "must be an int >= 1"),
        ({"max_attempts": 2.0}, "RetryPolicy.max_attempts", "must be an int >= 1"),
        ({"max_attempts": True}, "RetryPolicy.max_attempts", "must be an int >= 1"),
        ({"backoff": 1.0}, "RetryPolicy.backoff", "must be a Backoff"),
        ({"retry_on": "ValueError"}, "RetryPolicy.retry_on", "must be an exception class"),
        ({"retry_on": (ValueError, int)}, "RetryPolicy.retry_on", "is not an exception class"),
        ({"retry_on": ValueError("x")}, "RetryPolicy.retry_on", "must be an exception class"),
        ({"give_up_on": int}, "RetryPolicy.give_up_on", "is not an exception class"),
        ({"give_up_on": {KeyError}}, "RetryPolicy.give_up_on", "must be an exception class"),
    ],
)
def test_invalid_policies_name_the_field_and_the_problem(
    kwargs: dict[str, Any], setting: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        RetryPolicy(**kwargs)
    assert caught.value.setting == setting


def test_a_policy_retries_until_the_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(1, Transient())
    assert policy.should_retry(2, Transient())
    assert not policy.should_retry(3, Transient())
    assert not policy.should_retry(4, Transient())


def test_one_attempt_never_retries() -> None:
    assert not RetryPolicy(max_attempts=1).should_retry(1, Transient())


def test_only_exceptions_in_retry_on_are_retried() -> None:
    policy = RetryPolicy(retry_on=(Transient,))
    assert policy.should_retry(1, Transient())
    assert policy.should_retry(1, Permanent())
    assert not policy.should_retry(1, ValueError())
    assert policy.gives_up_on(ValueError())


def test_give_up_on_wins_over_retry_on() -> None:
    policy = RetryPolicy(retry_on=(Transient,), give_up_on=(Permanent,))
    assert not policy.should_retry(1, Permanent())
    assert policy.gives_up_on(Permanent())
    assert not policy.gives_up_on(Transient())


def test_base_exceptions_outside_exception_are_not_retried_by_default() -> None:
    assert not RetryPolicy().should_retry(1, KeyboardInterrupt())


def test_should_retry_refuses_attempts_below_one() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        RetryPolicy().should_retry(0, Transient())


def test_the_delay_comes_from_the_backoff() -> None:
    policy = RetryPolicy(backoff=Backoff(initial=2.0, factor=3.0, maximum=100.0))
    assert policy.delay(3, lambda: 1.0) == 18.0
    assert policy.delay(3, lambda: 0.0) == 9.0
    assert policy.delay(3, lambda: 0.5) == compute_backoff(3, policy.backoff, lambda: 0.5)


# retry decorator ----------------------------------------------------------------------


def test_the_decorator_stores_the_policy_and_returns_the_same_function() -> None:
    def handler() -> None: ...

    decorated = retry(max_attempts=5, retry_on=Transient)(handler)
    assert decorated is handler
    stored = getattr(handler, OPTIONS_ATTRIBUTE)[RETRY_OPTION]
    assert stored == RetryPolicy(max_attempts=5, retry_on=(Transient,))


def test_the_decorator_takes_the_arguments_of_retry_policy() -> None:
    backoff = Backoff(initial=0.5, jitter=False)

    @retry(4, backoff, [Transient], Permanent)
    def handler() -> None: ...

    assert getattr(handler, OPTIONS_ATTRIBUTE)[RETRY_OPTION] == RetryPolicy(
        4, backoff, (Transient,), (Permanent,)
    )


def test_the_decorator_works_below_on() -> None:
    linker = fresh_linker()

    @linker.on("x")
    @retry(max_attempts=7)
    def handler() -> None: ...

    assert linker.get_event_handlers("x")[0].options["retry"] == RetryPolicy(max_attempts=7)


def test_the_decorator_works_above_on() -> None:
    linker = fresh_linker()

    @retry(max_attempts=7)
    @linker.on("x")
    def handler() -> None: ...

    assert linker.get_event_handlers("x")[0].options["retry"] == RetryPolicy(max_attempts=7)


def test_the_decorator_keeps_other_options() -> None:
    def handler() -> None: ...

    setattr(handler, OPTIONS_ATTRIBUTE, {"other": 1})
    retry()(handler)
    assert getattr(handler, OPTIONS_ATTRIBUTE) == {"other": 1, RETRY_OPTION: RetryPolicy()}


def test_the_decorator_never_shares_options_between_functions() -> None:
    @retry(max_attempts=2)
    def inner() -> None: ...

    @retry(max_attempts=9)
    @functools.wraps(inner)
    def outer() -> None: ...

    assert getattr(inner, OPTIONS_ATTRIBUTE)[RETRY_OPTION].max_attempts == 2
    assert getattr(outer, OPTIONS_ATTRIBUTE)[RETRY_OPTION].max_attempts == 9


def test_a_bare_retry_decorator_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match=r"write @retry\(\) with parentheses"):

        @retry  # type: ignore[arg-type]
        def handler() -> None: ...


def test_the_decorator_validates_its_arguments_at_once() -> None:
    with pytest.raises(ConfigurationError, match="max_attempts"):
        retry(max_attempts=0)
    with pytest.raises(ConfigurationError, match="retry_on"):
        retry(retry_on=(int,))  # type: ignore[arg-type]


def test_the_decorator_refuses_what_cannot_hold_options() -> None:
    with pytest.raises(ConfigurationError, match="retry: cannot store an option"):
        retry()(len)


# policy_for ---------------------------------------------------------------------------


FIVE = RetryPolicy(max_attempts=5)
ORDERS = RetryPolicy(max_attempts=4)
EXACT = RetryPolicy(max_attempts=2)


def test_a_handler_policy_wins_over_the_settings() -> None:
    options = {RETRY_OPTION: FIVE}
    assert policy_for(options, "order.placed", ORDERS) is FIVE
    assert policy_for(options, "order.placed", {"order.*": ORDERS}) is FIVE
    assert policy_for(options, "order.placed", None) is FIVE


def test_a_single_settings_policy_applies_to_every_event() -> None:
    assert policy_for({}, "anything", ORDERS) is ORDERS


def test_no_policy_means_no_retry() -> None:
    assert policy_for({}, "order.placed", None) is None
    assert policy_for({}, "user.created", {"order.*": ORDERS}) is None


def test_an_exact_settings_key_wins_over_a_glob() -> None:
    settings = {"order.*": ORDERS, "order.placed": EXACT}
    assert policy_for({}, "order.placed", settings) is EXACT
    assert policy_for({}, "order.paid", settings) is ORDERS


def test_the_first_matching_settings_glob_wins() -> None:
    settings = {"order.p*": EXACT, "order.*": ORDERS, "*": FIVE}
    assert policy_for({}, "order.placed", settings) is EXACT
    assert policy_for({}, "order.shipped", settings) is ORDERS
    assert policy_for({}, "user.created", settings) is FIVE


def test_settings_globs_are_case_sensitive() -> None:
    assert policy_for({}, "Order.placed", {"order.*": ORDERS}) is None


def test_a_class_event_is_matched_by_its_wire_name() -> None:
    settings = {"shop.events:*": ORDERS}
    assert policy_for({}, "shop.events:OrderPlaced", settings) is ORDERS


@dataclass(frozen=True)
class Placed:
    """A class event."""

    order_id: int


@dataclass(frozen=True)
class ExpressPlaced(Placed):
    """A subclass event: a policy for Placed covers it."""


def test_a_class_event_instance_follows_its_mro_before_globs() -> None:
    base, own = f"{__name__}:Placed", f"{__name__}:ExpressPlaced"

    assert policy_for({}, ExpressPlaced(1), {base: ORDERS}) is ORDERS
    assert policy_for({}, ExpressPlaced(1), {base: ORDERS, own: EXACT}) is EXACT
    assert policy_for({}, ExpressPlaced(1), {"*Express*": FIVE, base: ORDERS}) is ORDERS
    assert policy_for({}, Placed(1), {"*Express*": FIVE}) is None


def test_a_handler_option_that_is_not_a_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="expected a RetryPolicy") as caught:
        policy_for({RETRY_OPTION: 3}, "x", None)
    assert caught.value.setting == RETRY_OPTION


def test_a_settings_value_that_is_not_a_policy_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="expected a RetryPolicy") as caught:
        policy_for({}, "order.placed", {"order.*": {"max_attempts": 3}})  # type: ignore[dict-item]
    assert caught.value.setting == "events_retry"


def test_a_settings_shape_that_is_neither_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a RetryPolicy or a mapping"):
        policy_for({}, "x", 3)  # type: ignore[arg-type]
