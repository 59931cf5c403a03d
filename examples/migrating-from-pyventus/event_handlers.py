"""The handlers, in a module the worker imports (Pyventus subscribed them in main.py)."""

from events_core import EventLinker


@EventLinker.on("StringEvent")
def sync_event_callback() -> None:
    print("Sync event callback!")


@EventLinker.on("StringEvent")
async def async_event_callback() -> None:
    print("Async event callback!")
