"""What storage tells the layers above once a transaction that stored events or scheduled webhook deliveries has
committed: through the listeners they register, so that storage imports nothing above it."""

from typing import Protocol


class CommitListener(Protocol):
    """Told of commits of this process, from whichever thread committed (so it must be thread-safe)."""

    def publish(self, run_id: str) -> None:
        """Events of the run were stored."""

    def deliveries_scheduled(self) -> None:
        """Webhook deliveries were scheduled."""


_listeners: list[CommitListener] = []


def listen(listener: CommitListener) -> None:
    """Tell `listener` of every later commit of this process (once, however often it is registered)."""
    if not any(known is listener for known in _listeners):
        _listeners.append(listener)


def events_stored(run_id: str) -> None:
    """Events of the run were stored by a transaction that committed."""
    for listener in _listeners:
        listener.publish(run_id)


def deliveries_scheduled() -> None:
    """Webhook deliveries were scheduled by a transaction that committed."""
    for listener in _listeners:
        listener.deliveries_scheduled()
