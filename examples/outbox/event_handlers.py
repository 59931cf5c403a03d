"""The shop's handler: writes one receipt per order, even when an event arrives twice."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from events_core import EventLinker, current_emission


@EventLinker.on("OrderPlaced")
def send_receipt(order_id: int) -> None:
    """Write the receipt once: the emission id is the key, so a duplicate delivery is a no-op."""
    from shop import engine, receipts

    emission = current_emission()
    assert emission is not None
    with engine.begin() as connection:
        written = connection.execute(
            insert(receipts)
            .values(emission_id=emission.id, order_id=order_id)
            .on_conflict_do_nothing(index_elements=["emission_id"])
        ).rowcount
    if written:
        print(f"receipt sent for order {order_id}", flush=True)
    else:
        print(f"order {order_id}: receipt already sent, duplicate ignored", flush=True)
