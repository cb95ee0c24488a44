"""What the seccomp filter refuses a jailed command: the system calls and ioctls it never needs, and why.

A jailed command has no capabilities, so the kernel refuses most of these anyway; the filter refuses them before
the kernel's code for them runs at all, which is where the bugs that let a process out have been. Each refused
call fails with EPERM (the tool sees an error, nothing is killed), except `clone3`, which fails with ENOSYS so
that the C library falls back to `clone`, whose flags the filter can read (those of `clone3` are in memory).
The numbers below hold on x86_64 and aarch64, the architectures `seccomp.py` builds the filter for.
"""

import errno
from dataclasses import dataclass

REFUSED: dict[str, tuple[str, ...]] = {
    "reading or steering other processes": ("ptrace", "process_vm_readv", "process_vm_writev"),
    "the kernel's keyrings (not namespaced)": ("keyctl", "add_key", "request_key"),
    "eBPF programs, userfaultfd and perf events (a large kernel surface)": (
        "bpf",
        "userfaultfd",
        "perf_event_open",
    ),
    "io_uring (it makes its operations outside the filter)": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    "loading a kernel or kernel modules": (
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
    ),
    "mounts (bubblewrap made them before the filter applies)": (
        "mount",
        "umount2",
        "pivot_root",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsmount",
        "fsconfig",
        "fspick",
        "mount_setattr",
    ),
    "joining namespaces": ("setns",),
    "the host's swap, reboot and I/O ports": ("swapon", "swapoff", "reboot", "iopl", "ioperm"),
    "files by handle (bypasses the directories' permissions)": ("open_by_handle_at", "name_to_handle_at"),
    "the host's clock, accounting, log and quotas": (
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "acct",
        "syslog",
        "quotactl",
        "quotactl_fd",
        "lookup_dcookie",
    ),
}
"""Refused whatever their arguments, grouped by why."""

NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x0002_0000,
    "CLONE_NEWCGROUP": 0x0200_0000,
    "CLONE_NEWUTS": 0x0400_0000,
    "CLONE_NEWIPC": 0x0800_0000,
    "CLONE_NEWUSER": 0x1000_0000,
    "CLONE_NEWPID": 0x2000_0000,
    "CLONE_NEWNET": 0x4000_0000,
}
"""New namespaces, refused to `clone` and `unshare` (the first flag argument); `unshare` also CLONE_NEWTIME."""
CLONE_NEWTIME = 0x80  # not in clone's flags: there the low byte is the exit signal

IOCTLS = {
    "TIOCSTI": 0x5412,  # push input into a terminal
    "TIOCLINUX": 0x541C,  # the virtual console's selection and more
    "BTRFS_IOC_SNAP_CREATE": 0x5000_9401,  # btrfs subvolumes and snapshots: _IOW(0x94, n, 4096-byte args)
    "BTRFS_IOC_SUBVOL_CREATE": 0x5000_940E,
    "BTRFS_IOC_SNAP_CREATE_V2": 0x5000_9417,
    "BTRFS_IOC_SUBVOL_CREATE_V2": 0x5000_9418,
}
"""ioctl requests refused. The kernel reads the request as 32 bits, so only those are compared (a request with
high bits set is the same request: Flatpak's CVE-2019-10063)."""
IOCTL_MASK = 0xFFFF_FFFF


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: `syscall` fails with `error` (when `mask` is set: only if its argument `arg` & `mask` == `value`)."""

    syscall: str
    error: int = errno.EPERM
    arg: int = 0
    mask: int = 0
    value: int = 0


def rules() -> list[Rule]:
    """Every rule of the filter."""
    found = [Rule(name) for names in REFUSED.values() for name in names]
    found.append(Rule("clone3", errno.ENOSYS))
    for flag in NAMESPACE_FLAGS.values():
        found.append(Rule("clone", arg=0, mask=flag, value=flag))
    for flag in (*NAMESPACE_FLAGS.values(), CLONE_NEWTIME):
        found.append(Rule("unshare", arg=0, mask=flag, value=flag))
    found.extend(Rule("ioctl", arg=1, mask=IOCTL_MASK, value=request) for request in IOCTLS.values())
    return found
