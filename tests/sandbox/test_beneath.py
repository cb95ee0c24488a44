"""Lookups from directory handles: symlinks followed as the jail follows them, nothing outside ever reached."""

import errno
import os
from pathlib import Path

import pytest

from agentruns.sandbox.beneath import MAX_COMPONENTS, MAX_DEPTH, open_at, open_workspace
from agentruns.sandbox.errors import PathOutsideWorkspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace beside a host file that no lookup may reach."""
    (tmp_path / "host.txt").write_text("host")
    workspace = tmp_path / "run_x"
    (workspace / "a" / "b").mkdir(parents=True)
    (workspace / "a" / "b" / "note.txt").write_text("note")
    return workspace


def _read(workspace: Path, path: str) -> str:
    root = open_workspace(workspace)
    try:
        fd = open_at(root, path, os.O_RDONLY)
    finally:
        os.close(root)
    with open(fd) as file:
        return file.read()


@pytest.mark.parametrize(
    ("link", "target"),
    [("rel", "a/b/note.txt"), ("abs", "/workspace/a/b/note.txt"), ("dots", "a/../a/b/./note.txt")],
)
def test_symlinks_inside_are_followed_as_the_jail_follows_them(workspace: Path, link: str, target: str) -> None:
    (workspace / link).symlink_to(target)
    (workspace / "a" / "up").symlink_to("..")

    assert _read(workspace, link) == "note"
    assert _read(workspace, "a/up/a/b/note.txt") == "note"
    assert _read(workspace, "/workspace/a/b/../b/note.txt") == "note"


@pytest.mark.parametrize(
    ("link", "target"),
    [("host", "../host.txt"), ("root", "/etc/passwd"), ("hostdir", "/"), ("deep", "a/../../host.txt")],
)
def test_symlinks_to_outside_are_refused(workspace: Path, link: str, target: str) -> None:
    (workspace / link).symlink_to(target)

    with pytest.raises(PathOutsideWorkspace):
        _read(workspace, link if link != "hostdir" else "hostdir/etc/passwd")


def test_a_link_that_climbs_above_the_workspace_from_where_it_is_is_refused(workspace: Path) -> None:
    # Each `..` returns to a handle the lookup holds; three of them from `a/b` climb above the workspace.
    (workspace / "a" / "b" / "escape").symlink_to("../../..")

    with pytest.raises(PathOutsideWorkspace):
        _read(workspace, "a/b/escape/host.txt")


def test_a_loop_of_symlinks_is_refused(workspace: Path) -> None:
    (workspace / "one").symlink_to("two")
    (workspace / "two").symlink_to("one")

    with pytest.raises(PathOutsideWorkspace, match="too many levels"):
        _read(workspace, "one")


def test_missing_directories_are_made_only_when_asked(workspace: Path) -> None:
    root = open_workspace(workspace)
    try:
        with pytest.raises(FileNotFoundError, match=r"'new/dir/file\.txt'"):  # named as the jail sees it
            open_at(root, "new/dir/file.txt", os.O_WRONLY | os.O_CREAT)
        os.close(open_at(root, "new/dir/file.txt", os.O_WRONLY | os.O_CREAT, make_parents=True))
    finally:
        os.close(root)

    assert (workspace / "new" / "dir" / "file.txt").is_file()


def test_the_workspace_itself_is_not_a_file(workspace: Path) -> None:
    for path in ("", "/workspace", "a/.."):
        with pytest.raises(IsADirectoryError):
            _read(workspace, path)


def test_a_lookup_walks_at_most_max_components_symlinks_targets_included(workspace: Path) -> None:
    # Each link's target climbs and descends 800 times (1,600 components) before naming the next link: three of
    # them walk more than MAX_COMPONENTS while never more than two directories deep.
    (workspace / "l1").symlink_to("a/../" * 800 + "l2")
    (workspace / "l2").symlink_to("a/../" * 800 + "l3")
    (workspace / "l3").symlink_to("a/../" * 800 + "a/b/note.txt")
    (workspace / "short").symlink_to("a/../" * 800 + "a/b/note.txt")

    assert _read(workspace, "short") == "note"
    with pytest.raises(OSError, match="too long to look up") as refused:
        _read(workspace, "l1")
    assert refused.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError, match="too long to look up"):
        _read(workspace, "a/../" * (MAX_COMPONENTS // 2) + "a/b/note.txt")


def test_a_lookup_goes_at_most_max_depth_directories_deep(workspace: Path) -> None:
    deepest = workspace.joinpath(*["d"] * MAX_DEPTH)
    deepest.mkdir(parents=True)
    (deepest / "file.txt").write_text("deep")
    (deepest / "d").mkdir()
    (deepest / "d" / "file.txt").write_text("deeper")
    (workspace / "down").symlink_to("/".join(["d"] * MAX_DEPTH) + "/d/file.txt")

    assert _read(workspace, "/".join(["d"] * MAX_DEPTH) + "/file.txt") == "deep"
    for path in ("/".join(["d"] * (MAX_DEPTH + 1)) + "/file.txt", "down"):
        with pytest.raises(OSError, match="too long to look up") as refused:
            _read(workspace, path)
        assert refused.value.errno == errno.ENAMETOOLONG
