"""`todowrite`: the agent's own task list for the run."""

from typing import Literal

from pydantic import BaseModel
from pydantic_ai import RunContext

from agentruns.agent.deps import RunDeps


class Todo(BaseModel):
    """One item of the agent's task list."""

    content: str
    status: Literal["pending", "in_progress", "completed"] = "pending"


async def todowrite(ctx: RunContext[RunDeps], todos: list[Todo]) -> str:
    """Replace the run's task list; use it to plan and track multi-step work.

    Args:
        todos: The whole list, each item with its `content` and `status` (pending, in_progress, completed).
    """
    ctx.deps.todos[:] = [todo.model_dump() for todo in todos]
    done = sum(1 for todo in todos if todo.status == "completed")
    return f"{len(todos)} task(s), {done} completed:\n" + "\n".join(f"[{t.status}] {t.content}" for t in todos)
