from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Optional

import pytest

from events_celery.classpath import TypeKind
from events_celery.codecs.json import decode_json, encode_json
from events_celery.errors import DecodeError
from events_celery.trust import LinkerTypes
from events_core import EventLinker
from events_core.events import class_path

HERE = __name__


class Country(Enum):
    FR = "fr"
    DE = "de"


class Status(Enum):
    OPEN = "open"
    SHIPPED = "shipped"


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class Unrelated(Enum):
    X = "x"


@dataclass(frozen=True)
class Address:
    city: str
    country: Country


@dataclass(frozen=True)
class Line:
    sku: str
    status: Status | None = None


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    lines: list[Line] = field(default_factory=list)
    ship_to: Optional[Address] = None  # noqa: UP045 (users still write Optional)
    priorities: dict[str, Priority] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


@dataclass(frozen=True)
class ExpressOrderPlaced(OrderPlaced):
    pass


@dataclass(frozen=True)
class NotSubscribed:
    x: int


@dataclass(frozen=True)
class Unresolvable:
    x: DoesNotExist  # type: ignore[name-defined]  # noqa: F821


class PaymentFailed(Exception):
    pass


class CardDeclined(PaymentFailed):
    pass


class UnrelatedError(Exception):
    pass


def on_anything(*args: object, **kwargs: object) -> None:
    pass


class ShopLinker(EventLinker):
    pass


class OtherLinker(EventLinker):
    pass


class CatchAllLinker(EventLinker):
    pass


class EmptyLinker(EventLinker):
    pass


ShopLinker.on(OrderPlaced, PaymentFailed, "OrderShipped")(on_anything)
ShopLinker.on(Unresolvable)(on_anything)
OtherLinker.on(NotSubscribed)(on_anything)
CatchAllLinker.on(...)(on_anything)


def path(cls: type) -> str:
    return class_path(cls)


@pytest.fixture
def shop() -> LinkerTypes:
    return LinkerTypes(ShopLinker)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (OrderPlaced, "dataclass"),
        (PaymentFailed, "exception"),
        (Unresolvable, "dataclass"),
    ],
)
def test_classes_the_linker_subscribes_to_are_trusted(
    shop: LinkerTypes, cls: type, kind: TypeKind
) -> None:
    assert shop(path(cls), kind) is cls


@pytest.mark.parametrize(
    ("cls", "kind"),
    [(ExpressOrderPlaced, "dataclass"), (CardDeclined, "exception")],
)
def test_imported_subclasses_of_subscribed_classes_are_trusted(
    shop: LinkerTypes, cls: type, kind: TypeKind
) -> None:
    assert shop(path(cls), kind) is cls


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (Line, "dataclass"),
        (Address, "dataclass"),
        (Status, "enum"),
        (Country, "enum"),
        (Priority, "enum"),
    ],
)
def test_dataclasses_and_enums_named_in_field_annotations_are_trusted(
    shop: LinkerTypes, cls: type, kind: TypeKind
) -> None:
    assert shop(path(cls), kind) is cls


def test_a_subclass_imported_after_the_first_lookup_is_trusted(shop: LinkerTypes) -> None:
    shop(path(OrderPlaced), "dataclass")
    late = type(
        "LateOrderPlaced", (OrderPlaced,), {"__module__": HERE, "__qualname__": "LateOrderPlaced"}
    )

    assert shop(f"{HERE}:LateOrderPlaced", "dataclass") is late


