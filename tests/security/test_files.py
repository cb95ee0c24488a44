"""A hostile run against the host-side file operations: swapping directories for symlinks to the host while the
file API reads, and files it made unreadable to itself read through every file tool and the file API."""

import json
import threading

from tests.security.conftest import (
    HOST_SECRET,
    Target,
    bash,
    call,
    start_run,
    tool_outputs,
    wait_for_end,
    wait_for_file,
)

ROUNDS = 500
TENANTS = {"d", "e", "x", "y", "swapping", "stop", *(f"{name}/tenant.txt" for name in "dexy")}
"""What the swapping run's workspace may show: its directories, under either name, their files and its links."""

# Inside the jail: `d` and `e` are directories of the workspace, each with a file of the tenant's; `x` and `y` are
# symlinks to host directories (dangling inside the jail, where those paths do not exist). It swaps each pair with
# renameat2(RENAME_EXCHANGE) as fast as it can until `stop` appears, so that a host-side walk by name lands in the
# host's directory at some instant.
SWAP = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
for directory, link, host in (("d", "x", sys.argv[1]), ("e", "y", sys.argv[2])):
    os.makedirs(directory, exist_ok=True)
    with open(f"{directory}/tenant.txt", "w") as file:
        file.write("the tenant's own")
    os.symlink(host, link)
open("swapping", "w").close()
end, swaps = time.monotonic() + 100, 0
while time.monotonic() < end and not os.path.exists("stop"):
    for a, b in ((b"d", b"x"), (b"e", b"y")):
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
        swaps += 1
