from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from events_contrib.errors import ConfigurationError
from events_contrib.routing import Router
from events_core.errors import InvalidEventError
from events_core.events import class_path


@dataclasses.dataclass
class OrderPlaced:
    order_id: int = 1


@dataclasses.dataclass
class RushOrderPlaced(OrderPlaced):
    pass


class PaymentFailed(Exception):
    pass


class CardDeclined(PaymentFailed):
    pass


class NotAnEvent:
    pass


# route_for ----------------------------------------------------------------------------


def test_an_exact_name_wins_over_an_earlier_glob() -> None:
    router = Router({"order.*": "orders", "order.placed": "placed"})
    assert router.route_for("order.placed") == "placed"
    assert router.route_for("order.paid") == "orders"


def test_the_first_matching_glob_wins() -> None:
    router = Router({"order.p*": "p", "order.*": "orders", "*": "all"})
    assert router.route_for("order.placed") == "p"
    assert router.route_for("order.shipped") == "orders"
    assert router.route_for("user.created") == "all"


@pytest.mark.parametrize(
    ("glob", "name"), [("order.?aid", "order.paid"), ("order.[ps]*", "order.shipped")]
)
def test_question_marks_and_brackets_are_globs(glob: str, name: str) -> None:
    assert Router({glob: "q"}).route_for(name) == "q"


def test_globs_are_case_sensitive_and_match_whole_names() -> None:
    router = Router({"order.*": "orders"})
    assert router.route_for("Order.placed") == "events"
    assert router.route_for("big.order.placed") == "events"


def test_an_unrouted_event_goes_to_the_default_queue() -> None:
    assert Router().route_for("anything") == "events"
    assert Router({"order.*": "orders"}, default="misc").route_for("user.created") == "misc"


def test_a_class_key_routes_its_instances() -> None:
    router = Router({OrderPlaced: "orders", PaymentFailed: "payments"})
    assert router.route_for(OrderPlaced()) == "orders"
    assert router.route_for(PaymentFailed("no funds")) == "payments"


def test_a_class_key_routes_instances_of_subclasses() -> None:
    router = Router({OrderPlaced: "orders", PaymentFailed: "payments"})
    assert router.route_for(RushOrderPlaced()) == "orders"
    assert router.route_for(CardDeclined()) == "payments"


def test_the_nearest_class_in_the_mro_wins() -> None:
    router = Router({PaymentFailed: "payments", CardDeclined: "cards"})
    assert router.route_for(CardDeclined()) == "cards"
    assert router.route_for(PaymentFailed()) == "payments"


def test_a_route_for_exception_covers_every_exception_event() -> None:
    assert Router({Exception: "errors"}).route_for(CardDeclined()) == "errors"


def test_a_class_is_routed_by_its_wire_name() -> None:
    router = Router({class_path(OrderPlaced): "orders"})
    assert router.route_for(OrderPlaced()) == "orders"
    assert router.route_for(class_path(OrderPlaced)) == "orders"
    assert Router({OrderPlaced: "orders"}).routes == {class_path(OrderPlaced): "orders"}


def test_globs_match_an_instance_by_its_own_wire_name() -> None:
    router = Router({f"{__name__}:Rush*": "rush", f"{__name__}:*": "here"})
    assert router.route_for(RushOrderPlaced()) == "rush"
    assert router.route_for(OrderPlaced()) == "here"


def test_an_exact_class_route_wins_over_a_glob() -> None:
    router = Router({f"{__name__}:*": "here", OrderPlaced: "orders"})
    assert router.route_for(RushOrderPlaced()) == "orders"


def test_a_string_event_is_never_matched_along_an_mro() -> None:
    assert Router({OrderPlaced: "orders"}).route_for(class_path(RushOrderPlaced)) == "events"


def test_a_queue_mapping_is_a_queue_name() -> None:
    router = Router({"email.sent": {"queue": "emails"}, OrderPlaced: {"queue": "orders"}})
    assert router.route_for("email.sent") == "emails"
    assert router.routes == {"email.sent": "emails", class_path(OrderPlaced): "orders"}


