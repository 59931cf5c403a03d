"""Version of the events-core distribution."""

__version__ = "0.1.0"
