"""Sandbox providers installed as plugins: packages that declare an `agentruns.sandboxes` entry point."""

from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, cast

from agentruns.sandbox.errors import SandboxUnavailable
from agentruns.sandbox.protocol import Sandbox, SandboxLimits

ENTRY_POINT_GROUP = "agentruns.sandboxes"


class SandboxFactory(Protocol):
    """What a provider plugin's entry point names: a callable (often the class) that makes a run's sandbox.

    It must be quick and must not contact the provider: the sandbox does that in `start`.
    """

    def __call__(self, workspace: Path, limits: SandboxLimits, *, network: bool) -> Sandbox: ...


def installed_providers() -> list[str]:
    """The names of the provider plugins installed in this environment."""
    return sorted(entry.name for entry in entry_points(group=ENTRY_POINT_GROUP))


def plugin_factory(name: str) -> SandboxFactory:
    """The factory of the provider plugin called `name`.

    Raises:
        SandboxUnavailable: No installed package provides it.
    """
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return cast(SandboxFactory, entry.load())
    installed = ", ".join(installed_providers()) or "none"
    raise SandboxUnavailable(
        f"no sandbox provider {name!r} is installed (installed plugins: {installed}); install the package "
        f"that declares it as an {ENTRY_POINT_GROUP!r} entry point"
    )