@pytest.mark.parametrize("event", [None, "", 42, OrderPlaced, NotAnEvent()])
def test_route_for_refuses_what_is_not_an_event(event: object) -> None:
    with pytest.raises(InvalidEventError):
        Router().route_for(event)


# the router as a value ----------------------------------------------------------------


def test_queues_lists_every_queue_and_the_default() -> None:
    router = Router({"a": "one", "b.*": {"queue": "two"}, OrderPlaced: "one"}, default="dflt")
    assert router.queues() == frozenset({"one", "two", "dflt"})
    assert Router().queues() == frozenset({"events"})


def test_routes_is_a_read_only_view_in_the_order_given() -> None:
    router = Router({"b.*": "two", "a": "one"})
    assert list(router.routes.items()) == [("b.*", "two"), ("a", "one")]
    with pytest.raises(TypeError):
        router.routes["c"] = "three"  # type: ignore[index]


def test_routers_are_equal_when_they_route_alike() -> None:
    assert Router({"a": "1", "b": "2"}) == Router({"b": "2", "a": "1"})
    assert Router({"a": "1"}) == Router({"a": {"queue": "1"}})
    assert Router({OrderPlaced: "o"}) == Router({class_path(OrderPlaced): "o"})
    assert hash(Router({"a": "1", "b": "2"})) == hash(Router({"b": "2", "a": "1"}))


def test_routers_differ_when_glob_order_or_default_differs() -> None:
    assert Router({"a*": "1", "ab*": "2"}) != Router({"ab*": "2", "a*": "1"})
    assert Router(default="x") != Router(default="y")
    assert Router() != {"default": "events"}


def test_the_repr_shows_the_routes_and_the_default() -> None:
    router = Router({"order.*": {"queue": "orders"}}, default="misc")
    assert repr(router) == "Router({'order.*': 'orders'}, default='misc')"


