"""`Router`: which queue an event is sent to, by name, glob or event class.

```python
from events_contrib.routing import Router

router = Router({"order.*": "orders", "email.sent": {"queue": "emails"}}, default="events")
router.route_for("order.placed")  # "orders"
router.route_for("user.created")  # "events"
```

Exact names (and event classes) come before globs, the first matching glob wins, and an event
no route matches goes to the default queue, as Celery's `task_routes` does.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias, overload

from events_contrib.errors import ConfigurationError
from events_core.events import class_path, event_name, is_event_class

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Router"]

_SETTING = "events_routes"
_DEFAULT_QUEUE = "events"
_GLOB_CHARACTERS = frozenset("*?[")
_Target: TypeAlias = "str | Mapping[str, Any]"


class Router:
    """Maps events to queue names; build it once, then ask `route_for(event)`.

    Args:
        routes: keys are event names, globs (containing `*`, `?` or `[`) or event classes
            (dataclasses or Exception subclasses, routed by their wire name `module:QualName`
            along with their subclasses); values are queue names or `{"queue": name}`.
        default: the queue of events that no route matches.

    Raises:
        ConfigurationError: when a key, a value or `default` is invalid; the message names it.
    """

    # One overload per key type: Mapping is invariant in its keys, so a `dict[str, str]`
    # would not match `Mapping[str | type, ...]` alone.
    @overload
    def __init__(
        self, routes: Mapping[str | type, _Target] | None = ..., default: str = ...
    ) -> None: ...
    @overload
    def __init__(self, routes: Mapping[str, _Target], default: str = ...) -> None: ...
    @overload
    def __init__(self, routes: Mapping[type, _Target], default: str = ...) -> None: ...
    def __init__(
        self, routes: Mapping[Any, _Target] | None = None, default: str = _DEFAULT_QUEUE
    ) -> None:
        self._default = _queue_name("the default queue", default)
        if not isinstance(routes, (Mapping, type(None))):
            raise ConfigurationError(
                _SETTING, f"must be a mapping of events to queues, got {routes!r}"
            )
        self._routes: dict[str, str] = {}
        for key, value in (routes or {}).items():
            name = _route_key(key)
            queue = _route_queue(key, value)
            if self._routes.get(name, queue) != queue:
                raise ConfigurationError(
                    _SETTING,
                    f"{name!r} is routed twice, to {self._routes[name]!r} and to {queue!r}",
                )
            self._routes[name] = queue
        self._exact = {k: q for k, q in self._routes.items() if not _is_glob(k)}
        self._globs = tuple(
            (re.compile(fnmatch.translate(k)), q) for k, q in self._routes.items() if _is_glob(k)
        )

    @property
    def default(self) -> str:
        """The queue of events that no route matches."""
        return self._default

    @property
    def routes(self) -> Mapping[str, str]:
        """A read-only view of the routes, keyed by event name or glob, in the order given."""
        return MappingProxyType(self._routes)

    def route_for(self, event: object) -> str:
        """Return the queue `event` is sent to.

        A name is looked up exactly, then against each glob in order. An event instance is
        looked up by the wire name of each class in its MRO (so a route for a base class
        covers its subclasses), then its own wire name against each glob.

        Args:
            event: an event name, or a dataclass or exception instance.

        Raises:
            InvalidEventError: when `event` is not an event.
        """
        name = event_name(event)
        exact = (name,) if isinstance(event, str) else map(class_path, type(event).__mro__)
        for candidate in exact:
            if candidate in self._exact:
                return self._exact[candidate]
        for pattern, queue in self._globs:
            if pattern.match(name) is not None:
                return queue
        return self._default

    def queues(self) -> frozenset[str]:
        """Return every queue this router sends to, the default included."""
        return frozenset(self._routes.values()) | {self._default}

    def __repr__(self) -> str:
        return f"Router({self._routes!r}, default={self._default!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Router):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[object, ...]:
        # Exact routes are equal in any order; globs are tried in order, so theirs counts.
        return (self._default, frozenset(self._exact.items()), self._globs)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], default: str | None = None) -> Router:
        """Load a router from a TOML file with an optional `default` and a `[routes]` table.

        ```toml
        default = "events"
        [routes]
        "order.*" = "orders"
        "email.sent" = { queue = "emails" }
        ```

        Args:
            path: the TOML file.
            default: the default queue; when given, it wins over the file's `default`.

        Raises:
            ConfigurationError: when the file cannot be read, is not TOML, or has the wrong
                shape; the message names the file.
        """
        return cls._load(path, default, _DEFAULT_QUEUE)

    @classmethod
    def from_setting(cls, value: object, default: str) -> Router:
        """Build a router from the `events_routes` setting.

        Args:
            value: a `Router` (returned as is), a mapping (as `Router` takes), or the path of
                a TOML file (see `from_toml`).
            default: the default queue (`events_default_queue`), used unless the value names
                its own: a `Router` always does, a TOML file may.

        Raises:
            ConfigurationError: when `value` is none of these, or is invalid.
        """
        if isinstance(value, Router):
            return value
        if isinstance(value, Mapping):
            return cls(value, default=default)
        if isinstance(value, (str, os.PathLike)):
            return cls._load(value, None, default)
        raise ConfigurationError(
            _SETTING,
            f"must be a Router, a mapping of events to queues or the path of a TOML file, "
            f"got {value!r}",
        )

    @classmethod
    def _load(cls, path: str | os.PathLike[str], default: str | None, fallback: str) -> Router:
        """Build a router from a TOML file: `default` over the file's over `fallback`."""
        routes, file_default = _read_toml(path)
        file_default = fallback if file_default is None else file_default
        chosen = file_default if default is None else default
        try:
            return cls(routes, default=chosen)
        except ConfigurationError as exc:
            raise ConfigurationError(_SETTING, f"{os.fspath(path)}: {exc.problem}") from exc


