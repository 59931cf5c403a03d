"""Version of the events-celery distribution."""

__version__ = "0.1.0"
