"""The body of a batch envelope: the only module that writes or reads its text.

```
[{"id": "<32 hex>", "event": "OrderPlaced", "body": "<one emission's body text>"}, ...]
```

Each item is what a single envelope carries apart from the fields the batch shares (`v`,
`codec`, `kid`, `sig`): the emission's id, its event name and its body (`events_celery.body`).
The batch envelope's signature covers the whole list, so an item can be neither changed,
added, removed nor reordered. Read only after that signature has been checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from events_celery.envelope import MAX_EVENT_NAME
from events_celery.errors import DecodeError

MAX_BATCH_ITEMS = 10_000
"""Most emissions one batch message may carry (`events_batch_size` is at most this)."""

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_ID = re.compile(r"[0-9a-f]{32}\Z")
_FIELDS = frozenset({"id", "event", "body"})


@dataclass(frozen=True)
class BatchItem:
    """One emission of a batch, its body still encoded."""

    id: str
    event: str
    body: str

    def encode(self) -> str:
        """The item's JSON text, as it appears in the batch's list."""
        return _ENCODER.encode({"id": self.id, "event": self.event, "body": self.body})


def join_items(encoded: Sequence[str]) -> str:
    """The batch body: the items' texts (`BatchItem.encode`) as one JSON list."""
    return "[" + ",".join(encoded) + "]"


def read_items(text: str) -> tuple[BatchItem, ...]:
    """Parse a batch body and check every item's shape, without decoding their bodies.

    Raises:
        DecodeError: not a non-empty JSON list of items, an item of the wrong shape, or an
            emission id given twice.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise DecodeError("the batch body is not valid JSON") from exc
    if not isinstance(data, list) or not 0 < len(data) <= MAX_BATCH_ITEMS:
        raise DecodeError(f"a batch body must be a list of 1 to {MAX_BATCH_ITEMS} emissions")
    items: list[BatchItem] = []
    seen: set[str] = set()
    for index, raw in enumerate(data):
        if not isinstance(raw, dict) or set(raw) != _FIELDS:
            raise DecodeError(f"batch item {index} must be an object of id, event and body")
        emission_id, event, body = raw["id"], raw["event"], raw["body"]
        if not isinstance(emission_id, str) or not _ID.match(emission_id):
            raise DecodeError(f"batch item {index} has an invalid id")
        if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_NAME:
            raise DecodeError(f"batch item {index} has an invalid event name")
        if not isinstance(body, str):
            raise DecodeError(f"batch item {index} has a body that is not text")
        if emission_id in seen:
            raise DecodeError(f"batch item {index} repeats emission id {emission_id}")
        seen.add(emission_id)
        items.append(BatchItem(emission_id, event, body))
    return tuple(items)
