from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events_celery import Envelope
from events_celery.envelope import LEGACY_VERSION, VERSION
from events_celery.errors import MalformedEnvelopeError, SignatureError
from events_celery.signing import Keyring

ID = "0123456789abcdef0123456789abcdef"
SIG = "ab" * 32
KEYRING = Keyring.from_setting({"current": "secret", "previous": "older-secret"})


def envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {"id": ID, "event": "OrderPlaced", "codec": "json", "body": "{}"}
    fields.update(changes)
    return Envelope(**fields)


def message(**changes: Any) -> dict[str, Any]:
    found = envelope().to_message()
    found.update(changes)
    return found


def test_a_message_has_exactly_the_wire_fields() -> None:
    assert envelope(kid="k", sig=SIG).to_message() == {
        "v": VERSION,
        "id": ID,
        "event": "OrderPlaced",
        "codec": "json",
        "kid": "k",
        "body": "{}",
        "sig": SIG,
    }


def test_a_message_may_name_any_registered_codec(
    register_codec: Callable[..., object],
) -> None:
    register_codec("plain")

    assert Envelope.parse(message(codec="plain")).codec == "plain"
    assert Envelope.parse(message(codec="pickle")).codec == "pickle"


def test_a_message_survives_json() -> None:
    sent = envelope(kid="current", sig=SIG)

    assert Envelope.parse(json.loads(json.dumps(sent.to_message()))) == sent


@given(
    id=st.text("0123456789abcdef", min_size=32, max_size=32),
    event=st.text(min_size=1, max_size=50),
    codec=st.sampled_from(["json", "pickle"]),
    body=st.text(),
    kid=st.none() | st.text(min_size=1, max_size=256),
    sig=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_parse_reads_back_every_envelope_it_could_have_sent(
    id: str, event: str, codec: str, body: str, kid: str | None, sig: str | None
) -> None:
    sent = Envelope(id=id, event=event, codec=codec, body=body, kid=kid, sig=sig)  # type: ignore[arg-type]

    assert Envelope.parse(sent.to_message()) == sent


@pytest.mark.parametrize("value", [None, "text", 1, ["v", 1], ("v", 1), b"{}", envelope()])
def test_parse_refuses_anything_but_an_object(value: object) -> None:
    with pytest.raises(MalformedEnvelopeError, match=f"got {type(value).__name__}"):
        Envelope.parse(value)


@pytest.mark.parametrize("field", ["v", "id", "event", "codec", "kid", "body", "sig"])
def test_parse_refuses_a_message_missing_a_field_naming_it(field: str) -> None:
    incomplete = message()
    del incomplete[field]

    with pytest.raises(MalformedEnvelopeError, match=f"missing {field}; unexpected none"):
        Envelope.parse(incomplete)


@pytest.mark.parametrize("extra", ["args", "V", "handlers", 1])
def test_parse_refuses_a_message_with_an_extra_field_naming_it(extra: object) -> None:
    padded: dict[Any, Any] = message()
    padded[extra] = "x"

    with pytest.raises(MalformedEnvelopeError, match=f"missing none; unexpected {extra!r}"):
        Envelope.parse(padded)


def test_parse_refuses_an_empty_object_naming_every_missing_field() -> None:
    with pytest.raises(MalformedEnvelopeError) as caught:
        Envelope.parse({})

    assert "missing body, codec, event, id, kid, sig, v" in str(caught.value)


@pytest.mark.parametrize("version", [4, 0, -1, True, False, 1.0, "1", None, [1]])
def test_parse_refuses_every_version_but_the_integer_ones(version: object) -> None:
    with pytest.raises(MalformedEnvelopeError, match="unsupported envelope version"):
        Envelope.parse(message(v=version))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ID.upper()),
        ("id", ID[:-1]),
        ("id", ID + "0"),
        ("id", ID[:-1] + "g"),
        ("id", ID + "\n"),
        ("id", "01234567-89ab-cdef-0123-456789abcdef"),
        ("id", int(ID, 16)),
        ("id", None),
        ("event", ""),
        ("event", "x" * 1025),
        ("event", 1),
        ("event", None),
        ("event", ["OrderPlaced"]),
        ("codec", "yaml"),
        ("codec", "JSON"),
        ("codec", None),
        ("codec", ["json"]),
        ("body", None),
        ("body", {}),
        ("body", b"{}"),
        ("kid", ""),
        ("kid", "k" * 257),
        ("kid", 1),
        ("kid", ["current"]),
        ("sig", SIG.upper()),
        ("sig", SIG[:-1]),
        ("sig", SIG + "0"),
        ("sig", "zz" * 32),
        ("sig", ""),
        ("sig", 0),
        ("sig", bytes.fromhex(SIG)),
    ],
)
def test_parse_refuses_a_field_of_the_wrong_shape_naming_it(field: str, value: object) -> None:
    with pytest.raises(MalformedEnvelopeError, match=f"envelope field '{field}'"):
        Envelope.parse(message(**{field: value}))


