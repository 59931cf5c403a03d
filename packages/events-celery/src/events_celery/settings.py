"""The `events_*` settings, declared once, read from `app.conf` and validated at install.

```python
app.conf.events_signing_key = os.environ["EVENTS_SIGNING_KEY"]
app.conf.events_default_queue = "events"
```
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from events_celery import codecs
from events_celery.batchwire import MAX_BATCH_ITEMS
from events_celery.envelope import LEGACY_VERSION, VERSION
from events_celery.errors import ConfigurationError
from events_celery.signing import Keyring

PREFIX = "events_"

DEFAULT_QUEUE = "events"
"""Queue that emissions go to when neither the emitter nor a route names one."""

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
"""Largest message, in bytes, that producers send and workers accept (1 MiB)."""

DEFAULT_SERIALIZER = "json"
"""Body codec used unless `events_serializer` opts into `"pickle"`."""

DEFAULT_PUBLISH_TIMEOUT = 5.0
"""Seconds one publish try waits for the broker (`events_publish_timeout`)."""


@dataclass(frozen=True)
class Option:
    """One setting: its name, default and what it accepts."""

    name: str
    default: Any
    doc: str
    check: Callable[[Any], Any] | None = None


def _queue_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("events_default_queue", f"expected a queue name, got {value!r}")
    return value


def _byte_count(value: Any) -> int:
    if type(value) is not int or value < 1024:
        raise ConfigurationError(
            "events_max_message_bytes",
            f"expected a number of bytes of 1024 or more, got {value!r}",
        )
    return value


def _serializer(value: Any) -> str:
    if value not in codecs.registry:
        raise ConfigurationError(
            "events_serializer", f"expected {_choices(codecs.names())}, got {value!r}"
        )
    return str(value)


def _choices(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    if len(quoted) < 2:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _publish_confirm(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(
            "events_publish_confirm", f"expected True or False, got {value!r}"
        )
    return value


def _publish_timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 3600:
        raise ConfigurationError(
            "events_publish_timeout", f"expected seconds above 0 and below 3600, got {value!r}"
        )
    return float(value)


DEFAULT_BATCH_SIZE = 100
"""Most emissions `CeleryEventEmitter.batch()` puts in one message (`events_batch_size`)."""


def _batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH_ITEMS:
        raise ConfigurationError(
            "events_batch_size", f"expected an int from 1 to {MAX_BATCH_ITEMS}, got {value!r}"
        )
    return value


DEFAULT_MAX_DELIVERIES = 3
"""Deliveries of one emission before it is dead-lettered with reason `worker_lost`."""

DEFAULT_HANDLER_TIME_LIMIT = 300.0
"""Seconds a handler may run before it fails with `HandlerTimeoutError`."""


def _positive_int(name: str, minimum: int = 1) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(name, f"expected an int of at least {minimum}, got {value!r}")
        return value

    return check


def positive_seconds(setting: str, value: Any) -> float:
    """`value` as a finite, positive number of seconds.

    Raises:
        ConfigurationError: anything else, naming `setting`.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(setting, f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _seconds(value: Any) -> float:
    return positive_seconds("events_handler_time_limit", value)


def _wire_version(value: Any) -> int:
    if type(value) is not int or value not in (LEGACY_VERSION, VERSION):
        raise ConfigurationError(
            "events_wire_version", f"expected {VERSION} or {LEGACY_VERSION}, got {value!r}"
        )
    return value


def _task_patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise ConfigurationError(
            "events_accept_tasks", f"expected a list of task names or globs, got {value!r}"
        )
    return tuple(value)


CORE_OPTIONS: tuple[Option, ...] = (
    Option(
        "events_signing_key",
        None,
        "A key (str or bytes), a list of keys (sign with the first, accept any) or a "
        "mapping of key id to key. Unset: envelopes are neither signed nor checked.",
        Keyring.from_setting,
    ),
    Option(
        "events_serializer",
        DEFAULT_SERIALIZER,
        '"json" (default), "pickle", or another codec registered in `events_celery.codecs`; '
        "pickle, being unsafe, needs a signing key and trusts whoever holds it.",
        _serializer,
    ),
    Option(
        "events_default_queue",
        DEFAULT_QUEUE,
        "Queue that emissions go to when neither the emitter nor a route names one.",
        _queue_name,
    ),
    Option(
        "events_max_message_bytes",
        DEFAULT_MAX_MESSAGE_BYTES,
        "Largest message in bytes: `emit` raises `EncodeError` above it, and workers "
        "dead-letter bigger messages with reason `too_large`.",
        _byte_count,
    ),
    Option(
        "events_publish_confirm",
        True,
        "Wait for RabbitMQ's publisher confirm before `emit` returns (default True). False "
        "opts out: faster, but an emit that returned can be lost when the broker fails.",
        _publish_confirm,
    ),
    Option(
        "events_publish_timeout",
        DEFAULT_PUBLISH_TIMEOUT,
        "Seconds one publish try waits for the broker: the write and the confirm on RabbitMQ, "
        "the socket and connect time-outs on Redis (default 5).",
        _publish_timeout,
    ),
    Option(
        "events_batch_size",
        DEFAULT_BATCH_SIZE,
        "Most emissions `CeleryEventEmitter.batch()` and `emit_many` put in one message "
        f"(default {DEFAULT_BATCH_SIZE}, at most {MAX_BATCH_ITEMS}); a batch also stays "
        "under events_max_message_bytes.",
        _batch_size,
    ),
    Option(
        "events_max_deliveries",
        DEFAULT_MAX_DELIVERIES,
        "Deliveries of one emission (counted across worker deaths) before it is "
        "dead-lettered with reason worker_lost instead of running again.",
        _positive_int("events_max_deliveries"),
    ),
    Option(
        "events_handler_time_limit",
        DEFAULT_HANDLER_TIME_LIMIT,
        "Seconds a handler may run before it fails with HandlerTimeoutError (retried, then "
        "dead-lettered); a handler's own `time_limit` option wins.",
        _seconds,
    ),
    Option(
        "events_wire_version",
        VERSION,
        f"Envelope version `emit` writes: {VERSION} (default; the body is sent and signed as "
        f"it is) or {LEGACY_VERSION}, which workers of earlier releases read: set it while they "
        "are upgraded. Workers read both.",
        _wire_version,
    ),
    Option(
        "events_accept_tasks",
        (),
        "Names or globs of other tasks (Celery's own `celery.*` ones included) that a worker "
        "runs from a queue of events; any other task there is refused as foreign.",
        _task_patterns,
    ),
)
"""The `events_*` settings events-celery itself reads; add-ons declare their own."""

OPTIONS: Mapping[str, Option] = {option.name: option for option in CORE_OPTIONS}
"""events-celery's own settings by name."""


@dataclass(frozen=True)
class EventsSettings:
    """The validated `events_*` settings of one Celery app.

    Attributes:
        keyring: the signing keys, or None when messages are neither signed nor checked.
        serializer: the body codec's name.
        default_queue: where emissions go when nothing else names a queue.
        max_message_bytes: the largest message producers send and workers accept.
        values: every declared setting by name, add-ons' included, validated.
    """

    keyring: Keyring | None
    serializer: str
    default_queue: str
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    values: Mapping[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The validated value of a declared setting (its default when unset).

        Raises:
            ConfigurationError: no installed package declares `name`.
        """
        try:
            return self.values[name]
        except KeyError:
            raise ConfigurationError(name, "no installed add-on declares this setting") from None

    @classmethod
    def from_conf(
        cls,
        conf: Mapping[str, Any],
        namespace: str | None = None,
        options: Iterable[Option] = (),
    ) -> EventsSettings:
        """Read and validate the settings from a Celery `app.conf`.

        Args:
            conf: the app's configuration.
            namespace: the app's setting namespace (Django's `"CELERY"`), if any.
            options: the settings add-ons declare, beside events-celery's own.

        Raises:
            ConfigurationError: an `events_*` key nobody declares, or a value of the wrong
                type, naming it.
        """
        declared = dict(OPTIONS)
        for option in options:
            if option.name in declared:
                raise ConfigurationError(option.name, "declared by more than one package")
            if not option.name.startswith(PREFIX):
                raise ConfigurationError(
                    option.name, f"add-on settings must start with {PREFIX!r}"
                )
            declared[option.name] = option
        spaced = f"{namespace.lower()}_{PREFIX}" if namespace else None
        for key in list(conf.keys()):
            if not isinstance(key, str) or key in declared:
                continue
            lowered = key.lower()
            if spaced and lowered.startswith(spaced):
                if lowered[len(spaced) - len(PREFIX) :] in declared:
                    continue
            elif not lowered.startswith(PREFIX):
                continue
            raise ConfigurationError(key, _unknown_key_problem(key, namespace, declared))
        values: dict[str, Any] = {}
        for name, option in declared.items():
            value = conf.get(name)
            if value is None:
                value = option.default
            if option.check is not None and value is not None:
                value = option.check(value)
            values[name] = value
        keyring = values["events_signing_key"]
        serializer = values["events_serializer"]
        if codecs.get(serializer).unsafe and keyring is None:
            raise ConfigurationError(
                "events_serializer",
                f"the {serializer} codec needs events_signing_key: a worker must never "
                f"decode unsigned {serializer} messages",
            )
        return cls(
            keyring=keyring,
            serializer=values["events_serializer"],
            default_queue=values["events_default_queue"],
            max_message_bytes=values["events_max_message_bytes"],
            values=MappingProxyType(values),
        )

    def accepts(self, codec: str) -> bool:
        """Whether a worker with these settings decodes bodies of the codec named `codec`.

        A safe registered codec, always; an unsafe one (pickle) only when
        `events_serializer` names it.
        """
        return codec == self.serializer or (
            codec in codecs.registry and not codecs.get(codec).unsafe
        )


def _unknown_key_problem(key: str, namespace: str | None, declared: Mapping[str, Option]) -> str:
    name = key.lower()
    if namespace and name.startswith(namespace.lower() + "_"):
        name = name[len(namespace) + 1 :]
    guess = difflib.get_close_matches(name, list(declared), n=1)
    hint = f"; did you mean {guess[0]!r}?" if guess else ""
    known = ", ".join(declared)
    return (
        f"unknown setting (known: {known}){hint}; "
        f"a setting an add-on reads is known once the add-on is installed"
    )
