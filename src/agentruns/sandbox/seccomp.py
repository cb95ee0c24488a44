"""The seccomp filter of every jail: built once per process by libseccomp from `syscall_policy`, given to bubblewrap.

libseccomp (through `pyseccomp`, ctypes over `libseccomp.so.2`) turns the policy into a BPF program for this
machine's architecture; bubblewrap loads it (`--seccomp FD`) just before it executes the jail's command, after
its own mounts. System calls of another ABI (32-bit x86 through `int 0x80`, x32) kill the process that makes
them: the filter's rules are written for the native one, and no program of the jail needs another. Where no
filter can be built, `status()` says why; the worker then refuses to start unless
`AGENTRUNS_ALLOW_UNFILTERED_SANDBOX` allows it (see docs/adr/0001-seccomp.md).
"""

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from agentruns.sandbox.syscall_policy import IOCTLS, REFUSED, rules

ALLOW_SETTING = "AGENTRUNS_ALLOW_UNFILTERED_SANDBOX"
ARCHITECTURES = ("x86_64", "aarch64")
"""Where the policy's numbers (ioctl requests, clone's flags as its first argument) hold."""


@dataclass(frozen=True, slots=True)
class Filter:
    """The filter of this process's jails: its BPF program, or why there is none."""

    program: bytes | None
    problem: str | None = None

    @property
    def description(self) -> str:
        """How the worker's start-up line and a run's `runtime` log name it."""
        if self.program is None:
            return f"NO seccomp filter ({self.problem})"
        calls = sum(len(names) for names in REFUSED.values())
        return f"seccomp filter on ({calls} system calls, new namespaces and {len(IOCTLS)} ioctls refused)"


@functools.cache
def status() -> Filter:
    """This process's filter, built on the first call (a millisecond or so)."""
    machine = platform.machine()
    if machine not in ARCHITECTURES:
        return Filter(None, f"no filter is written for the {machine} architecture, only for {', '.join(ARCHITECTURES)}")
    if not _kernel_has_seccomp():
        return Filter(None, "the kernel has no seccomp (CONFIG_SECCOMP_FILTER)")
    try:
        return Filter(build())
    except (ImportError, RuntimeError) as exc:  # pyseccomp raises RuntimeError when libseccomp.so.2 is missing
        return Filter(
            None, f"libseccomp cannot be loaded ({exc}): install it (Debian/Ubuntu: apt-get install libseccomp2)"
        )
    except OSError as exc:
        return Filter(None, f"libseccomp could not build the filter ({exc}): upgrade libseccomp")


def build(architecture: int = 0) -> bytes:
    """The BPF program of the policy for this machine's architecture, or for another (a libseccomp `SCMP_ARCH_*`).

    Raises:
        ImportError, RuntimeError: pyseccomp or libseccomp is missing.
        OSError: libseccomp refused a rule (for instance a system call too new for it).
    """
    # Imported here, so that a missing libseccomp is a reason given, not an import error; typed inline, no stubs.
    import pyseccomp  # pyright: ignore[reportMissingTypeStubs]

    syscall_filter = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    syscall_filter.set_attr(pyseccomp.Attr.ACT_BADARCH, pyseccomp.KILL_PROCESS)
    if architecture:
        syscall_filter.add_arch(architecture)
        syscall_filter.remove_arch(pyseccomp.Arch.NATIVE)
    for rule in rules():
        condition = [pyseccomp.Arg(rule.arg, pyseccomp.MASKED_EQ, rule.mask, rule.value)] if rule.mask else []
        try:
            syscall_filter.add_rule(pyseccomp.ERRNO(rule.error), rule.syscall, *condition)
        except OSError as exc:
            raise OSError(exc.errno, f"the rule for {rule.syscall}: {exc.strerror}") from exc
    fd = os.memfd_create("agentruns-seccomp")
    try:
        with open(fd, "wb", closefd=False) as exported:
            syscall_filter.export_bpf(exported)
        return os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)


def program_fd(program: bytes) -> int:
    """A new fd (a memfd at offset 0) holding `program`, for one bubblewrap to read to its end; the caller closes it."""
    fd = os.memfd_create("agentruns-seccomp")
    try:
        os.write(fd, program)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kernel_has_seccomp() -> bool:
    try:
        return "\nSeccomp:" in Path("/proc/self/status").read_text()
    except OSError:
        return False
