"""A run's events: the event log's payloads, the live stream (SSE) and the wake-ups that drive it."""
