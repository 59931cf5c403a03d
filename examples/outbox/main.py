"""Place orders: each order and its OrderPlaced event commit together, or not at all."""

from __future__ import annotations

import sys

from shop import engine, orders, outbox
from sqlalchemy.orm import Session


def place_order(customer: str, *, fail: bool = False) -> None:
    """Insert an order and emit its event in one transaction; `fail` rolls both back."""
    with Session(engine) as session, session.begin():
        result = session.execute(orders.insert().values(customer=customer))
        order_id = result.inserted_primary_key[0]
        outbox.emitter(session).emit("OrderPlaced", order_id=order_id)
        if fail:
            raise RuntimeError("payment declined")


def main(count: int) -> None:
    """Place `count` orders, and one more whose transaction fails."""
    for number in range(count):
        place_order(f"customer-{number}")
    try:
        place_order("declined", fail=True)
    except RuntimeError:
        print("one order rolled back: neither the order nor its event exists")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
