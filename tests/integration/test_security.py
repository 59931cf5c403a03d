"""Hostile messages sent to a real worker: none executes, none crashes it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace

from kombu import Connection, Exchange, Producer

from events_celery import CeleryEventEmitter, Envelope
from events_celery.bootstrap import runtime_of
from events_celery.wire import CONTENT_TYPE, encode_message
from tests.integration.handlers import NeverSubscribed
from tests.integration.support import (
    Recorder,
    WorkerProcess,
    base_conf,
    capture_envelope,
    make_app,
)

KEY = "current-key"
OLD_KEY = "old-key"


def signed_conf(queue: str, keys: object = KEY) -> dict[str, object]:
    return base_conf(queue, events_signing_key=keys)


def send_raw(app: object, queue: str, message: object) -> None:
    runtime_of(app).task.apply_async(args=(message,), queue=queue)  # type: ignore[arg-type]


def assert_refused_then_legit_runs(
    app: object, queue: str, worker: WorkerProcess, recorder: Recorder, reason: str, count: int
) -> None:
    worker.wait_log(f"refused ({reason})", count=count)
    CeleryEventEmitter(app).emit("itest.text", "legit", n=1)  # type: ignore[arg-type]
    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert {item["text"] for item in found} == {"legit"}
    assert worker.process.poll() is None


def test_tampered_unsigned_and_wrongly_signed_envelopes_never_run(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = signed_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    good = capture_envelope(app, "itest.text", "original", n=1)
    tampered = replace(good, body=good.body.replace("original", "tampered"))
    unsigned = replace(good, kid=None, sig=None)
    wrong_key = Envelope(good.id, good.event, good.codec, good.body).signed_with(
        runtime_of(make_app(broker_url, signed_conf(queue, "attacker"))).settings.keyring
    )
    unknown_kid = replace(good, kid="not-a-key-id")

    for envelope in (tampered, unsigned, wrong_key, unknown_kid):
        send_raw(app, queue, envelope.to_message())

    assert_refused_then_legit_runs(app, queue, worker, recorder, "signature", 4)
    assert "tampered" not in worker.log()


def test_a_signed_message_naming_an_unregistered_handler_never_runs_it(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = signed_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    good = capture_envelope(app, "itest.text", "x", n=1)
    body = json.loads(good.body)
    body["handlers"] = ["os:system"]
    forged = replace(good, body=json.dumps(body)).signed_with(runtime_of(app).settings.keyring)

    send_raw(app, queue, forged.to_message())

    worker.wait_log("os:system (unregistered)")
    log = worker.wait_log("EmissionFailedError")
    assert "os:system (unregistered)" in log
    assert recorder.settle(0.5) == []
    CeleryEventEmitter(app).emit("itest.text", "legit", n=1)
    assert {item["text"] for item in recorder.wait_for(lambda r: len(r) >= 2)} == {"legit"}


def test_a_signed_message_with_a_type_the_worker_never_subscribed_is_refused(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = signed_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)

    CeleryEventEmitter(app).emit("itest.text", "x", n=NeverSubscribed("s3cr3t"))  # type: ignore[arg-type]
    forged_class = capture_envelope(app, "itest.text", "x", n=1)
    body = json.loads(forged_class.body)
    body["kwargs"]["n"] = {"__t": "dataclass", "c": "subprocess:Popen", "v": {"args": "id"}}
    send_raw(
        app,
        queue,
        replace(forged_class, body=json.dumps(body))
        .signed_with(runtime_of(app).settings.keyring)
        .to_message(),
    )

    assert_refused_then_legit_runs(app, queue, worker, recorder, "undecodable", 2)
    assert "s3cr3t" not in worker.log()


SHAPED = {"v": 1, "id": "0" * 32, "event": "e", "codec": "json", "kid": None, "body": "{}"}
GARBAGE: list[object] = [
    "garbage",
    None,
    42,
    [],
    {"v": 1},
    {**SHAPED, "sig": None, "v": 4},
    {**SHAPED, "sig": None, "codec": "yaml"},
    {**SHAPED, "sig": None, "v": True},
    {**SHAPED, "sig": None, "id": "../etc"},
    SHAPED,
]


def test_garbage_envelopes_are_refused_as_malformed(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)

    for message in GARBAGE:
        send_raw(app, queue, message)

    assert_refused_then_legit_runs(app, queue, worker, recorder, "malformed", len(GARBAGE))


def publish_bytes(
    broker_url: str,
    queue: str,
    body: bytes,
    content_type: str = CONTENT_TYPE,
    content_encoding: str = "utf-8",
) -> None:
    """Publish `body` as it is, in an `events.execute` message of the given content type."""
    headers = {"lang": "py", "task": "events.execute", "id": uuid.uuid4().hex, "argsrepr": "()"}
    with Connection(broker_url) as connection:
        producer = Producer(connection, exchange=Exchange(""), routing_key=queue)
        producer.publish(
            body, content_type=content_type, content_encoding=content_encoding,
            headers=headers, declare=[],
        )  # fmt: skip


def test_envelope_messages_changed_on_the_wire_or_misshapen_never_run(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = signed_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    good = capture_envelope(app, "itest.text", "original", n=1)
    sent = encode_message(((good.to_message(),), {}, None)).encode()
    assert sent.endswith(good.body.encode())

    publish_bytes(broker_url, queue, sent.replace(b"original", b"tampered"))
    worker.wait_log("refused (signature)")
    for hostile in (b"no newline at all", b"\xff\xfe\n{}", b"[" * 5000 + b"\n{}", b"[1]\n{}"):
        publish_bytes(broker_url, queue, hostile)

    assert_refused_then_legit_runs(app, queue, worker, recorder, "undecodable", 4)
    assert worker.log().count("refused (") >= 5
    assert "tampered" not in worker.log()


def test_truncated_bodies_and_undecodable_bytes_do_not_crash_the_worker(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    conf = base_conf(queue)
    worker = worker_factory(broker_url, [queue], conf)
    app = make_app(broker_url, conf)
    good = capture_envelope(app, "itest.text", "x", n=1)
    send_raw(app, queue, replace(good, body=good.body[: len(good.body) // 2]).to_message())
    publish_bytes(broker_url, queue, b"{not json", "application/json")
    pickled = b"\x80\x04\x95pickled"
    publish_bytes(broker_url, queue, pickled, "application/x-python-serialize", "binary")

    assert_refused_then_legit_runs(app, queue, worker, recorder, "undecodable", 1)
    log = worker.log()
    assert "ContentDisallowed" in log or "python-serialize" in log
    assert "DecodeError" in log or "decode" in log.lower()


def test_rotated_keys_are_accepted_while_listed_and_refused_once_removed(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    old_producer = make_app(broker_url, signed_conf(queue, OLD_KEY))
    worker = worker_factory(broker_url, [queue], signed_conf(queue, [KEY, OLD_KEY]))

    CeleryEventEmitter(old_producer).emit("itest.text", "old key", n=1)
    recorder.wait_for(lambda records: len(records) >= 2)
    worker.stop()
    worker = worker_factory(broker_url, [queue], signed_conf(queue, [KEY]))
    CeleryEventEmitter(old_producer).emit("itest.text", "old key after removal", n=2)

    worker.wait_log("refused (signature)")
    new_producer = make_app(broker_url, signed_conf(queue, [KEY, OLD_KEY]))
    CeleryEventEmitter(new_producer).emit("itest.text", "new key", n=3)
    found = recorder.wait_for(lambda records: len(records) >= 4)
    assert sorted({item["n"] for item in found}) == [1, 3]


def test_pickle_is_opt_in_and_never_unpickled_by_a_json_worker(
    broker_url: str, queue: str, recorder: Recorder, worker_factory: Callable[..., WorkerProcess]
) -> None:
    pickled = base_conf(queue, events_signing_key=KEY, events_serializer="pickle")
    json_worker = worker_factory(broker_url, [queue], signed_conf(queue))
    producer = make_app(broker_url, pickled)

    CeleryEventEmitter(producer).emit("itest.text", "pickled for a json worker", n=1)

    json_worker.wait_log("refused (undecodable)")
    assert recorder.settle(0.5) == []
    json_worker.stop()
    worker_factory(broker_url, [queue], pickled)
    CeleryEventEmitter(producer).emit("itest.text", "pickled for a pickle worker", n=2)
    found = recorder.wait_for(lambda records: len(records) >= 2)
    assert {item["text"] for item in found} == {"pickled for a pickle worker"}
