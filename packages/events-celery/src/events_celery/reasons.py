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
    WORKER_LOST = "worker_lost"
    """Delivered `events_max_deliveries` times without finishing (its process died)."""
    TOO_LARGE = "too_large"
    """The message is larger than `events_max_message_bytes`."""
    TOO_DEEP = "too_deep"
    """The message nests deeper than a worker accepts."""
    FOREIGN = "foreign"
    """Not an `events.execute` message, on a queue of events."""

    __str__ = str.__str__
