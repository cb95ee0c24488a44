"""Settings are read from the environment and refused at start when they contradict each other."""

import pytest

from agentruns.settings import Settings


def test_settings_come_from_agentruns_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTRUNS_WORKER_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("AGENTRUNS_WORKER_DEAD_AFTER_SECONDS", "1.5")

    settings = Settings()

    assert (settings.worker_heartbeat_seconds, settings.worker_dead_after_seconds) == (0.5, 1.5)


def test_a_worker_is_not_declared_dead_before_it_missed_three_heartbeats() -> None:
    with pytest.raises(ValueError, match="at least 3 times AGENTRUNS_WORKER_HEARTBEAT_SECONDS"):
        Settings(worker_heartbeat_seconds=5, worker_dead_after_seconds=14)
