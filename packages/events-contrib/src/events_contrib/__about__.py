"""Version of the events-contrib distribution."""

__version__ = "0.1.0"
