from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from events_celery.errors import ConfigurationError, SignatureError
from events_celery.signing import Keyring, derive_key_id

PAYLOAD = b'{"body":"{}","event":"OrderPlaced"}'


def keyring(value: object) -> Keyring:
    found = Keyring.from_setting(value)
    assert found is not None
    return found


def test_no_key_gives_no_keyring() -> None:
    assert Keyring.from_setting(None) is None


def test_a_str_key_signs_under_its_derived_id() -> None:
    ring = keyring("secret")

    kid, signature = ring.sign(PAYLOAD)

    assert kid == derive_key_id(b"secret")
    assert dict(ring.keys) == {kid: b"secret"}
    assert signature == hmac.new(b"secret", PAYLOAD, hashlib.sha256).hexdigest()


def test_a_str_key_and_the_same_key_as_utf8_bytes_are_the_same_key() -> None:
    assert keyring("clé") == keyring("clé".encode())


def test_a_bytes_key_is_used_as_it_is() -> None:
    raw = bytes(range(256))
    ring = keyring(raw)

    assert ring.keys[ring.signing_kid] == raw
    ring.verify(PAYLOAD, *ring.sign(PAYLOAD))


@pytest.mark.parametrize("container", [list, tuple])
def test_a_list_of_keys_signs_with_the_first_and_accepts_any(container: type) -> None:
    ring = keyring(container(["new", b"old", "older"]))
    old_only = keyring("old")
    older_only = keyring("older")

    assert ring.signing_kid == derive_key_id(b"new")
    assert set(ring.keys) == {derive_key_id(key) for key in (b"new", b"old", b"older")}
    ring.verify(PAYLOAD, *old_only.sign(PAYLOAD))
    ring.verify(PAYLOAD, *older_only.sign(PAYLOAD))
    old_only.verify(PAYLOAD, *keyring(["old", "new"]).sign(PAYLOAD))
    with pytest.raises(SignatureError):
        old_only.verify(PAYLOAD, *ring.sign(PAYLOAD))


def test_a_mapping_uses_its_key_ids_and_signs_with_the_first() -> None:
    ring = keyring({"2024-06": "current", "2024-01": b"previous"})

    kid, _ = ring.sign(PAYLOAD)

    assert kid == "2024-06"
    assert dict(ring.keys) == {"2024-06": b"current", "2024-01": b"previous"}
    ring.verify(PAYLOAD, *keyring({"2024-01": "previous"}).sign(PAYLOAD))


