"""A probe, run by any python3 (inside a jail too): makes system calls and prints, as JSON, what each returned.

`python3 syscall_probe.py REQUEST`, REQUEST a JSON object: `calls`, a list of `[label, number, [arguments]]`, each
made as `syscall(number, *arguments)` (integer arguments, so invalid pointers and fds: nothing is changed even
where a call is allowed); `special`, labels of the probes below; and `filter`, the path of a BPF program the probe
loads on itself first (None: it runs under whatever filter it was started with); `numbers`, the system call numbers
the special probes use, by name. The answer maps each label to the errno (0: it succeeded), or to `signal N` if the
call killed the process that made it. The special probes attempt the real thing (they do change something if they
are allowed, inside the jail or the child process that makes them).
"""

import ctypes
import fcntl
import json
import mmap
import os
import signal
import struct
import sys
import termios

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def make(number: int, *arguments: int) -> int:
    """The errno of `syscall(number, *arguments)`, 0 if it succeeded."""
    ctypes.set_errno(0)
    result = _libc.syscall(ctypes.c_long(number), *(ctypes.c_long(argument) for argument in arguments))
    return ctypes.get_errno() if result == -1 else 0


def in_child(action) -> "int | str":
    """What `action()` (an errno) gives in a child process, or the signal that killed the child."""
    pid = os.fork()
    if pid == 0:
        code = 255
        try:
            code = action()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def tiocsti_own_terminal() -> int:
    """TIOCSTI into a terminal of the probe's own that is its controlling terminal (the kernel would allow it)."""
    os.setsid()
    _leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSCTTY, 0)
    ctypes.set_errno(0)
    result = _libc.ioctl(follower, termios.TIOCSTI, ctypes.c_char_p(b"x"))
    return ctypes.get_errno() if result == -1 else 0


def x32_getpid() -> int:
    """getpid through the x32 ABI (x86_64 only)."""
    return make(0x4000_0000 | 39)


def i386_getpid() -> int:
    """getpid through `int 0x80`, the 32-bit x86 ABI (x86_64 only): mov eax, 20; int 0x80; ret."""
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3")
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    pid = ctypes.CFUNCTYPE(ctypes.c_int)(address)()
    return -pid if pid < 0 else 0


NUMBERS: dict[str, int] = {}


def ptrace_a_child() -> int:
    """PTRACE_ATTACH to a child of the probe's, which the kernel allows."""
    child = os.fork()
    if child == 0:
        signal.pause()
        os._exit(0)
    try:
        return make(NUMBERS["ptrace"], 16, child, 0, 0)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def keyctl_session_keyring() -> int:
    """KEYCTL_GET_KEYRING_ID of the session keyring, made if missing."""
    return make(NUMBERS["keyctl"], 0, -3, 1)


def bpf_map_create() -> int:
    """BPF_MAP_CREATE of a one-entry array."""
    attributes = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1), 72)
    return make(NUMBERS["bpf"], 0, ctypes.addressof(attributes), 72)


def userfaultfd_user_mode() -> int:
    """userfaultfd(UFFD_USER_MODE_ONLY | O_CLOEXEC), which needs no privilege."""
    return make(NUMBERS["userfaultfd"], 1 | os.O_CLOEXEC)


def user_namespace() -> int:
    """unshare(CLONE_NEWUSER)."""
    return make(NUMBERS["unshare"], 0x1000_0000)


def mount_tmpfs() -> int:
    """mount("none", "/tmp", "tmpfs", 0, NULL)."""
    source, target, kind = (ctypes.c_char_p(value) for value in (b"none", b"/tmp", b"tmpfs"))
    pointers = (ctypes.cast(value, ctypes.c_void_p).value or 0 for value in (source, target, kind))
    return make(NUMBERS["mount"], *pointers, 0, 0)


SPECIAL = {
    "tiocsti own terminal": tiocsti_own_terminal,
    "x32 getpid": x32_getpid,
    "i386 getpid": i386_getpid,
    "ptrace a child": ptrace_a_child,
    "keyctl session keyring": keyctl_session_keyring,
    "bpf map create": bpf_map_create,
    "userfaultfd user mode": userfaultfd_user_mode,
    "user namespace": user_namespace,
    "mount tmpfs": mount_tmpfs,
}


def load_filter(path: str) -> None:
    """Apply the BPF program in `path` to this process (as bubblewrap does)."""
    program = open(path, "rb").read()  # noqa: SIM115
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or _libc.prctl(
        PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0
    ):
        raise OSError(ctypes.get_errno(), "the filter could not be loaded")


def main() -> None:
    """Probe what the request asks and print the answer."""
    request = json.loads(sys.argv[1])
    if request.get("filter"):
        load_filter(request["filter"])
    signal.signal(signal.SIGSYS, signal.SIG_DFL)
    NUMBERS.update(request.get("numbers", {}))
    answer: dict[str, int | str] = {}
    for label, number, arguments in request.get("calls", []):
        answer[label] = make(number, *arguments)
    for label in request.get("special", []):
        answer[label] = in_child(SPECIAL[label])
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
