"""The dead-letter queue: emissions that ran out of attempts or were refused by a worker.

Dead letters are JSON messages in a durable broker queue (`<events_default_queue>.dead_letter`
by default), so they work on every broker Celery supports, Redis and RabbitMQ included, and
survive restarts like any other message.

```python
dlq = DeadLetterQueue(app)
for letter in dlq.list(10):  # reads these 10 letters only, and leaves them on the queue
    print(letter.id, letter.event, letter.reason, letter.handlers)
dlq.replay([letter.id])      # verify, publish again for the failed handlers, then remove
```

Reading never takes a letter off the queue, even for a reader that dies (see
`events_contrib.letterstore` for how, on each broker).
"""

from __future__ import annotations

import builtins
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from celery import Celery
from kombu import Exchange, Queue
from kombu.message import Message

from events_celery.body import rewrite_for_replay
from events_celery.bootstrap import runtime_of
from events_celery.envelope import Envelope
from events_celery.errors import EnvelopeError, PublishError
from events_celery.publisher import PUBLISH_RETRY_POLICY
from events_celery.reasons import Reason
from events_celery.signing import Keyring
from events_contrib.errors import DeadLetterNotFoundError, InvalidDeadLetterError
from events_contrib.letterstore import Shelf, open_shelf
from events_contrib.settings import DEAD_LETTER_SUFFIX, ContribSettings

logger = logging.getLogger(__name__)

REPLAYABLE = frozenset({Reason.FAILED, Reason.UNREGISTERED, Reason.SIGNATURE, Reason.WORKER_LOST})
"""Reasons whose dead letters `replay` publishes again once they verify with the replaying app's
keys (a `signature` letter refused by a worker with the wrong key, for one); malformed and
undecodable messages are never replayed. A `worker_lost` letter is replayed with its whole
handler list and a fresh delivery count: replay it once the handler that killed its process is
fixed."""

LOCK_TIMEOUT = 60.0
"""Seconds a reader waits for other readers of the queue on RabbitMQ before giving up."""


@dataclass(frozen=True)
class HandlerFailure:
    """One failed handler of a dead-lettered emission."""

    handler: str
    reason: str
    exception_type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered emission, or one message a worker refused.

    Attributes:
        id: this record's id.
        emission_id: the emission's id ("" when the message was too malformed to have one).
        event: the event's name ("" when unknown).
        reason: `failed`, `unregistered`, `worker_lost`, or why the message was refused:
            `signature`, `malformed`, `undecodable`, `too_large`, `too_deep`, `foreign`.
        queue: the queue the emission came from.
        attempts: deliveries made, the last one included.
        first_failure: when the emission first failed (aware UTC).
        last_failure: when it was dead-lettered (aware UTC).
        failures: each failed handler with its exception (empty for refused messages).
        envelope: the message as the worker received it.
        detail: why a message was refused, or a summary of the failures.
    """

    id: str
    emission_id: str
    event: str
    reason: str
    queue: str
    attempts: int
    first_failure: datetime
    last_failure: datetime
    failures: tuple[HandlerFailure, ...] = ()
    envelope: Any = None
    detail: str = ""

    @property
    def handlers(self) -> tuple[str, ...]:
        """Refs of the failed handlers."""
        return tuple(failure.handler for failure in self.failures)

    @property
    def exception_type(self) -> str:
        """Type name of the first failure's exception ("" for refused messages)."""
        return self.failures[0].exception_type if self.failures else ""

    @property
    def replayable(self) -> bool:
        """Whether `replay` would publish this letter again, if it verifies with the app's keys."""
        return self.reason in REPLAYABLE and isinstance(self.envelope, dict)

    def to_json(self) -> dict[str, Any]:
        """The record as stored in the queue."""
        data = asdict(self)
        data["first_failure"] = self.first_failure.timestamp()
        data["last_failure"] = self.last_failure.timestamp()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeadLetter:
        """Read a stored record."""
        return cls(
            id=str(data["id"]),
            emission_id=str(data["emission_id"]),
            event=str(data["event"]),
            reason=str(data["reason"]),
            queue=str(data["queue"]),
            attempts=int(data["attempts"]),
            first_failure=_datetime(data["first_failure"]),
            last_failure=_datetime(data["last_failure"]),
            failures=tuple(HandlerFailure(**item) for item in data.get("failures", ())),
            envelope=data.get("envelope"),
            detail=str(data.get("detail", "")),
        )


def new_dead_letter(
    *,
    emission_id: str,
    event: str,
    reason: str,
    queue: str,
    attempts: int,
    first_failure: float | None,
    failures: Sequence[HandlerFailure] = (),
    envelope: Any = None,
    detail: str = "",
) -> DeadLetter:
    """Make a record dated now."""
    now = time.time()
    return DeadLetter(
        id=uuid.uuid4().hex,
        emission_id=emission_id,
        event=event,
        reason=reason,
        queue=queue,
        attempts=attempts,
        first_failure=_datetime(first_failure if first_failure is not None else now),
        last_failure=_datetime(now),
        failures=tuple(failures),
        envelope=envelope,
        detail=detail,
    )


