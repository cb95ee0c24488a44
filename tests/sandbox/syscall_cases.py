"""The refused system calls the probe (`syscall_probe.py`) makes, with arguments that change nothing, and the answers
the filter gives; the same calls unfiltered get other answers from the kernel (as root: see test_seccomp.py)."""

import errno
import json
import platform
import shlex
from pathlib import Path

import pyseccomp  # pyright: ignore[reportMissingTypeStubs]

from agentruns.sandbox.syscall_policy import IOCTLS, NAMESPACE_FLAGS, rules

PROBE = Path(__file__).with_name("syscall_probe.py")
NO_PID = 0x3FFF_FFFF
BAD = 0xDEAD_0000
"""Flags no call accepts: unfiltered, each call below fails with EINVAL, EBADF, EFAULT or ESRCH (as root)."""
CLONE_SIGHAND, CSIGNAL_BIT, CLONE_NEWTIME = 0x800, 0x1, 0x80

_CALLS: list[tuple[str, str, list[int]]] = [
    ("ptrace", "ptrace", [16, NO_PID, 0, 0]),  # PTRACE_ATTACH
    ("process_vm_readv", "process_vm_readv", [NO_PID, 0, 0, 0, 0, 1]),
    ("process_vm_writev", "process_vm_writev", [NO_PID, 0, 0, 0, 0, 1]),
    ("keyctl", "keyctl", [0x7FFF, 0, 0, 0, 0]),
    ("add_key", "add_key", [0, 0, 0, 0, 0]),
    ("request_key", "request_key", [0, 0, 0, 0]),
    ("bpf", "bpf", [0x7FFF, 0, 0]),
    ("userfaultfd", "userfaultfd", [BAD]),
    ("perf_event_open", "perf_event_open", [0, 0, -1, -1, 0]),
    ("io_uring_setup", "io_uring_setup", [0, 0]),
    ("io_uring_enter", "io_uring_enter", [-1, 0, 0, 0, 0, 0]),
    ("io_uring_register", "io_uring_register", [-1, 0, 0, 0]),
    ("kexec_load", "kexec_load", [0, 0, 0, BAD]),
    ("kexec_file_load", "kexec_file_load", [-1, -1, 0, 0, BAD]),
    ("init_module", "init_module", [0, 0, 0]),
    ("finit_module", "finit_module", [-1, 0, 0]),
    ("delete_module", "delete_module", [0, 0]),
    ("mount", "mount", [0, 0, 0, 0, 0]),
    ("umount2", "umount2", [0, 0]),
    ("pivot_root", "pivot_root", [0, 0]),
    ("move_mount", "move_mount", [-1, 0, -1, 0, BAD]),
    ("open_tree", "open_tree", [-1, 0, BAD]),
    ("fsopen", "fsopen", [0, BAD]),
    ("fsmount", "fsmount", [-1, BAD, 0]),
    ("fsconfig", "fsconfig", [-1, 0x7FFF, 0, 0, 0]),
    ("fspick", "fspick", [-1, 0, BAD]),
    ("mount_setattr", "mount_setattr", [-1, 0, BAD, 0, 0]),
    ("setns", "setns", [-1, 0]),
    ("swapon", "swapon", [0, 0]),
    ("swapoff", "swapoff", [0]),
    ("reboot", "reboot", [0, 0, 0, 0]),  # no magic numbers: EINVAL
    ("iopl", "iopl", [4]),  # no such level: EINVAL
    ("ioperm", "ioperm", [0, 0, 0]),  # no ports: EINVAL
    ("open_by_handle_at", "open_by_handle_at", [-1, 0, 0]),
    ("name_to_handle_at", "name_to_handle_at", [-1, 0, 0, 0, BAD]),
    ("settimeofday", "settimeofday", [0, 0]),  # nothing to set: root gets 0
    ("clock_settime", "clock_settime", [0x7FFF, 0]),
    ("clock_adjtime", "clock_adjtime", [0x7FFF, 0]),
    ("adjtimex", "adjtimex", [0]),
    ("acct", "acct", [1]),  # an invalid pointer: EFAULT
    ("syslog", "syslog", [10, 0, 0]),  # SYSLOG_ACTION_SIZE_BUFFER
    ("quotactl", "quotactl", [0, 0, 0, 0]),
    ("quotactl_fd", "quotactl_fd", [-1, 0, 0, 0]),
    ("lookup_dcookie", "lookup_dcookie", [0, 0, 0]),
    ("clone3", "clone3", [0, 0]),
    *((f"clone {name}", "clone", [flag | CLONE_SIGHAND, 0, 0, 0, 0]) for name, flag in NAMESPACE_FLAGS.items()),
    *((f"unshare {name}", "unshare", [flag | CSIGNAL_BIT]) for name, flag in NAMESPACE_FLAGS.items()),
    ("unshare CLONE_NEWTIME", "unshare", [CLONE_NEWTIME | CSIGNAL_BIT]),
    *((f"ioctl {name}", "ioctl", [-1, request]) for name, request in IOCTLS.items()),
    ("ioctl TIOCSTI with high bits", "ioctl", [-1, (1 << 32) | IOCTLS["TIOCSTI"]]),
]
"""(label, system call, arguments). A clone or unshare of a namespace comes with a flag that makes it invalid
(CLONE_SIGHAND without CLONE_VM; bit 0 for unshare), which the kernel checks before the namespaces."""

SPECIAL = ["tiocsti own terminal", *(["x32 getpid", "i386 getpid"] if platform.machine() == "x86_64" else [])]


def _number(name: str) -> int:
    return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)


CALLS = [(label, _number(name), arguments) for label, name, arguments in _CALLS if _number(name) >= 0]
"""The calls this architecture has, with its numbers."""
PROBED = {name for _, name, _ in _CALLS}


def expected() -> dict[str, int | str]:
    """What the filter answers each probe: EPERM; ENOSYS for clone3; SIGSYS for another ABI."""
    answers: dict[str, int | str] = {label: errno.EPERM for label, _, _ in CALLS}
    answers["clone3"] = errno.ENOSYS
    answers["tiocsti own terminal"] = errno.EPERM
    for abi in ("x32 getpid", "i386 getpid"):
        if abi in SPECIAL:
            answers[abi] = "signal 31"
    return answers


def request(filter_path: Path | None = None) -> str:
    """The probe's argument: every call and special probe, and the filter it should load first, if any."""
    return json.dumps({"calls": CALLS, "special": SPECIAL, "filter": str(filter_path) if filter_path else None})


def command(probe_path: str = "syscall_probe.py") -> str:
    """The shell command that runs the probe at `probe_path` inside a jail."""
    return f"python3 {probe_path} {shlex.quote(request())}"


ATTEMPTS = [
    "ptrace a child",
    "keyctl session keyring",
    "bpf map create",
    "userfaultfd user mode",
    "user namespace",
    "mount tmpfs",
    "tiocsti own terminal",
]
"""Special probes that try the real thing, to be made only in a jail (as root on the host, `mount tmpfs` would
mount over the host's /tmp)."""


def attempts_command(probe_path: str = "syscall_probe.py") -> str:
    """The shell command that runs the probe's real attempts inside a jail; the filter answers EPERM to each."""
    names = ("ptrace", "keyctl", "bpf", "userfaultfd", "unshare", "mount")
    asked = json.dumps({"special": ATTEMPTS, "numbers": {name: _number(name) for name in names}})
    return f"python3 {probe_path} {shlex.quote(asked)}"


def unprobed_rules() -> set[str]:
    """The system calls the policy refuses that the probe does not try (there should be none)."""
    return {rule.syscall for rule in rules()} - PROBED
