from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events_contrib.backoff import (
    DEFAULT_FACTOR,
    DEFAULT_INITIAL,
    DEFAULT_MAXIMUM,
    Backoff,
    compute_backoff,
)
from events_contrib.errors import ConfigurationError

attempts = st.integers(min_value=1, max_value=10_000)
draws = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def backoffs(draw: st.DrawFn, jitter: bool | None = None) -> Backoff:
    initial = draw(st.floats(min_value=0.0, max_value=1e6))
    factor = draw(st.floats(min_value=1.0, max_value=100.0))
    maximum = draw(st.floats(min_value=initial, max_value=1e9))
    with_jitter = draw(st.booleans()) if jitter is None else jitter
    return Backoff(initial=initial, factor=factor, maximum=maximum, jitter=with_jitter)


def base_of(attempt: int, backoff: Backoff) -> float:
    return compute_backoff(attempt, dataclasses.replace(backoff, jitter=False))


def test_defaults_are_the_module_constants() -> None:
    assert Backoff() == Backoff(DEFAULT_INITIAL, DEFAULT_FACTOR, DEFAULT_MAXIMUM, jitter=True)


def test_the_wait_doubles_from_one_second_without_jitter() -> None:
    steady = Backoff(jitter=False)
    assert [compute_backoff(n, steady) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_the_wait_stops_at_the_maximum() -> None:
    assert compute_backoff(20, Backoff(maximum=60.0, jitter=False)) == 60.0


@given(attempts, backoffs(jitter=True), draws)
def test_a_jittered_wait_lies_between_half_the_base_and_the_base(
    attempt: int, backoff: Backoff, draw: float
) -> None:
    base = base_of(attempt, backoff)
    assert base / 2 <= compute_backoff(attempt, backoff, lambda: draw) <= base


@given(st.integers(min_value=1, max_value=60), backoffs(jitter=False))
def test_a_wait_without_jitter_is_exactly_the_capped_exponential(
    attempt: int, backoff: Backoff
) -> None:
    expected = min(backoff.maximum, backoff.initial * backoff.factor ** (attempt - 1))
    assert compute_backoff(attempt, backoff) == expected


@given(attempts, backoffs(), draws)
def test_a_wait_is_never_above_the_maximum_nor_negative(
    attempt: int, backoff: Backoff, draw: float
) -> None:
    assert 0.0 <= compute_backoff(attempt, backoff, lambda: draw) <= backoff.maximum


@given(attempts, backoffs(jitter=False))
def test_waits_without_jitter_never_shrink_as_attempts_grow(
    attempt: int, backoff: Backoff
) -> None:
    assert compute_backoff(attempt, backoff) <= compute_backoff(attempt + 1, backoff)


@given(attempts, backoffs(jitter=True))
def test_the_injected_rng_sets_the_jitter(attempt: int, backoff: Backoff) -> None:
    base = base_of(attempt, backoff)
    assert compute_backoff(attempt, backoff, lambda: 0.0) == base / 2
    assert compute_backoff(attempt, backoff, lambda: 1.0) == base


def test_a_seeded_rng_gives_repeatable_waits() -> None:
    first = random.Random(7)
    second = random.Random(7)
    waits = [compute_backoff(n, Backoff(), first.random) for n in range(1, 20)]
    assert waits == [compute_backoff(n, Backoff(), second.random) for n in range(1, 20)]


def test_jitter_spreads_the_waits_of_one_attempt() -> None:
    seeded = random.Random(1)
    assert len({compute_backoff(4, Backoff(), seeded.random) for _ in range(20)}) > 1


@pytest.mark.parametrize("attempt", [10**4, 10**6, 10**400])
def test_huge_attempt_numbers_give_the_maximum_without_overflow(attempt: int) -> None:
    assert compute_backoff(attempt, Backoff(jitter=False)) == DEFAULT_MAXIMUM
    assert compute_backoff(attempt, Backoff(factor=1.001, jitter=False)) == DEFAULT_MAXIMUM


@pytest.mark.parametrize("attempt", [1, 10**400])
def test_a_factor_of_one_keeps_the_initial_wait(attempt: int) -> None:
    assert compute_backoff(attempt, Backoff(initial=3.0, factor=1.0, jitter=False)) == 3.0


@pytest.mark.parametrize("attempt", [1, 10**400])
def test_a_zero_initial_wait_stays_zero(attempt: int) -> None:
    assert compute_backoff(attempt, Backoff(initial=0.0, jitter=False)) == 0.0


def test_a_tiny_initial_wait_with_a_huge_maximum_does_not_overflow() -> None:
    backoff = Backoff(initial=5e-324, factor=2.0, maximum=1e308, jitter=False)
    assert compute_backoff(5000, backoff) == 1e308


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempts_start_at_one(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        compute_backoff(attempt, Backoff())


@pytest.mark.parametrize("attempt", [1.0, "1", True, None])
def test_an_attempt_must_be_an_int(attempt: object) -> None:
    with pytest.raises(TypeError, match="attempt must be an int"):
        compute_backoff(attempt, Backoff())  # type: ignore[arg-type]


@pytest.mark.parametrize("draw", [-0.1, 1.5, math.nan])
def test_an_rng_outside_zero_to_one_is_refused(draw: float) -> None:
    with pytest.raises(ValueError, match=r"rng must return a float in \[0, 1\]"):
        compute_backoff(1, Backoff(), lambda: draw)


def test_integers_are_stored_as_floats() -> None:
    backoff = Backoff(initial=2, factor=3, maximum=10)
    assert (backoff.initial, backoff.factor, backoff.maximum) == (2.0, 3.0, 10.0)
    assert all(type(v) is float for v in (backoff.initial, backoff.factor, backoff.maximum))


def test_a_backoff_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Backoff().initial = 5.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "setting", "problem"),
    [
        ({"initial": -1.0}, "Backoff.initial", "must be >= 0"),
        ({"factor": 0.5}, "Backoff.factor", "must be >= 1"),
        ({"initial": 10.0, "maximum": 5.0}, "Backoff.maximum", "must be >= initial"),
        ({"initial": math.inf}, "Backoff.initial", "must be finite"),
        ({"maximum": math.nan}, "Backoff.maximum", "must be finite"),
        ({"factor": math.inf}, "Backoff.factor", "must be finite"),
        ({"initial": True}, "Backoff.initial", "must be a number"),
        ({"factor": "2"}, "Backoff.factor", "must be a number"),
        ({"maximum": None}, "Backoff.maximum", "must be a number"),
        ({"jitter": 1}, "Backoff.jitter", "must be a bool"),
    ],
)
def test_invalid_backoffs_name_the_field_and_the_problem(
    kwargs: dict[str, object], setting: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        Backoff(**kwargs)  # type: ignore[arg-type]
    assert caught.value.setting == setting