@dataclass
class ReplayResult:
    """What `DeadLetterQueue.replay` did."""

    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    """Why each skipped letter was skipped, by id."""


class Selects(Protocol):
    """Picks dead letters (`events_contrib.letterfilter.LetterFilter` is one)."""

    def matches(self, letter: DeadLetter, now: float | None = None) -> bool:
        """Whether `letter` is selected (`now` in seconds since 1970)."""


@dataclass(frozen=True)
class Page:
    """The oldest letters of the queue and its length, read together."""

    letters: list[DeadLetter]
    total: int


class DeadLetterQueue:
    """Inspect, replay and purge an app's dead-letter queue.

    Args:
        app: the Celery app, configured (and installed) as its workers are.
        queue: the dead-letter queue's name; default from `events_dead_letter`, else
            `<events_default_queue>.dead_letter`.
        lock_timeout: on RabbitMQ, seconds to wait for other readers before raising
            `DeadLetterQueueBusyError`.
    """

    def __init__(
        self, app: Celery, queue: str | None = None, *, lock_timeout: float = LOCK_TIMEOUT
    ) -> None:
        self.app = app
        self.lock_timeout = lock_timeout
        self.letters_read = 0
        """Messages this object has fetched from the broker, for bounds checks and monitoring."""
        if not queue:
            settings = runtime_of(app).settings
            queue = ContribSettings.from_settings(settings).dead_letter_queue or (
                settings.default_queue + DEAD_LETTER_SUFFIX
            )
        self.name = queue
        self._queue = Queue(
            self.name, Exchange(self.name, type="direct"), routing_key=self.name, durable=True
        )

    def add(self, letter: DeadLetter) -> None:
        """Store a dead letter.

        Raises:
            PublishError: the broker could not be reached within the bounded retry.
        """
        timeout = float(runtime_of(self.app).settings.value("events_publish_timeout"))
        try:
            with self.app.producer_or_acquire() as producer:
                producer.publish(
                    letter.to_json(),
                    exchange=self._queue.exchange,
                    routing_key=self.name,
                    declare=[self._queue],
                    serializer="json",
                    delivery_mode=2,
                    retry=True,
                    retry_policy=PUBLISH_RETRY_POLICY,
                    timeout=timeout,
                    confirm_timeout=timeout,
                )
        except Exception as exc:
            raise PublishError(letter.event or "?", self.name, exc) from exc

    def count(self) -> int:
        """How many dead letters the queue holds."""
        with self._shelf() as shelf:
            return shelf.count()

    def list(self, limit: int | None = None) -> builtins.list[DeadLetter]:
        """The oldest `limit` dead letters (all if None); only those are read, none consumed."""
        return self.page(limit).letters

    def page(self, limit: int | None = None) -> Page:
        """The oldest `limit` dead letters (all if None) and the queue's length, read together."""
        with self._shelf() as shelf:
            found, total = shelf.page(limit)
            return Page([_letter_of(stored.message, self.name) for stored in found], total)

    def get(self, letter_id: str) -> DeadLetter:
        """The dead letter with this id, without consuming it.

        Raises:
            DeadLetterNotFoundError: no such letter in the queue.
        """
        with self._shelf() as shelf:
            for stored in shelf.scan():
                letter = _letter_of(stored.message, self.name)
                if letter.id == letter_id:
                    return letter
        raise DeadLetterNotFoundError(letter_id, self.name)

    def matching(self, where: Selects, limit: int | None = None) -> Page:
        """The oldest `limit` letters `where` selects, and how many it selects in all.

        Every letter is read to count the matches; none is consumed.
        """
        found: builtins.list[DeadLetter] = []
        total = 0
        now = time.time()
        with self._shelf() as shelf:
            for stored in shelf.scan():
                letter = _letter_of(stored.message, self.name)
                if where.matches(letter, now):
                    total += 1
                    if limit is None or len(found) < limit:
                        found.append(letter)
        return Page(found, total)

    def replay(
        self,
        ids: Iterable[str] | None = None,
        queue: str | None = None,
        *,
        where: Selects | None = None,
        progress: Callable[[DeadLetter], None] | None = None,
    ) -> ReplayResult:
        """Publish dead letters again, then remove them from the queue.

        Each letter's stored envelope is verified with this app's keys first, so a letter a
        worker refused for its signature (a wrong key on the worker) is replayed by an app that
        holds the right key. Only the failed handlers run again, from attempt 1, on `queue` or
        the queue each came from. A letter that is malformed, undecodable, or does not verify is
        never published: it stays in the queue and is listed as skipped, with its reason.

        Args:
            ids: the letters to replay; None replays every replayable letter.
            queue: where to publish instead of each letter's original queue.
            where: replay only the letters this selects (with `ids`: only those of them).
            progress: called with each letter once it was replayed or skipped.

        Raises:
            DeadLetterNotFoundError: an id is not in the queue (nothing was replayed).
            PublishError: the broker failed; letters not yet replayed stay in the queue.
        """
        wanted = None if ids is None else builtins.list(dict.fromkeys(ids))
        result = ReplayResult()
        runtime = runtime_of(self.app)
        now = time.time()
        with self._shelf() as shelf:
            if wanted is not None:
                self._check_present(shelf, wanted)
            left = None if wanted is None else set(wanted)
            for stored in shelf.scan():
                letter = _letter_of(stored.message, self.name)
                if left is not None and letter.id not in left:
                    continue
                if where is not None and not where.matches(letter, now):
                    continue
                problem = _unreplayable(letter, runtime.settings.keyring)
                if problem:
                    logger.warning("dead letter %s not replayed: %s", letter.id, problem)
                    result.skipped.append(letter.id)
                    result.reasons[letter.id] = problem
                else:
                    envelope = replay_envelope(letter, runtime.settings.keyring)
                    target = queue or letter.queue or runtime.settings.default_queue
                    runtime.publisher.send(envelope, target)
                    stored.take()
                    logger.info(
                        "dead letter %s replayed: emission %s of %s to %s",
                        letter.id,
                        letter.emission_id,
                        letter.event,
                        target,
                    )
                    result.replayed.append(letter.id)
                if progress is not None:
                    progress(letter)
                if left is not None:
                    left.discard(letter.id)
                    if not left:
                        break
        if wanted is not None:
            order = {letter_id: index for index, letter_id in enumerate(wanted)}
            result.replayed.sort(key=order.__getitem__)
            result.skipped.sort(key=order.__getitem__)
        return result

    def remove(self, letter_id: str) -> DeadLetter:
        """Remove one dead letter and return it.

        Raises:
            DeadLetterNotFoundError: no such letter in the queue.
        """
        with self._shelf() as shelf:
            for stored in shelf.scan():
                letter = _letter_of(stored.message, self.name)
                if letter.id == letter_id and stored.take():
                    return letter
        raise DeadLetterNotFoundError(letter_id, self.name)

    def purge(self, where: Selects | None = None) -> int:
        """Delete every dead letter, or those `where` selects; return how many were deleted."""
        with self._shelf() as shelf:
            if where is None:
                return shelf.purge()
            now = time.time()
            deleted = 0
            for stored in shelf.scan():
                if where.matches(_letter_of(stored.message, self.name), now) and stored.take():
                    deleted += 1
            return deleted

    def _check_present(self, shelf: Shelf, wanted: builtins.list[str]) -> None:
        left = set(wanted)
        for stored in shelf.scan():
            left.discard(_letter_of(stored.message, self.name).id)
            if not left:
                return
        missing = [letter_id for letter_id in wanted if letter_id in left]
        raise DeadLetterNotFoundError(missing[0], self.name)

    @contextmanager
    def _shelf(self) -> Iterator[Shelf]:
        shelf: Shelf | None = None
        try:
            with open_shelf(self.app, self._queue, self.lock_timeout) as shelf:
                yield shelf
        finally:
            if shelf is not None:
                self.letters_read += shelf.read


