"""A hostile run against the kernel through the agent loop: what the seccomp filter refuses it, with EPERM."""

import errno
import json

from tests.sandbox import syscall_cases
from tests.security.conftest import Target, bash, call, start_run, tool_outputs, wait_for_end


def test_ptrace_keyrings_bpf_userfaultfd_namespaces_mounts_and_tiocsti_are_refused(target: Target) -> None:
    run_id = start_run(
        target,
        call("write", path="probe.py", content=syscall_cases.PROBE.read_text()),
        bash(syscall_cases.attempts_command("probe.py")),
        bash("unshare -U true 2>&1; unshare -m true 2>&1; sleep 30 & strace -p $! 2>&1 | tail -1; kill $!"),
        "reply done",
    )
    details = wait_for_end(target, run_id)

    attempts, commands = tool_outputs(details, "bash")
    assert json.loads(attempts["stdout"]) == dict.fromkeys(syscall_cases.ATTEMPTS, errno.EPERM), attempts
    assert [line.rpartition(": ")[2] for line in commands["stdout"].splitlines()] == ["Operation not permitted"] * 3
    assert commands["stdout"].startswith("unshare: unshare failed"), commands
    assert details["status"] == "completed" and details["result"]["output"] == "done", details
    assert "seccomp filter on" in details["result"]["logs"]["runtime"]
    after = start_run(target, bash("echo alive"), "reply done")  # the service and its next sandbox are unharmed
    assert tool_outputs(wait_for_end(target, after), "bash")[0]["stdout"] == "alive\n"
