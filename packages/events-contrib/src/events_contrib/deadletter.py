"""The dead-letter queue: emissions that ran out of attempts or were refused by a worker.

Dead letters are JSON messages in a durable broker queue (`<events_default_queue>.dead_letter`
by default), so they work on every broker Celery supports, Redis and RabbitMQ included, and
survive restarts like any other message.

```python
dlq = DeadLetterQueue(app)
for letter in dlq.list(10):
    print(letter.id, letter.event, letter.reason, letter.handlers)
dlq.replay([letter.id])      # publish again for the failed handlers, then remove
```
"""

from __future__ import annotations

import builtins
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from celery import Celery
from kombu import Exchange, Queue
from kombu.message import Message

from events_celery.body import read_frame
from events_celery.bootstrap import runtime_of
from events_celery.envelope import Envelope
from events_celery.errors import EnvelopeError, PublishError
from events_celery.publisher import PUBLISH_RETRY_POLICY
from events_celery.reasons import Reason
from events_contrib.errors import DeadLetterNotFoundError, InvalidDeadLetterError
from events_contrib.settings import DEAD_LETTER_SUFFIX, ContribSettings

logger = logging.getLogger(__name__)

REPLAYABLE = frozenset({Reason.FAILED, Reason.UNREGISTERED, Reason.WORKER_LOST})
"""Reasons whose dead letters `replay` publishes again; refused messages are never replayed.

A `worker_lost` letter is replayed with its whole handler list and a fresh delivery count:
replay it once the handler that killed its process is fixed."""


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
        """Whether `replay` would publish this letter again."""
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


class DeadLetterQueue:
    """Inspect, replay and purge an app's dead-letter queue.

    Args:
        app: the Celery app, configured (and installed) as its workers are.
        queue: the dead-letter queue's name; default from `events_dead_letter`, else
            `<events_default_queue>.dead_letter`.
    """

    def __init__(self, app: Celery, queue: str | None = None) -> None:
        self.app = app
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
                )
        except Exception as exc:
            raise PublishError(letter.event or "?", self.name, exc) from exc

    def count(self) -> int:
        """How many dead letters the queue holds."""
        with self.app.connection_for_read() as connection:
            _, count, _ = self._queue.bind(connection.default_channel).queue_declare()
            return int(count)

    def list(self, limit: int | None = None) -> builtins.list[DeadLetter]:
        """The oldest `limit` dead letters (all if None), without consuming any."""
        with self._held() as held:
            letters = [letter for letter, _ in held]
        return letters if limit is None else letters[:limit]

    def get(self, letter_id: str) -> DeadLetter:
        """The dead letter with this id, without consuming it.

        Raises:
            DeadLetterNotFoundError: no such letter in the queue.
        """
        for letter in self.list():
            if letter.id == letter_id:
                return letter
        raise DeadLetterNotFoundError(letter_id, self.name)

    def replay(self, ids: Iterable[str] | None = None, queue: str | None = None) -> ReplayResult:
        """Publish dead letters again, then remove them from the queue.

        Only the failed handlers run again, from attempt 1, on `queue` or the queue each
        came from. Messages a worker refused (bad signature, undecodable) are never
        replayed: they stay in the queue and are listed as skipped.

        Args:
            ids: the letters to replay; None replays every replayable letter.
            queue: where to publish instead of each letter's original queue.

        Raises:
            DeadLetterNotFoundError: an id is not in the queue (nothing was replayed).
            PublishError: the broker failed; letters not yet replayed stay in the queue.
        """
        wanted = None if ids is None else list(dict.fromkeys(ids))
        result = ReplayResult()
        runtime = runtime_of(self.app)
        with self._held() as held:
            by_id = {letter.id: (letter, message) for letter, message in held}
            missing = [letter_id for letter_id in wanted or () if letter_id not in by_id]
            if missing:
                raise DeadLetterNotFoundError(missing[0], self.name)
            for letter_id in wanted if wanted is not None else list(by_id):
                letter, message = by_id[letter_id]
                if not letter.replayable:
                    result.skipped.append(letter.id)
                    continue
                envelope = replay_envelope(letter, runtime.settings.keyring)
                target = queue or letter.queue or runtime.settings.default_queue
                runtime.publisher.send(envelope, target)
                message.ack()
                logger.info(
                    "dead letter %s replayed: emission %s of %s to %s",
                    letter.id,
                    letter.emission_id,
                    letter.event,
                    target,
                )
                result.replayed.append(letter.id)
        return result

    def remove(self, letter_id: str) -> DeadLetter:
        """Remove one dead letter and return it.

        Raises:
            DeadLetterNotFoundError: no such letter in the queue.
        """
        with self._held() as held:
            for letter, message in held:
                if letter.id == letter_id:
                    message.ack()
                    return letter
        raise DeadLetterNotFoundError(letter_id, self.name)

    def purge(self) -> int:
        """Delete every dead letter; return how many there were."""
        with self.app.connection_for_write() as connection:
            return int(self._queue.bind(connection.default_channel).purge() or 0)

    @contextmanager
    def _held(self) -> Iterator[builtins.list[tuple[DeadLetter, Message]]]:
        """Take every letter without acknowledging, and put back those not acked, in order."""
        with self.app.connection_for_write() as connection:
            channel = connection.channel()
            try:
                bound = self._queue.bind(channel)
                bound.declare()
                held: builtins.list[tuple[DeadLetter, Message]] = []
                taken: builtins.list[Message] = []
                while (message := bound.get(no_ack=False, accept=["json"])) is not None:
                    taken.append(message)
                    held.append((_letter_of(message, self.name), message))
                try:
                    yield held
                finally:
                    for message in taken:
                        if not message.acknowledged:
                            message.requeue()
            finally:
                channel.close()


def replay_envelope(letter: DeadLetter, keyring: Any) -> Envelope:
    """The envelope that runs a dead letter's failed handlers again, from attempt 1.

    The stored envelope passed the worker's signature check when it failed, so it is
    signed again with the current key after its handler list and bookkeeping are reset.
    """
    try:
        original = Envelope.parse(letter.envelope)
        frame = read_frame(original.body)
    except EnvelopeError as exc:
        raise InvalidDeadLetterError(
            f"dead letter {letter.id}", f"its envelope is not valid ({exc})"
        ) from exc
    if letter.failures:
        frame["handlers"] = list(letter.handlers)
    # else: refused as unregistered before any handler ran; the original handler list (or
    # the worker's own resolution) applies again once the handlers are deployed.
    meta = dict(frame.get("meta") or {})
    meta.update({"attempt": 1, "first_failure": None, "replayed_from": letter.id})
    frame["meta"] = meta
    body = json.dumps(frame, separators=(",", ":"), allow_nan=False)
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
