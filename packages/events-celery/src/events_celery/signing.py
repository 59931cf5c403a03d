"""HMAC-SHA256 signing of envelopes, with key ids for rotation."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from events_celery.errors import ConfigurationError, SignatureError

SETTING = "events_signing_key"

MAX_KEY_ID = 256
"""Longest key id an envelope may carry."""


def derive_key_id(key: bytes) -> str:
    """Return the id of a key given without one: a short hash, so the key itself never travels."""
    return hashlib.sha256(b"events-celery key id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The keys a process signs with (the first) and accepts (any of them)."""

    signing_kid: str
    keys: Mapping[str, bytes]

    def __repr__(self) -> str:
        return f"Keyring(signing_kid={self.signing_kid!r}, kids={sorted(self.keys)!r})"

    @classmethod
    def from_setting(cls, value: object) -> Keyring | None:
        """Build a keyring from `events_signing_key`: a key, a list of keys, or {kid: key}.

        Raises:
            ConfigurationError: the value is of the wrong type or holds an empty key.
        """
        if value is None:
            return None
        if isinstance(value, (str, bytes)):
            key = _as_key(value, SETTING)
            return cls(derive_key_id(key), {derive_key_id(key): key})
        if isinstance(value, Mapping):
            if not value:
                raise ConfigurationError(SETTING, "the mapping of key ids to keys is empty")
            keys: dict[str, bytes] = {}
            for kid, raw in value.items():
                if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KEY_ID:
                    raise ConfigurationError(
                        SETTING, f"every key id must be a string of 1 to {MAX_KEY_ID} characters"
                    )
                keys[kid] = _as_key(raw, f"{SETTING}[{kid!r}]")
            return cls(next(iter(keys)), keys)
        if isinstance(value, (list, tuple)):
            if not value:
                raise ConfigurationError(SETTING, "the list of keys is empty")
            listed = [_as_key(raw, f"{SETTING}[{index}]") for index, raw in enumerate(value)]
            keys = {derive_key_id(key): key for key in listed}
            return cls(derive_key_id(listed[0]), keys)
        raise ConfigurationError(
            SETTING,
            f"expected a str or bytes key, a list of keys or a mapping of key ids to keys, "
            f"got {type(value).__name__}",
        )

    def sign(self, payload: bytes) -> tuple[str, str]:
        """Return (key id, hex HMAC-SHA256) of `payload` with the signing key."""
        return self.signing_kid, _mac(self.keys[self.signing_kid], payload)

    def verify(self, payload: bytes, kid: str | None, signature: str | None) -> None:
        """Check `signature` over `payload` in constant time.

        Raises:
            SignatureError: unsigned, signed with a key id this keyring lacks, or tampered.
        """
        if kid is None or signature is None:
            raise SignatureError("the envelope is not signed and a signing key is configured")
        key = self.keys.get(kid)
        if key is None:
            raise SignatureError(f"the envelope is signed with unknown key id {kid!r}")
        if not hmac.compare_digest(_mac(key, payload), signature):
            raise SignatureError("the envelope's signature does not match its content")


def _mac(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def _as_key(raw: object, where: str) -> bytes:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not isinstance(raw, bytes):
        raise ConfigurationError(where, f"a key must be str or bytes, got {type(raw).__name__}")
    if not raw:
        raise ConfigurationError(where, "a key must not be empty")
    return raw