def _unreplayable(letter: DeadLetter, keyring: Keyring | None) -> str:
    """Why `letter` must not be published again ("" when it may be), its envelope verified."""
    if not letter.replayable:
        return f"refused as {letter.reason}: never replayed"
    try:
        envelope = Envelope.parse(letter.envelope)
    except EnvelopeError as exc:
        return f"its envelope is not valid ({exc})"
    if letter.reason == Reason.SIGNATURE and keyring is None:
        return "refused for its signature, and this app has no signing key to verify it with"
    try:
        envelope.verify(keyring)
    except EnvelopeError as exc:
        return f"its signature does not verify with this app's keys ({exc})"
    return ""


def replay_envelope(letter: DeadLetter, keyring: Any) -> Envelope:
    """The envelope that runs a dead letter's failed handlers again, from attempt 1.

    The caller has verified the stored envelope with the current keys (`replay` does), so it
    is signed again with the current key after its handler list and bookkeeping are reset.
    """
    try:
        original = Envelope.parse(letter.envelope)
        # Without failures the letter was refused as unregistered before any handler ran:
        # the original handler list (or the worker's own resolution) applies again once the
        # handlers are deployed.
        body = rewrite_for_replay(
            original.body,
            replayed_from=letter.id,
            handlers=letter.handlers if letter.failures else None,
        )
    except EnvelopeError as exc:
        raise InvalidDeadLetterError(
            f"dead letter {letter.id}", f"its envelope is not valid ({exc})"
        ) from exc
    return Envelope(
        id=original.id, event=original.event, codec=original.codec, body=body
    ).signed_with(keyring)


def _letter_of(message: Message, queue: str) -> DeadLetter:
    try:
        payload = message.decode()
        if not isinstance(payload, Mapping):
            raise TypeError(f"a {type(payload).__name__} instead of an object")
        return DeadLetter.from_json(payload)
    except Exception as exc:
        raise InvalidDeadLetterError(
            f"dead-letter queue {queue!r}",
            f"a message is not a dead letter ({type(exc).__name__})",
        ) from exc


def _datetime(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), timezone.utc)
