"""Each run's sandbox: checked when a worker starts, started with its run, closed when the run ends.

The workspace outlives a crash of the worker: the run, resumed by the restarted worker or by any worker
that sees the same workspace root, starts a new sandbox over it and finds its files. When the run ends,
the workspace is deleted, or kept for `AGENTRUNS_WORKSPACE_KEEP_SECONDS` (`runtimeState` `archived`) and
then deleted by a worker's sweep (`engine/workspace_sweep.py`).
"""

import asyncio
import contextlib
import shutil
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from dbos import error as dbos_error

from agentruns.engine.context import WorkerContext
from agentruns.engine.recorder import DatabaseRecorder
from agentruns.sandbox import cgroups
from agentruns.sandbox.availability import make_sandbox, usable_filter, usable_provider
from agentruns.sandbox.bubblewrap import PROVIDER as BUBBLEWRAP
from agentruns.sandbox.bubblewrap import BubblewrapSandbox, check_reachable, host_user
from agentruns.sandbox.egress.access import NetworkAccess, network_access
from agentruns.sandbox.errors import SandboxError, SandboxUnavailable
from agentruns.sandbox.plugins import plugin_factory
from agentruns.sandbox.protocol import Sandbox, SandboxLimits
from agentruns.sandbox.root import prepare_root, remove, workspace_path
from agentruns.sandbox.unisolated import PROVIDER as UNISOLATED
from agentruns.settings import Settings

ROOT_SETTING = "AGENTRUNS_WORKSPACE_ROOT"


def limits_for(settings: Settings, *, cpu: int, memory_mib: int) -> SandboxLimits:
    """A run's limits: the agent's `sandbox` size and the deployment's bounds."""
    return SandboxLimits(
        cpu=cpu,
        memory_mib=memory_mib,
        max_processes=settings.sandbox_max_processes,
        max_file_mib=settings.sandbox_max_file_mib,
        max_workspace_mib=settings.sandbox_max_workspace_mib,
        max_workspace_entries=settings.sandbox_max_workspace_files,
        command_timeout_seconds=settings.sandbox_command_timeout_seconds,
    )


def limits_enforcement(provider: str) -> str:
    """What enforces the limits of this worker's sandboxes (for its start-up line)."""
    if provider == BUBBLEWRAP:
        return cgroups.enforcement()
    if provider == UNISOLATED:
        return "rlimits only (the development fallback)"
    return f"the {provider} provider"


def syscall_filtering(settings: Settings, provider: str) -> str:
    """What filters the system calls of this worker's sandboxes (for its start-up line).

    Raises:
        SandboxUnavailable: They are bubblewrap's, no seccomp filter can be applied here, and
            `AGENTRUNS_ALLOW_UNFILTERED_SANDBOX` does not allow running without one.
    """
    if provider == BUBBLEWRAP:
        return usable_filter(allow_unfiltered=settings.allow_unfiltered_sandbox)
    if provider == UNISOLATED:
        return "no seccomp filter (the development fallback)"
    return f"the {provider} provider"


def check_worker(settings: Settings) -> str:
    """Make sure the runs of a worker with these settings can run tools; the provider they will get.

    It creates the workspace root if it is missing. The unisolated fallback, or bubblewrap without a seccomp
    filter, when allowed and needed, is logged as a WARNING.

    Raises:
        SandboxUnavailable: They could not; the message says why and how to fix it.
    """
    if settings.sandbox_provider != BUBBLEWRAP:
        plugin_factory(settings.sandbox_provider)  # installed, or SandboxUnavailable naming those that are
        provider = settings.sandbox_provider
    else:
        provider = usable_provider(allow_unisolated=settings.allow_unisolated_sandbox, bwrap=settings.bwrap_path)
    syscall_filtering(settings, provider)
    try:
        root = prepare_root(settings.workspace_root)
    except OSError as exc:
        raise SandboxUnavailable(f"the workspace root ({ROOT_SETTING}) cannot be created: {exc}") from None
    if provider == BUBBLEWRAP and settings.sandbox_network == "proxy" and shutil.which("socat") is None:
        raise SandboxUnavailable(
            "AGENTRUNS_SANDBOX_NETWORK=proxy needs socat, which bridges each jail to its egress proxy: install it "
            "(Debian/Ubuntu: apt-get install socat; Fedora/RHEL: dnf install socat), or set the network off"
        )
    owner = host_user()
    if provider == BUBBLEWRAP and owner is not None:
        try:
            check_reachable(root, owner)
        except SandboxError as exc:
            raise SandboxUnavailable(f"tools cannot run: {exc}; or set {ROOT_SETTING} to such a directory") from None
    return provider


def network_for(settings: Settings, agent_allow: list[str] | None) -> NetworkAccess | None:
    """The run's network access: None when `AGENTRUNS_SANDBOX_NETWORK` is off; else its policy, from the agent's
    allowlist or the deployment's default.

    Raises:
        SandboxError: The agent's stored allowlist no longer parses.
    """
    try:
        return network_access(settings.sandbox_network, agent_allow=agent_allow,
                              default_allow=settings.sandbox_network_allow,
                              test_hosts=settings.sandbox_network_test_hosts)  # fmt: skip
    except ValueError as exc:
        raise SandboxError(f"the agent's network allowlist is invalid: {exc}") from None


def describe_network(network: NetworkAccess | None) -> str:
    """The run's network as its `runtime` log states it."""
    if network is None:
        return "network off"
    return f"network through the egress proxy to {network.policy.allowlist}"