def test_a_key_id_the_keyring_lacks_is_unknown_even_if_it_holds_the_same_key() -> None:
    ring = keyring({"a": "secret"})
    _, signature = ring.sign(PAYLOAD)

    with pytest.raises(SignatureError, match="unknown key id 'a'"):
        keyring({"b": "secret"}).verify(PAYLOAD, "a", signature)
    with pytest.raises(SignatureError, match="unknown key id 'a'"):
        keyring("secret").verify(PAYLOAD, "a", signature)


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    [
        ("", "events_signing_key", "must not be empty"),
        (b"", "events_signing_key", "must not be empty"),
        ([], "events_signing_key", "list of keys is empty"),
        ((), "events_signing_key", "list of keys is empty"),
        ({}, "events_signing_key", "mapping of key ids to keys is empty"),
        (["good", ""], "events_signing_key[1]", "must not be empty"),
        (["good", 3], "events_signing_key[1]", "must be str or bytes, got int"),
        ([bytearray(b"key")], "events_signing_key[0]", "got bytearray"),
        ([["nested"]], "events_signing_key[0]", "got list"),
        ({"kid": ""}, "events_signing_key['kid']", "must not be empty"),
        ({"kid": None}, "events_signing_key['kid']", "got NoneType"),
        ({"": "key"}, "events_signing_key", "a string of 1 to 256 characters"),
        ({1: "key"}, "events_signing_key", "a string of 1 to 256 characters"),
        (42, "events_signing_key", "got int"),
        (bytearray(b"key"), "events_signing_key", "got bytearray"),
        ({"a", "b"}, "events_signing_key", "got set"),
    ],
)
def test_every_invalid_form_of_the_setting_is_refused_naming_where(
    value: Any, where: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_setting(value)

    assert caught.value.setting == where
    assert problem in caught.value.problem


def test_a_refused_key_is_never_quoted_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_setting({"kid": 123456789})

    assert "123456789" not in str(caught.value)


@pytest.mark.parametrize("key", [b"secret", b"deadbeefcafe0123", b"0123456789abcdef0123", b"k"])
def test_a_derived_key_id_does_not_contain_the_key(key: bytes) -> None:
    kid = derive_key_id(key)

    assert len(kid) == 16
    assert all(char in "0123456789abcdef" for char in kid)
    assert key.decode() not in kid
    assert key.hex() not in kid
    assert kid != hashlib.sha256(key).hexdigest()[:16]


def test_different_keys_get_different_ids() -> None:
    assert derive_key_id(b"one") != derive_key_id(b"two")


def test_verify_refuses_an_unsigned_payload() -> None:
    ring = keyring("secret")
    _, signature = ring.sign(PAYLOAD)

    with pytest.raises(SignatureError, match="not signed"):
        ring.verify(PAYLOAD, None, None)
    with pytest.raises(SignatureError, match="not signed"):
        ring.verify(PAYLOAD, ring.signing_kid, None)
    with pytest.raises(SignatureError, match="not signed"):
        ring.verify(PAYLOAD, None, signature)


def test_verify_refuses_an_unknown_key_id() -> None:
    ring = keyring("secret")
    _, signature = ring.sign(PAYLOAD)

    with pytest.raises(SignatureError, match="unknown key id 'other'"):
        ring.verify(PAYLOAD, "other", signature)


@pytest.mark.parametrize(
    "tampered",
    [PAYLOAD + b" ", PAYLOAD.replace(b"Order", b"order"), b"", PAYLOAD[:-1]],
)
def test_verify_refuses_a_tampered_payload(tampered: bytes) -> None:
    ring = keyring("secret")
    kid, signature = ring.sign(PAYLOAD)

    with pytest.raises(SignatureError, match="does not match"):
        ring.verify(tampered, kid, signature)


def test_verify_refuses_a_signature_made_with_another_key_under_the_same_id() -> None:
    forged = hmac.new(b"guess", PAYLOAD, hashlib.sha256).hexdigest()
    ring = keyring({"kid": "secret"})

    with pytest.raises(SignatureError, match="does not match"):
        ring.verify(PAYLOAD, "kid", forged)


def test_verify_refuses_an_altered_signature() -> None:
    ring = keyring("secret")
    kid, signature = ring.sign(PAYLOAD)
    altered = ("0" if signature[0] != "0" else "1") + signature[1:]

    with pytest.raises(SignatureError):
        ring.verify(PAYLOAD, kid, altered)
    with pytest.raises(SignatureError):
        ring.verify(PAYLOAD, kid, signature.upper())


def test_signature_errors_are_refusals_with_the_signature_reason() -> None:
    with pytest.raises(SignatureError) as caught:
        keyring("secret").verify(PAYLOAD, None, None)

    assert caught.value.reason == "signature"


@pytest.mark.parametrize(
    "value",
    ["s3cr3t-value", b"s3cr3t-value", ["s3cr3t-value", "0ld-s3cr3t"], {"k1": "s3cr3t-value"}],
)
def test_the_repr_of_a_keyring_never_shows_a_key(value: object) -> None:
    ring = keyring(value)

    for text in (repr(ring), str(ring), f"{ring}", repr([ring])):
        assert "s3cr3t" not in text
        assert "0ld" not in text
        assert ring.signing_kid in text


def test_a_key_id_the_wire_format_refuses_is_refused_at_configuration() -> None:
    with pytest.raises(ConfigurationError):
        Keyring.from_setting({"k" * 300: "secret"})
