"""A hostile run against its limits: memory shared by all its processes, a fork bomb, the time limit."""

from tests.security.conftest import Target, bash, start_run, tool_outputs, wait_for_end

EAT = "python3 -c 'import time; b = bytearray(1536 * 1024 * 1024); time.sleep(5)'"


def test_three_processes_of_1_5_gib_in_a_sandbox_of_2048_mib_do_not_all_get_their_memory(target: Target) -> None:
    command = f"({EAT}; echo one $?) & ({EAT}; echo two $?) & ({EAT}; echo three $?) & wait"
    run_id = start_run(target, bash(command, timeout_seconds=100), "reply done", sandbox={"cpu": 1, "memoryMiB": 2048})
    details = wait_for_end(target, run_id)

    output = tool_outputs(details, "bash")[0]
    codes = sorted(line.split()[1] for line in output["stdout"].splitlines())
    assert codes.count("137") >= 1 and codes != ["0", "0", "0"], output  # SIGKILL by the kernel's OOM killer
    assert "went over its memory limit of 2048 MiB" in output["stderr"], output
    assert "limits by cgroup" in details["result"]["logs"]["runtime"]


def test_memory_in_tmp_counts_with_the_processes(target: Target) -> None:
    command = "head -c 300M /dev/zero > /tmp/fill && python3 -c 'b = bytearray(300 * 1024 * 1024)'; echo $?"
    run_id = start_run(target, bash(command, timeout_seconds=100), "reply done", sandbox={"cpu": 1, "memoryMiB": 512})
    details = wait_for_end(target, run_id)

    output = tool_outputs(details, "bash")[0]
    assert output["stdout"].strip() != "0", output
    assert "went over its memory limit of 512 MiB" in output["stderr"], output


def test_a_fork_bomb_is_contained_and_the_run_ends_within_the_command_limit(target: Target) -> None:
    run_id = start_run(target, bash("bomb() { bomb | bomb & }; bomb; sleep 300", timeout_seconds=5), "reply survived")
    details = wait_for_end(target, run_id, timeout=90)

    output = tool_outputs(details, "bash")[0]
    assert details["status"] == "completed" and details["result"]["output"] == "survived", details
    assert output["exit_code"] is None and "time limit of 5 s" in output["stderr"], output
    assert "reached its limit of 256 processes" in output["stderr"], output
    after = start_run(target, bash("echo alive"), "reply done")  # the service and its next sandbox are unharmed
    assert tool_outputs(wait_for_end(target, after), "bash")[0]["stdout"] == "alive\n"
