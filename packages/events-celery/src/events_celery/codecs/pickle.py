"""The pickle codec, opt-in: `args` and `kwargs` as one base64 pickle, for signed messages only.

Unpickling runs code, so this codec trusts whoever holds the signing key: settings refuse it
without `events_signing_key`, and a worker decodes it only after checking the signature and
only when its own `events_serializer` is `"pickle"`.
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Mapping
from typing import Any

from events_celery.classpath import TypeResolver
from events_celery.errors import DecodeError, EncodeError

__all__ = ["PickleCodec", "encode_pickle", "decode_pickle", "PICKLE_PROTOCOL"]

PICKLE_PROTOCOL = 5
"""Pickle protocol of the pickle codec (every supported Python reads it)."""


class PickleCodec:
    """The opt-in codec: the body's `pickle` field, base64 of a pickle of `(args, kwargs)`.

    Unsafe: anyone able to sign a message can make the worker run code.
    """

    name = "pickle"
    unsafe = True

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Return the body field `pickle`.

        Raises:
            EncodeError: the payload cannot be pickled.
        """
        return {"pickle": encode_pickle((tuple(args), dict(kwargs)))}

    def decode(
        self, fields: Mapping[str, Any], resolve: TypeResolver | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Unpickle `args` and `kwargs` from the body's fields; `resolve` is not used.

        Raises:
            DecodeError: the field is missing, not a pickle, or not a pair (args, kwargs).
        """
        payload = fields.get("pickle")
        if not isinstance(payload, str):
            raise DecodeError("body field 'pickle' must be a string")
        decoded = decode_pickle(payload)
        if not (
            isinstance(decoded, tuple)
            and len(decoded) == 2
            and isinstance(decoded[0], tuple)
            and isinstance(decoded[1], dict)
        ):
            raise DecodeError("the pickled payload must be a pair (args, kwargs)")
        return decoded[0], decoded[1]


def encode_pickle(value: Any) -> str:
    """Pickle `value` (protocol `PICKLE_PROTOCOL`) and return it as base64 text.

    Raises:
        EncodeError: `value` cannot be pickled.
    """
    try:
        data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise EncodeError("value", f"cannot be pickled ({type(exc).__name__}: {exc})") from exc
    return base64.b64encode(data).decode("ascii")


def decode_pickle(text: str) -> Any:
    """Unpickle base64 `text`. Call only after the envelope's signature was verified.

    Raises:
        DecodeError: `text` is not base64 or not a pickle this process can load.
    """
    try:
        data = base64.b64decode(text, validate=True)
        # Unpickling runs code: the caller has verified the envelope's signature first.
        return pickle.loads(data)  # noqa: S301
    except Exception as exc:
        raise DecodeError(f"pickle body cannot be loaded ({type(exc).__name__})") from exc
