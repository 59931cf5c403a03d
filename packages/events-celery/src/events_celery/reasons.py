"""`Reason`: why an emission was refused or dead-lettered, as recorded with it."""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    """Why a message was refused before its handlers ran, or why an emission was given up.

    Members compare equal to their values (`Reason.SIGNATURE == "signature"`), so they can be
    written to JSON and read back as plain strings.
    """

    SIGNATURE = "signature"
    """Unsigned, tampered with, or signed with an unknown key."""
    MALFORMED = "malformed"
    """Not an envelope of a version this worker reads."""
    UNDECODABLE = "undecodable"
    """The body cannot be decoded, or names a type the worker refuses."""
    UNREGISTERED = "unregistered"
    """A linker or handler the worker has not registered for the event."""
    FAILED = "failed"
    """Handlers raised and are out of attempts."""

    __str__ = str.__str__
