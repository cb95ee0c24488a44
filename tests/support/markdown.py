"""The fenced code blocks of the docs, and the `…` patterns their expected outputs are written with."""

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ANY = "…"


@dataclass(frozen=True)
class Block:
    """One fenced block: its info string (`python`, `console` …), its text, its first line, where it is in the file."""

    info: str
    text: str
    line: int
    start: int
    end: int


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, in order."""
    source = path.read_text(encoding="utf-8")
    return [
        Block(
            found["info"].strip(), found["body"], source.count("\n", 0, found.start()) + 1, found.start(), found.end()
        )
        for found in FENCE.finditer(source)
    ]


def with_outputs(path: Path, info: str) -> list[tuple[Block, Block | None]]:
    """The blocks of one kind, each with the `text` block right after it (its expected output), if any."""
    source = path.read_text(encoding="utf-8")
    found = blocks(path)
    paired: list[tuple[Block, Block | None]] = []
    for number, block in enumerate(found):
        if block.info != info:
            continue
        following = found[number + 1] if number + 1 < len(found) else None
        if following is not None and following.info == "text" and not source[block.end : following.start].strip():
            paired.append((block, following))
        else:
            paired.append((block, None))
    return paired


def normalized(text: str) -> list[str]:
    """Lines without trailing spaces, and no blank lines at the end."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def pattern(expected: str) -> re.Pattern[str]:
    """A pattern of the expected lines: `…` is any text within a line, and a line of only `…` any lines."""
    parts: list[str] = []
    for line in normalized(expected):
        if line == ANY:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append("[^\n]*?".join(re.escape(piece) for piece in line.split(ANY)) + r"\n")
    return re.compile("".join(parts))


def matches(expected: str, actual: str) -> bool:
    """Whether the actual output is what the docs say, line by line."""
    lines = normalized(actual)
    return pattern(expected).fullmatch("".join(f"{line}\n" for line in lines)) is not None
