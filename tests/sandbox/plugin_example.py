"""A sandbox provider plugin as a package would ship it; it stands in for a remote provider in the tests."""

from pathlib import Path

from agentruns.sandbox.protocol import Sandbox, SandboxLimits
from agentruns.sandbox.unisolated import SubprocessSandbox


class ExampleSandbox(SubprocessSandbox):
    """A provider of its own name; a real plugin would call its service's API in each method."""

    provider = "example"


def make(workspace: Path, limits: SandboxLimits, *, network: bool) -> Sandbox:
    """The plugin's entry point: `agentruns.sandboxes` → `example = tests.sandbox.plugin_example:make`."""
    del network  # a remote provider would open or close its sandbox's egress here
    return ExampleSandbox(workspace, limits)
