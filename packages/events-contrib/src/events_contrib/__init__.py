"""Retries with backoff, routing of events to queues, and a dead-letter queue."""
