"""The tools an agent may call, by their Case.dev names; the built-ins register like any plugin would."""

from collections.abc import Callable, Sequence
from typing import Any

from agentruns.agent.tools import ask, delegate, files, search, shell, todo, web

ToolFunction = Callable[..., Any]

BUILTIN_TOOLS: dict[str, ToolFunction] = {
    "bash": shell.bash,
    "read": files.read,
    "write": files.write,
    "edit": files.edit,
    "glob": search.glob,
    "grep": search.grep,
    "webfetch": web.webfetch,
    "todowrite": todo.todowrite,
    "question": ask.question,
    "task": delegate.task,
}


def select_tools(enabled: Sequence[str] | None, disabled: Sequence[str] | None) -> dict[str, ToolFunction]:
    """The tools a run may use: the allowlist if there is one, otherwise every tool but the denylist."""
    if enabled is not None:
        return {name: BUILTIN_TOOLS[name] for name in enabled if name in BUILTIN_TOOLS}
    return {name: tool for name, tool in BUILTIN_TOOLS.items() if name not in set(disabled or ())}