def test_parse_accepts_the_longest_event_name_and_key_id() -> None:
    longest = message(event="x" * 1024, kid="k" * 256, sig=SIG)

    assert Envelope.parse(longest).event == "x" * 1024


def test_malformed_errors_carry_the_malformed_reason() -> None:
    with pytest.raises(MalformedEnvelopeError) as caught:
        Envelope.parse([])

    assert caught.value.reason == "malformed"


def test_signed_bytes_are_the_sorted_compact_fields_a_newline_and_the_body_as_sent() -> None:
    signed = envelope(event="Commande passée", body='{"a":"é\\""}', kid="current", sig=SIG)

    assert signed.signed_part() == (
        b'{"codec":"json","event":"Commande pass\xc3\xa9e",'
        b'"id":"' + ID.encode() + b'","kid":"current","v":3}\n{"a":"\xc3\xa9\\""}'
    )


def test_version_1_signs_the_sorted_compact_json_of_every_field_but_the_signature() -> None:
    signed = envelope(event="Commande passée", kid="current", sig=SIG, v=LEGACY_VERSION)

    assert signed.signed_part() == (
        b'{"body":"{}","codec":"json","event":"Commande pass\xc3\xa9e",'
        b'"id":"' + ID.encode() + b'","kid":"current","v":1}'
    )


def test_a_signature_of_one_version_does_not_verify_as_another() -> None:
    assert KEYRING is not None
    signed = envelope().signed_with(KEYRING)

    with pytest.raises(SignatureError):
        replace(signed, v=LEGACY_VERSION).verify(KEYRING)


def test_canonical_bytes_do_not_depend_on_the_signature() -> None:
    assert envelope(sig=SIG).signed_part() == envelope(sig=None).signed_part()


def test_text_that_cannot_be_utf8_is_refused_as_malformed() -> None:
    with pytest.raises(MalformedEnvelopeError, match="not UTF-8"):
        envelope(event="\ud800").signed_part()


def test_signing_sets_the_key_id_and_a_signature_that_verifies() -> None:
    assert KEYRING is not None

    signed = envelope().signed_with(KEYRING)

    assert signed.kid == "current"
    assert signed.sig is not None
    assert len(signed.sig) == 64
    signed.verify(KEYRING)
    Envelope.parse(signed.to_message()).verify(KEYRING)


def test_signing_without_a_keyring_leaves_the_envelope_unsigned() -> None:
    unsigned = envelope()

    assert unsigned.signed_with(None) is unsigned
    unsigned.verify(None)


def test_an_envelope_signed_with_an_older_key_still_verifies() -> None:
    assert KEYRING is not None
    older = Keyring.from_setting({"previous": "older-secret"})

    envelope().signed_with(older).verify(KEYRING)


def test_signing_again_replaces_the_previous_signature() -> None:
    assert KEYRING is not None
    other = Keyring.from_setting({"other": "other-secret"})

    resigned = envelope().signed_with(other).signed_with(KEYRING)

    assert resigned == envelope().signed_with(KEYRING)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "f" * 32),
        ("event", "OrderPlacedX"),
        ("codec", "pickle"),
        ("body", '{"x":1}'),
        ("kid", "previous"),
        ("v", 2),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: object) -> None:
    assert KEYRING is not None
    signed = envelope().signed_with(KEYRING)

    with pytest.raises(SignatureError, match="does not match"):
        replace(signed, **{field: value}).verify(KEYRING)


def test_the_key_id_is_signed_even_when_two_ids_share_a_key() -> None:
    ring = Keyring.from_setting({"a": "same-secret", "b": "same-secret"})
    signed = envelope().signed_with(ring)

    with pytest.raises(SignatureError):
        replace(signed, kid="b").verify(ring)


@pytest.mark.parametrize(
    "changes",
    [{"kid": None, "sig": None}, {"sig": None}, {"kid": None}],
)
def test_an_unsigned_envelope_is_refused_when_a_key_is_configured(
    changes: dict[str, Any],
) -> None:
    assert KEYRING is not None
    stripped = replace(envelope().signed_with(KEYRING), **changes)

    with pytest.raises(SignatureError, match="not signed"):
        stripped.verify(KEYRING)


def test_an_envelope_signed_with_an_unknown_key_is_refused() -> None:
    stranger = Keyring.from_setting({"stranger": "secret"})

    with pytest.raises(SignatureError, match="unknown key id 'stranger'"):
        envelope().signed_with(stranger).verify(KEYRING)