async def start_sandbox(
    settings: Settings, recorder: DatabaseRecorder, *, cpu: int, memory_mib: int, network: NetworkAccess | None = None
) -> Sandbox:
    """Start the run's sandbox over its workspace (new, or the one it had before a crash), noted for the recorder's
    next write, which shows it on the run: the run's start, when the run starts (one transaction for both).

    Raises:
        SandboxError: It could not start; noted too, so that the next write shows `runtimeState` `error`.
    """
    run_id = recorder.run_id
    limits = limits_for(settings, cpu=cpu, memory_mib=memory_mib)
    sandbox = make_sandbox(
        workspace_path(settings.workspace_root, run_id), limits, allow_unisolated=settings.allow_unisolated_sandbox,
        network=network, provider=settings.sandbox_provider, bwrap=settings.bwrap_path,
        allow_unfiltered=settings.allow_unfiltered_sandbox,
    )  # fmt: skip
    try:
        await sandbox.start()
    except SandboxError:
        await close_sandbox(sandbox, settings, recorder, run_ended=True, deferred=True)
        raise
    except OSError as exc:  # the workspace could not be made or handed to the sandbox's user
        await close_sandbox(sandbox, settings, recorder, run_ended=True, deferred=True)
        raise SandboxError(f"the workspace could not be prepared: {exc}") from exc
    isolation = " WITHOUT ISOLATION (the development fallback)" if sandbox.provider == UNISOLATED else ""
    bubblewrap = isinstance(sandbox, BubblewrapSandbox)
    enforced = f", limits by {sandbox.enforcement}, {sandbox.syscall_filter}" if bubblewrap else ""
    recorder.note_runtime(
        f"sandbox {sandbox.provider} {sandbox.runtime_id} started{isolation}: {limits.cpu} cpu, "
        f"{limits.memory_mib} MiB memory, {limits.max_processes} processes, files up to {limits.max_file_mib} MiB, "
        f"workspace up to {limits.max_workspace_mib} MiB and {limits.max_workspace_entries} entries, "
        f"commands up to {limits.command_timeout_seconds:g} s, {describe_network(network)}{enforced}"
    )
    recorder.note_sandbox(provider=sandbox.provider, runtime_id=sandbox.runtime_id, runtime_state="running")
    return sandbox


async def discard_sandbox(sandbox: Sandbox) -> None:
    """Stop the sandbox of a run that was cancelled as it started, and delete the workspace it never used."""
    await sandbox.stop()
    with contextlib.suppress(OSError):  # else the workspace sweep deletes it in time
        await remove(sandbox.workspace)


async def close_sandbox(
    sandbox: Sandbox, settings: Settings, recorder: DatabaseRecorder, *, run_ended: bool, deferred: bool = False
) -> None:
    """Stop the sandbox's processes; if the run has ended, also keep or delete its workspace and show which: now,
    or, `deferred`, with the recorder's next write (the caller's record of how the run ended, which then shows both
    at once, one transaction fewer).

    A worker that stops (`run_ended` false) leaves the workspace and the run's `runtimeState` as they are:
    the run is resumed over the same workspace.
    """
    await sandbox.stop()
    if not run_ended:
        return
    keep = settings.workspace_keep_seconds
    state = "error" if sandbox.state == "error" else "archived" if keep > 0 else "ended"
    if keep > 0:
        recorder.note_runtime(f"sandbox stopped; the workspace is kept for {keep:g} s")
    else:
        try:
            await remove(sandbox.workspace)
            recorder.note_runtime("sandbox stopped; the workspace was deleted")
        except OSError as exc:  # the sweep tries again
            recorder.note_runtime(f"sandbox stopped; the workspace could not be deleted yet: {exc}")
    # With or before the run's end, so that both show at once. A sandbox that failed to start shows here.
    shown = {"provider": sandbox.provider, "runtime_id": sandbox.runtime_id, "runtime_state": state}
    if deferred:
        recorder.note_sandbox(**shown)
    else:
        await recorder.show_sandbox(**shown)


@dataclass
class Lease:
    """What a run's use of its sandbox comes to: `run_ends` false when the run only waits (a question, a child
    run) and will go on over the same workspace."""

    run_ends: bool = True


@asynccontextmanager
async def closing(sandbox: Sandbox, context: WorkerContext, recorder: DatabaseRecorder) -> AsyncGenerator[Lease]:
    """Close the sandbox when the block ends: for good if the run ended in it, processes only if the worker stops
    or the run waits."""
    settings = context.settings
    lease = Lease()
    try:
        yield lease
    except asyncio.CancelledError:
        # The run was cancelled, or this worker is stopping and the run will resume elsewhere. Shielded: the
        # worker repeats a run's cancel until the run is gone, and closing must not be cut short by it.
        ended = recorder.run_id in context.cancelled
        await asyncio.shield(close_sandbox(sandbox, settings, recorder, run_ended=ended))
        raise
    except dbos_error.DBOSWorkflowConflictIDError:
        # Another worker took the run over (`owners.Owner`): this execution's processes stop, what it left is the
        # new owner's.
        await asyncio.shield(close_sandbox(sandbox, settings, recorder, run_ended=False))
        raise
    except Exception:
        # The workflow records next how the run ended (engine/workflow.py), which shows the sandbox's end too.
        await asyncio.shield(close_sandbox(sandbox, settings, recorder, run_ended=True, deferred=True))
        raise
    except BaseException:
        await asyncio.shield(close_sandbox(sandbox, settings, recorder, run_ended=True))
        raise
    await close_sandbox(sandbox, settings, recorder, run_ended=lease.run_ends, deferred=True)
