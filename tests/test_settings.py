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


@pytest.mark.parametrize("value", ["true", "1", "on", "yes", "True"])
def test_the_old_boolean_network_setting_is_refused_and_names_proxy(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AGENTRUNS_SANDBOX_NETWORK", value)
    with pytest.raises(ValueError, match="set it to `proxy`") as raised:
        Settings()
    assert "host's network" in str(raised.value)


@pytest.mark.parametrize(("value", "mode"), [("false", "off"), ("0", "off"), ("off", "off"), ("Proxy", "proxy")])
def test_the_network_is_a_mode(monkeypatch: pytest.MonkeyPatch, value: str, mode: str) -> None:
    monkeypatch.setenv("AGENTRUNS_SANDBOX_NETWORK", value)
    assert Settings().sandbox_network == mode
    assert Settings.model_fields["sandbox_network"].default == "off"


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("AGENTRUNS_SANDBOX_NETWORK_ALLOW", "pypi.org,*.com", "top-level domain"),
        ("AGENTRUNS_SANDBOX_NETWORK_TEST_HOSTS", "allowed.test=10.0.0.1", "loopback"),
    ],
)
def test_network_lists_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=reason):
        Settings()