def test_a_class_subscribed_after_the_resolver_was_made_is_trusted_until_removed() -> None:
    class Later(EventLinker):
        pass

    resolver = LinkerTypes(Later)
    with pytest.raises(DecodeError):
        resolver(path(NotSubscribed), "dataclass")

    Later.on(NotSubscribed)(on_anything)
    assert resolver(path(NotSubscribed), "dataclass") is NotSubscribed

    Later.remove_all()
    with pytest.raises(DecodeError):
        resolver(path(NotSubscribed), "dataclass")


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        (f"{HERE}:NotSubscribed", "dataclass"),
        (f"{HERE}:Unrelated", "enum"),
        (f"{HERE}:UnrelatedError", "exception"),
        (f"{HERE}:on_anything", "dataclass"),
        (f"{HERE}:ShopLinker", "dataclass"),
        ("subprocess:Popen", "dataclass"),
        ("subprocess:Popen", "exception"),
        ("subprocess:Popen", "enum"),
        ("subprocess:CalledProcessError", "exception"),
        ("os:system", "dataclass"),
        ("builtins:ValueError", "exception"),
        ("events_core.registry:EventLinker", "dataclass"),
        ("enum:Enum", "enum"),
        (f"{HERE}:OrderPlaced.lines", "dataclass"),
        (f"{HERE}:orderplaced", "dataclass"),
        ("", "dataclass"),
    ],
)
def test_every_other_class_is_refused(shop: LinkerTypes, target: str, kind: TypeKind) -> None:
    with pytest.raises(DecodeError, match=r"not one that \S+:ShopLinker subscribes to"):
        shop(target, kind)


def test_a_real_class_merely_named_in_an_annotation_is_refused(shop: LinkerTypes) -> None:
    assert "process" in OrderPlaced.__dataclass_fields__

    with pytest.raises(DecodeError):
        shop("subprocess:Popen", "dataclass")


def test_a_class_another_linker_subscribes_to_is_refused(shop: LinkerTypes) -> None:
    assert LinkerTypes(OtherLinker)(path(NotSubscribed), "dataclass") is NotSubscribed

    with pytest.raises(DecodeError):
        shop(path(NotSubscribed), "dataclass")
    with pytest.raises(DecodeError):
        LinkerTypes(OtherLinker)(path(OrderPlaced), "dataclass")


@pytest.mark.parametrize("linker", [CatchAllLinker, EmptyLinker])
def test_a_linker_without_class_subscriptions_trusts_no_class(linker: type[EventLinker]) -> None:
    resolver = LinkerTypes(linker)

    for cls, kind in [(OrderPlaced, "dataclass"), (PaymentFailed, "exception")]:
        with pytest.raises(DecodeError):
            resolver(path(cls), kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (OrderPlaced, "exception"),
        (OrderPlaced, "enum"),
        (PaymentFailed, "dataclass"),
        (PaymentFailed, "enum"),
        (Status, "dataclass"),
        (Line, "enum"),
    ],
)
def test_a_trusted_class_claimed_as_another_kind_is_refused(
    shop: LinkerTypes, cls: type, kind: TypeKind
) -> None:
    with pytest.raises(DecodeError, match=f"is not a {kind}"):
        shop(path(cls), kind)


@pytest.mark.parametrize("module", ["antigravity", "no_such_module_for_events_tests"])
@pytest.mark.parametrize("kind", ["dataclass", "exception", "enum"])
def test_looking_up_a_class_never_imports_its_module(
    shop: LinkerTypes, module: str, kind: TypeKind
) -> None:
    assert module not in sys.modules

    with pytest.raises(DecodeError):
        shop(f"{module}:Anything", kind)

    assert module not in sys.modules


def test_a_nested_event_round_trips_through_the_codec_with_only_the_linker_trusted(
    shop: LinkerTypes,
) -> None:
    event = ExpressOrderPlaced(
        order_id=7,
        lines=[Line("A-1", Status.SHIPPED), Line("B-2")],
        ship_to=Address("Lyon", Country.FR),
        priorities={"A-1": Priority.HIGH},
    )

    assert decode_json(encode_json([event, CardDeclined("no funds")]), shop)[0] == event


def test_the_codec_refuses_an_untrusted_class_nested_in_a_trusted_one(shop: LinkerTypes) -> None:
    data = encode_json(OrderPlaced(order_id=1, lines=[NotSubscribed(1)]))  # type: ignore[list-item]

    with pytest.raises(DecodeError, match="NotSubscribed"):
        decode_json(data, shop)
