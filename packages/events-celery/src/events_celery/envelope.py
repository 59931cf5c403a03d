"""`Envelope`: the versioned object that is the executing task's only argument.

```
{"v": 3, "id": "...", "event": "OrderPlaced", "codec": "json", "kid": null, "body": "...",
 "sig": null}
```

`codec` names a codec of `events_celery.codecs`; `body` is text that only that codec reads,
after the signature has been checked.

Version 3 (`VERSION`, one emission) signs the canonical JSON of the other fields, a newline
and the body's UTF-8 bytes as they are sent (`events_celery.wire` carries them unescaped).
Version 1 (`LEGACY_VERSION`, still read and, with `events_wire_version = 1`, written) signs
the canonical JSON of all the fields, the body included. Version 2 (`BATCH_VERSION`) is a
batch signed as version 1, whose `body` is a list of emissions (`events_celery.batchwire`);
`id` is the batch's own and `event` is `BATCH_EVENT`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from events_celery import codecs
from events_celery.errors import MalformedEnvelopeError
from events_celery.signing import MAX_KEY_ID, Keyring

VERSION = 3
"""The version of an envelope carrying one emission, signed over the bytes of its body."""

LEGACY_VERSION = 1
"""The first version of an envelope carrying one emission, signed over its JSON."""

BATCH_VERSION = 2
"""The version of an envelope carrying a batch of emissions (`events_celery.batchwire`)."""

VERSIONS = (LEGACY_VERSION, BATCH_VERSION, VERSION)
"""The envelope versions this package writes and reads."""

BATCH_EVENT = "events.batch"
"""The `event` of a batch envelope (each emission in it names its own)."""

MAX_EVENT_NAME = 1024
"""Longest event name an envelope may carry."""

_FIELDS = frozenset({"v", "id", "event", "codec", "kid", "body", "sig"})
_ID = re.compile(r"[0-9a-f]{32}\Z")
_SIG = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Envelope:
    """One emission on the wire; see the module docstring for the shape."""

    id: str
    event: str
    codec: str
    body: str
    kid: str | None = None
    sig: str | None = None
    v: int = VERSION

    @property
    def is_batch(self) -> bool:
        """Whether this envelope carries a batch of emissions (version 2)."""
        return self.v == BATCH_VERSION

    def signed_part(self) -> bytes:
        """The bytes the signature covers: the envelope without `sig` (see the module)."""
        return _signed_part(self.v, self.id, self.event, self.codec, self.kid, self.body)

    def signed_with(self, keyring: Keyring | None) -> Envelope:
        """Return this envelope signed with the keyring's signing key (unchanged if None)."""
        if keyring is None:
            return self
        kid = keyring.signing_kid
        _, signature = keyring.sign(
            _signed_part(self.v, self.id, self.event, self.codec, kid, self.body)
        )
        return Envelope(self.id, self.event, self.codec, self.body, kid, signature, self.v)

    def verify(self, keyring: Keyring | None) -> None:
        """Check the signature against `keyring`; without a keyring there is nothing to check.

        Raises:
            SignatureError: unsigned, unknown key id, or tampered.
        """
        if keyring is not None:
            keyring.verify(self.signed_part(), self.kid, self.sig)

    def to_message(self) -> dict[str, Any]:
        """The JSON object sent as the task's argument."""
        return {
            "v": self.v,
            "id": self.id,
            "event": self.event,
            "codec": self.codec,
            "kid": self.kid,
            "body": self.body,
            "sig": self.sig,
        }

    @classmethod
    def parse(cls, message: object) -> Envelope:
        """Check the shape of a received message without decoding its body.

        Raises:
            MalformedEnvelopeError: not an envelope of this version, naming what is wrong.
        """
        if not isinstance(message, dict):
            raise MalformedEnvelopeError(
                f"expected an envelope object, got {type(message).__name__}"
            )
        keys = set(message)
        if keys != _FIELDS:
            missing = ", ".join(sorted(str(key) for key in _FIELDS - keys)) or "none"
            extra = ", ".join(sorted(repr(key) for key in keys - _FIELDS)) or "none"
            raise MalformedEnvelopeError(f"envelope fields: missing {missing}; unexpected {extra}")
        version = message["v"]
        if type(version) is not int or version not in VERSIONS:
            raise MalformedEnvelopeError(
                f"unsupported envelope version {version!r} "
                f"(this worker reads {' and '.join(map(str, VERSIONS))})"
            )
        _check(message, "id", lambda value: isinstance(value, str) and _ID.match(value))
        _check(
            message,
            "event",
            lambda value: isinstance(value, str) and 0 < len(value) <= MAX_EVENT_NAME,
        )
        _check(message, "codec", lambda value: value in codecs.registry)
        _check(message, "body", lambda value: isinstance(value, str))
        _check(
            message,
            "kid",
            lambda value: (
                value is None or (isinstance(value, str) and 0 < len(value) <= MAX_KEY_ID)
            ),
        )
        _check(
            message,
            "sig",
            lambda value: value is None or (isinstance(value, str) and _SIG.match(value)),
        )
        return cls(
            id=message["id"],
            event=message["event"],
            codec=message["codec"],
            body=message["body"],
            kid=message["kid"],
            sig=message["sig"],
            v=version,
        )


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _signed_part(v: int, id: str, event: str, codec: str, kid: str | None, body: str) -> bytes:
    fields: dict[str, object] = {"v": v, "id": id, "event": event, "codec": codec, "kid": kid}
    try:
        if v == VERSION:
            return _CANONICAL.encode(fields).encode("utf-8") + b"\n" + body.encode("utf-8")
        fields["body"] = body
        return _CANONICAL.encode(fields).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedEnvelopeError("the envelope holds text that is not UTF-8") from exc


def _check(message: dict[Any, Any], field: str, valid: Any) -> None:
    if not valid(message[field]):
        raise MalformedEnvelopeError(f"envelope field {field!r} has an invalid value")
