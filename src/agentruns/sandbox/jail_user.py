"""Threads that touch a tenant's files as its jail's host user, never with the service's privilege.

When the service runs as root, a run's jail runs as `nobody` on the host, and so does every host-side
operation on the run's workspace (the file tools, the file API, the measure of its disk, its deletion): each
runs in a thread of its own whose credentials are `nobody`'s, with no supplementary groups and no
capabilities. Linux keeps credentials per thread; glibc's `setresuid` changes every thread of the process, so
the thread calls the raw system calls, which change only itself. Such a thread never returns to root: its pool
serves the one user, and nothing else runs in it.

The one exception is the measure of a workspace's disk: it must count what a run hid from itself in a
directory it closed (`chmod 000`), so its threads keep one capability, CAP_DAC_READ_SEARCH (list and look up
any directory), and the measure reads nothing but directories and metadata.

A service that is not root already has the jail's host user's privilege (the jail runs as the service's uid),
so its operations run in ordinary threads.
"""

import asyncio
import ctypes
import functools
import os
import platform
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.thread import BrokenThreadPool
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

Owner = tuple[int, int]
"""A host uid and gid."""

THREADS_PER_USER = 4
# (setgroups, setresgid, setresuid, capset) by machine: the numbers are the kernel's, not in Python's `os`.
_SYSCALLS = {"x86_64": (116, 119, 117, 126), "aarch64": (159, 149, 147, 91), "arm64": (159, 149, 147, 91)}
_PR_SET_KEEPCAPS = 8
_CAP_DAC_READ_SEARCH = 2
_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32))


_libc = ctypes.CDLL(None, use_errno=True)
_pools: dict[tuple[Owner, bool], ThreadPoolExecutor] = {}
_lock = threading.Lock()


class CannotDropPrivileges(OSError):
    """A thread could not take the jail's host user's credentials; no tenant file is touched without them."""


def _become(owner: Owner, read_directories: bool) -> None:
    """Give the calling thread, and only it, the credentials of `owner`: no groups, and no capabilities but
    CAP_DAC_READ_SEARCH if `read_directories`."""
    numbers = _SYSCALLS.get(platform.machine())
    if numbers is None:
        raise CannotDropPrivileges(f"no per-thread credentials on {platform.machine()}: run the service as a user")
    setgroups, setresgid, setresuid, capset = numbers
    uid, gid = owner
    # Keep the permitted set across the change of uid only to narrow it to the one capability right after.
    _check(_libc.prctl(_PR_SET_KEEPCAPS, int(read_directories), 0, 0, 0), uid)
    # Groups and gid first: once the uid is not root, the thread may no longer change them.
    for number, args in ((setgroups, (0, None)), (setresgid, (gid, gid, gid)), (setresuid, (uid, uid, uid))):
        _check(_libc.syscall(number, *args), uid)
    if read_directories:
        kept = 1 << _CAP_DAC_READ_SEARCH
        data = (_CapData * 2)(_CapData(kept, kept, 0), _CapData(0, 0, 0))
        _check(_libc.syscall(capset, ctypes.byref(_CapHeader(_CAPABILITY_VERSION_3, 0)), data), uid)
        _check(_libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0), uid)
    if os.geteuid() != uid or os.getegid() != gid:  # per thread: these read the calling thread's credentials
        raise CannotDropPrivileges(f"the thread did not become uid {uid}")


def _check(result: int, uid: int) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise CannotDropPrivileges(error, f"the thread could not become uid {uid}: {os.strerror(error)}")


def _pool(owner: Owner, read_directories: bool) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get((owner, read_directories))
        if pool is None:
            pool = ThreadPoolExecutor(
                THREADS_PER_USER,
                thread_name_prefix=f"jail-user-{owner[0]}{'-directories' if read_directories else ''}",
                initializer=_become,
                initargs=(owner, read_directories),
            )
            _pools[owner, read_directories] = pool
        return pool


def owner_of(directory: Path) -> Owner:
    """The host user of a workspace: the owner of its directory, which the service gave it and a run cannot change.

    Raises:
        OSError: The directory is missing or cannot be looked up.
    """
    info = os.stat(directory, follow_symlinks=False)
    return info.st_uid, info.st_gid


def needs_own_threads(owner: Owner | None) -> bool:
    """Whether acting as `owner` takes threads of its own: the service is root and `owner` is someone else."""
    return owner is not None and os.geteuid() == 0 and owner[0] != 0


async def call(owner: Owner | None, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)` in a thread acting as `owner` (None, or the service's own user: any thread).

    Raises:
        CannotDropPrivileges: The thread could not take `owner`'s credentials (the call did not run).
    """
    return await _call(owner, False, functools.partial(function, *args, **kwargs))


async def call_reading_directories(
    owner: Owner | None, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """As `call`, in a thread that may also list and look up any directory (CAP_DAC_READ_SEARCH, when the
    service is root): for `function`s that read directories and metadata only, never a file's content."""
    return await _call(owner, True, functools.partial(function, *args, **kwargs))


async def _call(owner: Owner | None, read_directories: bool, bound: Callable[[], T]) -> T:
    if owner is None or not needs_own_threads(owner):
        return await asyncio.to_thread(bound)
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(owner, read_directories), bound)
    except BrokenThreadPool as exc:  # a thread's `_become` failed: the pool refuses every call from then on
        raise CannotDropPrivileges(f"no thread could take uid {owner[0]}'s credentials: {exc}") from exc