# invalid routes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "problem"),
    [
        ({"": "q"}, "a route key is empty"),
        ({42: "q"}, "route key 42 is not an event name"),
        ({None: "q"}, "route key None is not an event name"),
        ({NotAnEvent: "q"}, "NotAnEvent'> is not an event name, a glob or an event class"),
        ({...: "q"}, "route key Ellipsis is not an event name"),
        ({"a": ""}, r"the route for 'a' must name a queue .*got ''"),
        ({"a": 3}, r"the route for 'a' must name a queue .*got 3"),
        ({"a": None}, r"the route for 'a' must name a queue .*got None"),
        ({"a": ["q"]}, r"the route for 'a' must name a queue .*got \['q'\]"),
        ({"a": {}}, "route for 'a' has no 'queue'"),
        ({"a": {"queue": ""}}, r"the route for 'a' must name a queue .*got ''"),
        ({"a": {"queue": "q", "priority": 5}}, "has option.* 'priority': only 'queue'"),
        ({"a": {"routing_key": "r"}}, "has option.* 'routing_key': only 'queue'"),
        ({OrderPlaced: "one", class_path(OrderPlaced): "two"}, "is routed twice"),
    ],
)
def test_invalid_routes_name_the_bad_key_or_value(routes: Any, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        Router(routes)
    assert caught.value.setting == "events_routes"


def test_the_same_route_given_twice_is_accepted() -> None:
    assert Router({OrderPlaced: "one", class_path(OrderPlaced): "one"}).queues() == {
        "one",
        "events",
    }


@pytest.mark.parametrize("routes", [["a", "b"], "a=b", 3])
def test_routes_must_be_a_mapping(routes: Any) -> None:
    with pytest.raises(ConfigurationError, match="must be a mapping of events to queues"):
        Router(routes)


@pytest.mark.parametrize("default", ["", None, 3])
def test_the_default_must_be_a_queue_name(default: Any) -> None:
    with pytest.raises(ConfigurationError, match="the default queue must name a queue"):
        Router(default=default)


# TOML ---------------------------------------------------------------------------------

ROUTES_TOML = """\
default = "misc"

[routes]
"order.*" = "orders"
"email.sent" = { queue = "emails" }
"""


def write(tmp_path: Path, text: str, name: str = "routes.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_file_gives_routes_and_a_default(tmp_path: Path) -> None:
    router = Router.from_toml(write(tmp_path, ROUTES_TOML))
    assert router == Router({"order.*": "orders", "email.sent": "emails"}, default="misc")


def test_the_default_argument_wins_over_the_file(tmp_path: Path) -> None:
    assert Router.from_toml(write(tmp_path, ROUTES_TOML), default="other").default == "other"


def test_a_toml_file_without_a_default_uses_events(tmp_path: Path) -> None:
    router = Router.from_toml(str(write(tmp_path, '[routes]\n"a" = "q"\n')))
    assert router == Router({"a": "q"})


def test_an_empty_toml_file_routes_everything_to_the_default(tmp_path: Path) -> None:
    assert Router.from_toml(write(tmp_path, "")) == Router()


def test_a_missing_toml_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(
        ConfigurationError, match=r"cannot read routes file .*nope\.toml"
    ) as caught:
        Router.from_toml(missing)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_a_directory_is_not_a_toml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read routes file"):
        Router.from_toml(tmp_path)


@pytest.mark.parametrize("text", ['[routes\n"a" = "q"\n', "routes = \n", "a = 1\na = 2\n"])
def test_invalid_toml_is_named_with_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"routes.toml is not valid TOML") as caught:
        Router.from_toml(write(tmp_path, text))
    assert caught.value.__cause__ is not None


def test_a_file_that_is_not_utf8_is_not_valid_toml(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_bytes(b'[routes]\n"a" = "\xff"\n')
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        Router.from_toml(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[route]\n"a" = "q"\n', r"unknown key\(s\) \['route'\]"),
        ('queue = "q"\n', r"unknown key\(s\) \['queue'\]"),
        ('routes = "orders"\n', "'routes' must be a table"),
        ('routes = ["a"]\n', "'routes' must be a table"),
        ("default = 3\n", r"the default queue must name a queue .*got 3"),
        ('default = ""\n', "the default queue must name a queue"),
        ('[routes]\n"a" = 3\n', "the route for 'a' must name a queue"),
        ('[routes]\n"a" = { queue = "q", priority = 1 }\n', "only 'queue' is supported"),
        ('[routes]\n"" = "q"\n', "a route key is empty"),
    ],
)
def test_a_toml_file_of_the_wrong_shape_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=problem) as caught:
        Router.from_toml(path)
    assert str(path) in caught.value.problem
    assert caught.value.setting == "events_routes"


# from_setting -------------------------------------------------------------------------


def test_a_router_setting_is_used_as_is() -> None:
    router = Router({"a": "q"}, default="mine")
    assert Router.from_setting(router, default="events") is router


def test_a_mapping_setting_takes_the_default_queue() -> None:
    assert Router.from_setting({"a": "q"}, default="dflt") == Router({"a": "q"}, default="dflt")


def test_a_path_setting_loads_the_toml_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[routes]\n"a" = "q"\n')
    assert Router.from_setting(path, default="dflt") == Router({"a": "q"}, default="dflt")
    assert Router.from_setting(str(path), default="dflt") == Router({"a": "q"}, default="dflt")


def test_a_toml_file_default_wins_over_the_default_queue_setting(tmp_path: Path) -> None:
    router = Router.from_setting(write(tmp_path, ROUTES_TOML), default="dflt")
    assert router.default == "misc"


def test_a_missing_path_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.toml"):
        Router.from_setting(str(tmp_path / "nope.toml"), default="events")


@pytest.mark.parametrize("value", [None, 3, ["a", "b"], b"routes.toml"])
def test_other_settings_are_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="must be a Router, a mapping") as caught:
        Router.from_setting(value, default="events")
    assert caught.value.setting == "events_routes"