print(swaps)
"""


def test_a_swap_loop_of_directories_and_host_symlinks_leaks_nothing_to_downloads_or_listings(target: Target) -> None:
    database_directory = target.database_file.parent if target.database_file else target.host_secrets
    command = f"python3 - {target.host_secrets} {database_directory} <<'EOF'\n{SWAP}\nEOF"
    run_id = start_run(target, bash(command, timeout_seconds=110), "reply done")
    wait_for_file(target, run_id, "swapping")
    leaks: list[str] = []
    answered: dict[int, int] = {}
    paths = ["d/root-only.txt", "d/readable.txt", "e/agentruns.db", "e/readable.txt"]

    def attack(paths: list[str]) -> None:
        for number in range(ROUNDS):
            path = paths[number % len(paths)]
            download = target.client.get(f"/agent/v1/run/{run_id}/files/{path}")
            answered[download.status_code] = answered.get(download.status_code, 0) + 1
            if HOST_SECRET.encode() in download.content or download.content.startswith(b"SQLite format 3"):
                leaks.append(f"download of {path}: {download.status_code}")
            listing = target.client.get(f"/agent/v1/run/{run_id}/files")
            names = {entry["path"] for entry in listing.json().get("entries", [])}
            if foreign := names - TENANTS:
                leaks.append(f"listing shows {sorted(foreign)}")

    attackers = [threading.Thread(target=attack, args=(paths[i::2],)) for i in range(2)]
    for attacker in attackers:
        attacker.start()
    for attacker in attackers:
        attacker.join()
    stopped = target.client.post(f"/agent/v1/run/{run_id}/cancel")
    details = wait_for_end(target, run_id)

    assert leaks == []
    assert stopped.status_code == 200, stopped.text
    assert details["status"] == "cancelled", details  # the swap loop ran to the end of the attack
    assert sum(answered.values()) == 2 * ROUNDS
    assert set(answered) <= {400, 404}, answered  # a dangling link is refused, a missing file not found


def test_files_a_run_made_unreadable_to_itself_stay_unreadable_through_every_tool_and_the_file_api(
    target: Target,
) -> None:
    prepare = (
        "echo mine > closed.txt && chmod 000 closed.txt && mkdir shut && echo inside > shut/x && "
        "chmod 000 shut && echo open > open.txt && chmod 444 open.txt && "
        'cat closed.txt; echo "cat: $?"; echo x > open.txt; echo "write: $?"'
    )
    run_id = start_run(
        target,
        bash(prepare),
        call("read", path="closed.txt"),
        call("read", path="shut/x"),
        call("edit", path="closed.txt", old_string="mine", new_string="yours"),
        call("write", path="closed.txt", content="overwritten"),
        call("write", path="open.txt", content="overwritten"),
        call("write", path="shut/new.txt", content="planted"),
        call("read", path="open.txt"),
        "reply done",
    )
    details = wait_for_end(target, run_id)
    files = target.client.get(f"/agent/v1/run/{run_id}/files").json()
    downloads = {path: target.client.get(f"/agent/v1/run/{run_id}/files/{path}") for path in ("closed.txt", "shut/x")}

    shell = tool_outputs(details, "bash")[0]
    assert "cat: 1" in shell["stdout"] and "write: 1" in shell["stdout"], shell  # the jail's own user cannot
    reads = tool_outputs(details, "read")
    assert all("mine" not in json.dumps(output) and "inside" not in json.dumps(output) for output in reads[:2]), reads
    assert all("Permission denied" in json.dumps(output) for output in reads[:2]), reads
    assert "open" in json.dumps(reads[2])  # a readable file is read
    edits_and_writes = [*tool_outputs(details, "edit"), *tool_outputs(details, "write")]
    assert all("Permission denied" in json.dumps(output) for output in edits_and_writes), edits_and_writes
    assert {path: answer.status_code for path, answer in downloads.items()} == {"closed.txt": 403, "shut/x": 403}
    assert all(b"mine" not in answer.content and b"inside" not in answer.content for answer in downloads.values())
    paths = {entry["path"] for entry in files["entries"]}
    assert {"closed.txt", "shut", "open.txt"} <= paths and "shut/x" not in paths  # as `ls -R` would see it
    workspace = target.workspace_root / run_id
    assert (workspace / "closed.txt").read_text() == "mine\n"  # nothing was changed behind the mode's back
    assert (workspace / "open.txt").read_text() == "open\n"
    assert not (workspace / "shut" / "new.txt").exists()


ODD_NAMES = r"""
import os
open(b"bad\xff\xfename", "w").write("x")
os.mkdir(b"dir\xff")
open(b"dir\xff/inside.txt", "w").write("hidden with its directory")
open("new\nline", "w").write("the newline's")
path = "/".join(["d"] * 130)
os.makedirs(path)
open(path + "/deep.txt", "w").write("deep")
"""


def test_odd_names_never_break_the_listing_and_newlines_and_depth_are_answered_cleanly(target: Target) -> None:
    deep = "/".join(["d"] * 130) + "/deep.txt"
    run_id = start_run(target, bash(f"python3 - <<'EOF'\n{ODD_NAMES}\nEOF"), call("read", path=deep), "reply done")
    details = wait_for_end(target, run_id)
    listing = target.client.get(f"/agent/v1/run/{run_id}/files")
    answers = {
        path: target.client.get(f"/agent/v1/run/{run_id}/files/{path}")
        for path in ("new%0Aline", "bad%FF%FEname", "dir%FF/inside.txt", deep)
    }

    assert listing.status_code == 200, listing.text
    paths = {entry["path"] for entry in listing.json()["entries"]}
    assert "new\nline" in paths and not any("bad" in path or "inside" in path for path in paths), paths
    assert listing.json()["skippedNames"] == 2  # the file and the directory, not what the directory holds
    assert answers["new%0Aline"].status_code == 200 and answers["new%0Aline"].content == b"the newline's"
    assert {path: answer.status_code for path, answer in answers.items() if path != "new%0Aline"} == {
        "bad%FF%FEname": 404,
        "dir%FF/inside.txt": 404,
        deep: 400,
    }
    assert "too long to look up" in answers[deep].json()["error"]["message"]
    assert "too long to look up" in json.dumps(tool_outputs(details, "read")[0])


def test_a_file_shrinking_while_it_downloads_gives_whole_responses(target: Target) -> None:
    shrinking = "for i in $(seq 1 2000); do yes abcdefg | head -c 16M > f; truncate -s 0 f; done"
    run_id = start_run(target, bash(shrinking, timeout_seconds=100), "reply done")
    wait_for_file(target, run_id, "f")
    answers: dict[tuple[int, bool], int] = {}
    for _ in range(40):
        download = target.client.get(f"/agent/v1/run/{run_id}/files/f")  # a broken response would raise here
        whole = int(download.headers["content-length"]) == len(download.content)
        answers[download.status_code, whole] = answers.get((download.status_code, whole), 0) + 1
    target.client.post(f"/agent/v1/run/{run_id}/cancel")
    wait_for_end(target, run_id)

    assert set(answers) == {(200, True)}, answers
