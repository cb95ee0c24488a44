"""What `read` shows of a window of a file's lines: as many as its output holds, and how to read on."""

from agentruns.agent.tools.output import MAX_OUTPUT_CHARS
from agentruns.sandbox.lines import MAX_SCAN_BYTES, Window


def shown(path: str, first: int, limit: int, window: Window) -> str:
    """The lines of `window` (from line `first`, 0-based; `limit` were asked for) that fit in the tool's output,
    with a note when the file goes on: where to go on from, or how to read a line too long to show."""
    if window.out_of_reach:
        return (
            f"[line {first + 1} of {path!r} starts beyond the first {MAX_SCAN_BYTES // (1024 * 1024)} MiB of the file, "
            f"as far as read looks: read it with bash, e.g. sed -n '{first + 1},{first + limit}p' {path}]"
        )
    if window.total_lines is not None and first > 0:
        return f"[{path!r} has {window.total_lines} lines: offset {first + 1} is past its end]"
    texts = [line.decode(errors="replace") for line in window.lines]
    kept: list[str] = []
    chars = 0
    line_cut = window.last_cut
    for text in texts:
        if chars + len(text) > MAX_OUTPUT_CHARS:
            if not kept:
                kept.append(text[:MAX_OUTPUT_CHARS])
                line_cut = True
            break
        kept.append(text)
        chars += len(text) + 1
    body = "\n".join(kept)
    last = first + len(kept)
    if line_cut:
        return (
            f"{body}\n[file cut: line {last} is longer than shown ({len(kept[-1]):,} characters); read on with "
            f"offset={last + 1}, or read that line with bash (e.g. cut -c or head -c)]"
        )
    if window.more or len(kept) < len(texts):
        return f"{body}\n[file cut: lines {first + 1}-{last} shown; read on with offset={last + 1}]"
    return body