def _is_glob(key: str) -> bool:
    """Return whether a route key is a glob rather than an exact name."""
    return not _GLOB_CHARACTERS.isdisjoint(key)


def _route_key(key: object) -> str:
    """Return the name or glob a route key stands for."""
    if isinstance(key, str):
        if key:
            return str(key)
        raise ConfigurationError(_SETTING, "a route key is empty: name an event or a glob")
    if is_event_class(key):
        assert isinstance(key, type)
        return class_path(key)
    raise ConfigurationError(
        _SETTING,
        f"route key {key!r} is not an event name, a glob or an event class "
        f"(a dataclass or Exception subclass)",
    )


def _route_queue(key: object, value: object) -> str:
    """Return the queue name of a route value: a name or `{"queue": name}`."""
    if isinstance(value, Mapping):
        extra = sorted(str(option) for option in value if option != "queue")
        if extra:
            raise ConfigurationError(
                _SETTING,
                f"route for {key!r} has option(s) {', '.join(map(repr, extra))}: "
                f"only 'queue' is supported",
            )
        if "queue" not in value:
            raise ConfigurationError(_SETTING, f"route for {key!r} has no 'queue'")
        value = value["queue"]
    return _queue_name(f"the route for {key!r}", value)


def _queue_name(what: str, value: object) -> str:
    """Return `value` if it is a queue name (a non-empty string), else raise."""
    if isinstance(value, str) and value:
        return str(value)
    raise ConfigurationError(
        _SETTING, f"{what} must name a queue (a non-empty string), got {value!r}"
    )


def _read_toml(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Any]:
    """Return the `[routes]` table and the `default` (None if absent) of a TOML file."""
    where = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigurationError(
            _SETTING, f"cannot read routes file {where}: {exc.strerror or exc}"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(_SETTING, f"{where} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"default", "routes"})
    if unknown:
        raise ConfigurationError(
            _SETTING, f"{where}: unknown key(s) {unknown}; expected 'default' and [routes]"
        )
    routes = data.get("routes", {})
    if not isinstance(routes, dict):
        raise ConfigurationError(_SETTING, f"{where}: 'routes' must be a table, got {routes!r}")
    return routes, data.get("default")
