"""Windows of a workspace file's lines, and whole reads: bounded by what they keep, never by the file's size."""

import errno
import os
from pathlib import Path

import pytest

from agentruns.sandbox import workspace as files
from agentruns.sandbox.lines import CHUNK_BYTES, MAX_SCAN_BYTES, Window, scan, window

GIB = 1024 * 1024 * 1024


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "run_x"
    workspace.mkdir()
    return workspace


def test_a_window_is_the_lines_asked_for_and_says_whether_the_file_goes_on(workspace: Path) -> None:
    (workspace / "f.txt").write_bytes(b"one\ntwo\nthree\nfour")

    assert window(workspace, "f.txt", first=1, count=2, max_bytes=100) == Window([b"two", b"three"], more=True)
    assert window(workspace, "f.txt", first=2, count=5, max_bytes=100) == Window([b"three", b"four"])
    assert window(workspace, "f.txt", first=0, count=9, max_bytes=9) == Window([b"one", b"two"], more=True)
    assert window(workspace, "f.txt", first=7, count=1, max_bytes=100) == Window([], total_lines=4)
    (workspace / "g.txt").write_bytes(b"a\nb\n")
    assert window(workspace, "g.txt", first=1, count=1, max_bytes=100) == Window([b"b"])
    assert window(workspace, "g.txt", first=2, count=1, max_bytes=100) == Window([], total_lines=2)


def test_a_sparse_file_of_4_gib_is_read_no_further_than_the_window(workspace: Path) -> None:
    sparse = workspace / "sparse"
    with sparse.open("wb") as file:
        file.truncate(4 * GIB)  # one line of 4 GiB of zeros, and no disk

    with sparse.open("rb") as file:
        found = scan(file, first=0, count=2000, max_bytes=120_000)
        read = file.tell()

    assert found.last_cut and found.more
    assert [len(line) for line in found.lines] == [120_000]
    assert read <= 120_000 + CHUNK_BYTES
    with pytest.raises(OSError, match="larger than 16 MiB") as refused:
        files.read(workspace, "sparse")
    assert refused.value.errno == errno.EFBIG


def test_lines_are_counted_no_further_than_the_scan_limit(workspace: Path) -> None:
    sparse = workspace / "sparse"
    with sparse.open("wb") as file:
        file.write(b"\n" * 10)
        file.truncate(4 * GIB)

    with sparse.open("rb") as file:
        found = scan(file, first=20, count=1, max_bytes=100)
        read = file.tell()

    assert found == Window([], out_of_reach=True)
    assert read <= MAX_SCAN_BYTES + CHUNK_BYTES


def test_a_file_of_short_lines_is_not_split_whole(workspace: Path) -> None:
    (workspace / "lines").write_bytes(b"ab\n" * (4 << 20))  # 12 MiB of lines

    with open(workspace / "lines", "rb") as file:
        found = scan(file, first=(2 << 20), count=2000, max_bytes=120_000)
        read = file.tell()

    assert found == Window([b"ab"] * 2000, more=True)
    assert read <= (2 << 20) * 3 + 6000 + CHUNK_BYTES


def test_a_whole_read_refuses_what_is_longer_than_its_bound(workspace: Path) -> None:
    (workspace / "f").write_bytes(b"x" * 101)

    assert files.read(workspace, "f", max_bytes=101) == b"x" * 101
    with pytest.raises(OSError, match="larger than 100 bytes") as refused:
        files.read(workspace, "f", max_bytes=100)
    assert refused.value.errno == errno.EFBIG
    assert os.path.getsize(workspace / "f") == 101
