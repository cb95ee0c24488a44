"""Whether bubblewrap can isolate tools on this machine, and the one place that picks a run's sandbox."""

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from agentruns.sandbox import seccomp
from agentruns.sandbox.bubblewrap import PROVIDER as BUBBLEWRAP
from agentruns.sandbox.bubblewrap import BubblewrapSandbox, bwrap_argv, host_user
from agentruns.sandbox.egress.access import NetworkAccess
from agentruns.sandbox.errors import SandboxUnavailable
from agentruns.sandbox.etc import prepare_etc
from agentruns.sandbox.plugins import plugin_factory
from agentruns.sandbox.protocol import Sandbox, SandboxLimits
from agentruns.sandbox.root import make_workspace
from agentruns.sandbox.unisolated import PROVIDER as UNISOLATED
from agentruns.sandbox.unisolated import SubprocessSandbox

LOCAL_PROVIDERS = (BUBBLEWRAP, UNISOLATED)
"""Providers whose workspace is the directory itself, reached from the host; a remote provider's files live at
the provider (its `read_file` and `write_file`)."""
ALLOW_SETTING = "AGENTRUNS_ALLOW_UNISOLATED_SANDBOX"
BWRAP_SETTING = "AGENTRUNS_BWRAP_PATH"
_PROBE_TIMEOUT_SECONDS = 30
_INSTALL = "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora/RHEL: dnf install bubblewrap)"
_USERNS_HELP = (
    "bubblewrap needs unprivileged user namespaces: check `sysctl user.max_user_namespaces` (must be > 0), "
    "`sysctl kernel.unprivileged_userns_clone` (Debian before 11: set it to 1) and, on Ubuntu 23.10 and later, "
    "`sysctl kernel.apparmor_restrict_unprivileged_userns` (set it to 0, or give bwrap an AppArmor profile); "
    "in a container, run it with a seccomp profile that allows unshare and clone of namespaces"
)

logger = logging.getLogger(__name__)
_checked: dict[str, str | None] = {}
_warned: set[str] = set()


