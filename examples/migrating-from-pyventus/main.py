"""Emit one event for the worker: python main.py"""

from worker import app

from events_celery import CeleryEventEmitter


def main() -> None:
    event_emitter = CeleryEventEmitter(app)
    event_emitter.emit("StringEvent")


if __name__ == "__main__":
    main()
