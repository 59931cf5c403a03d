"""The tutorial's events and their handlers. The worker imports this module."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from events_core import EventLinker


@dataclass(frozen=True)
class OrderPlaced:
    """An order was placed."""

    order_id: int
    total_cents: int


@dataclass(frozen=True)
class ExpressOrderPlaced(OrderPlaced):
    """An order to ship today; handlers of OrderPlaced receive it too."""


@EventLinker.on(OrderPlaced)
def send_receipt(event: OrderPlaced) -> str:
    """Runs on a worker for every OrderPlaced (and ExpressOrderPlaced)."""
    print(f"receipt sent for order {event.order_id} ({event.total_cents / 100:.2f} EUR)")
    return f"receipt-{event.order_id}"


@EventLinker.on(ExpressOrderPlaced)
def book_courier(event: ExpressOrderPlaced) -> None:
    """Runs only for express orders."""
    print(f"courier booked for order {event.order_id}")


@EventLinker.on("UserSignedUp")
async def send_welcome_mail(email: str, *, plan: str = "free") -> None:
    """An async handler: the worker runs it on its event loop."""
    await asyncio.sleep(0)
    print(f"welcome mail sent to {email} (plan {plan})")