def check_bubblewrap(executable: str = "bwrap") -> str | None:
    """None when bubblewrap is installed and can make its namespaces here; otherwise what is wrong and how to fix it.

    It runs `true` in a jail made exactly as a run's commands are (as `nobody` when the service is root, under the
    seccomp filter where there is one).
    Call it at start; it takes a few tens of milliseconds.

    Args:
        executable: The bubblewrap executable (`AGENTRUNS_BWRAP_PATH`): a name on the PATH, or a path.
    """
    bwrap = shutil.which(executable)
    if bwrap is None and executable == "bwrap":
        return f"bubblewrap (`bwrap`) is not on the PATH: {_INSTALL}"
    if bwrap is None:
        return f"bubblewrap ({executable!r}, from {BWRAP_SETTING}) is not an executable: {_INSTALL}, or fix the setting"
    with tempfile.TemporaryDirectory(prefix="agentruns-probe-") as base:
        workspace = Path(base) / "workspace"
        owner = host_user()
        if owner is not None:
            os.chmod(base, 0o711)  # noqa: S103 - the probe's host user must reach its workspace, as in a run
        make_workspace(workspace, owner)
        uid, gid = owner if owner is not None else (None, None)
        info_fd = os.memfd_create("bwrap-info")
        program = seccomp.status().program
        seccomp_fd = seccomp.program_fd(program) if program is not None else None
        fds = (info_fd,) if seccomp_fd is None else (info_fd, seccomp_fd)
        try:
            etc = prepare_etc(Path(base), network=False)
            argv = bwrap_argv(bwrap, workspace, SandboxLimits(cpu=1, memory_mib=256), etc=etc, info_fd=info_fd,
                              command=["true"], seccomp_fd=seccomp_fd)  # fmt: skip
            probe = subprocess.run(  # noqa: S603 - a fixed command line
                argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_SECONDS, env={"PATH": os.defpath},
                pass_fds=fds, user=uid, group=gid, extra_groups=[] if owner is not None else None, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap ({bwrap}) could not be run: {exc}"
        finally:
            for fd in fds:
                os.close(fd)
    if probe.returncode != 0:
        said = probe.stderr.strip() or f"exit status {probe.returncode}"
        return f"bubblewrap ({bwrap}) cannot create its sandbox here: {said}. {_USERNS_HELP}"
    return None


def _cached_check(executable: str) -> str | None:
    """`check_bubblewrap`, once per bwrap executable (a run's sandbox is made often)."""
    key = shutil.which(executable) or f"missing:{executable}"
    if key not in _checked:
        _checked[key] = check_bubblewrap(executable)
    return _checked[key]


def usable_provider(*, allow_unisolated: bool, bwrap: str = "bwrap") -> str:
    """The provider `make_sandbox` gives runs here: `bubblewrap`, or `unisolated` when that is allowed and needed.

    A worker calls it when it starts, so that a machine that cannot isolate tools is found out at once;
    choosing the unisolated sandbox is logged as a WARNING.

    Raises:
        SandboxUnavailable: bubblewrap cannot run here and the unisolated sandbox is not allowed.
    """
    problem = _cached_check(bwrap)
    if problem is None:
        return BUBBLEWRAP
    if not allow_unisolated:
        raise _refusal(problem)
    if problem in _warned:  # once per process is loud enough; each run's sandbox says it again
        return UNISOLATED
    _warned.add(problem)
    logger.warning(
        "UNISOLATED SANDBOX: this worker runs every run's tools as plain processes of the service's user, with "
        "access to every file, process and network address that user has, because %s=true and %s. Never do "
        "this in production.",
        ALLOW_SETTING, problem,
    )  # fmt: skip
    return UNISOLATED


def usable_filter(*, allow_unfiltered: bool) -> str:
    """What filters the system calls of the bubblewrap sandboxes here (for the worker's start-up line); running
    without a filter, when that is allowed and needed, is logged as a WARNING.

    Raises:
        SandboxUnavailable: No seccomp filter can be applied here and running without one is not allowed.
    """
    syscall_filter = seccomp.status()
    if syscall_filter.program is not None:
        return syscall_filter.description
    if not allow_unfiltered:
        raise SandboxUnavailable(
            f"tools cannot run: no seccomp filter can be applied to them here: {syscall_filter.problem}. To run them "
            f"in bubblewrap without one, set {seccomp.ALLOW_SETTING}=true."
        )
    if f"unfiltered: {syscall_filter.problem}" in _warned:  # once per process, as for the unisolated sandbox
        return syscall_filter.description
    _warned.add(f"unfiltered: {syscall_filter.problem}")
    logger.warning(
        "UNFILTERED SANDBOX: this worker's jails apply no seccomp filter, because %s=true and %s; their commands can "
        "make every system call the kernel allows an unprivileged user.",
        seccomp.ALLOW_SETTING, syscall_filter.problem,
    )  # fmt: skip
    return syscall_filter.description


def _refusal(problem: str) -> SandboxUnavailable:
    return SandboxUnavailable(
        f"tools cannot run: {problem}. To run them WITHOUT isolation on a development machine, set "
        f"{ALLOW_SETTING}=true."
    )


def make_sandbox(
    workspace: Path,
    limits: SandboxLimits,
    *,
    allow_unisolated: bool,
    network: NetworkAccess | None,
    provider: str = BUBBLEWRAP,
    bwrap: str = "bwrap",
    allow_unfiltered: bool = False,
) -> Sandbox:
    """The sandbox of one run, not started yet.

    With the default provider it is bubblewrap, or the unisolated sandbox only when bubblewrap cannot run
    here and that is explicitly allowed; any other provider is the installed plugin of that name.

    Args:
        workspace: The run's workspace directory on the host.
        limits: From the agent's `sandbox` and the deployment's settings.
        allow_unisolated: The deployment's `AGENTRUNS_ALLOW_UNISOLATED_SANDBOX`.
        network: The run's network access (its egress proxy's policy and log); None: no network. A plugin is told
            only whether there is any.
        provider: `bubblewrap`, or the name of a provider plugin (see `plugins`).
        bwrap: The bubblewrap executable (`AGENTRUNS_BWRAP_PATH`).
        allow_unfiltered: The deployment's `AGENTRUNS_ALLOW_UNFILTERED_SANDBOX`: a bubblewrap sandbox may start
            where no seccomp filter can be applied (else its `start` raises `SandboxError`).

    Raises:
        SandboxUnavailable: bubblewrap cannot run here and the unisolated sandbox is not allowed, or no
            plugin of that name is installed.
    """
    if provider != BUBBLEWRAP:
        return plugin_factory(provider)(workspace, limits, network=network is not None)
    problem = _cached_check(bwrap)
    if problem is None:
        return BubblewrapSandbox(workspace, limits, egress=network, bwrap=bwrap, allow_unfiltered=allow_unfiltered)
    if not allow_unisolated:
        raise _refusal(problem)
    logger.warning(
        "UNISOLATED SANDBOX: run %s executes tools as plain processes of the service's user, with access to "
        "every file, process and network address that user has, because %s=true and %s. Never do this in "
        "production.",
        workspace.name, ALLOW_SETTING, problem,
    )  # fmt: skip
    return SubprocessSandbox(workspace, limits)
