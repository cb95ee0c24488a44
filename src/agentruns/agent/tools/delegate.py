"""`task`: hand a task to another agent (or to a fresh run of this one) as a child run, and wait for its answer."""

from pydantic_ai import RunContext
from pydantic_ai.exceptions import CallDeferred

from agentruns.agent.deps import RunDeps


async def task(ctx: RunContext[RunDeps], prompt: str, agent_id: str | None = None) -> str:
    """Start a child run that works on a task on its own, and wait for its final answer, which becomes this
    tool's result. The child does not see this conversation: give it everything it needs in `prompt`.

    Args:
        prompt: The task for the child run.
        agent_id: The id (`agent_…`) of another agent of your organization to run; leave it out to run a fresh
            copy of yourself.
    """
    if ctx.deps.children is None or ctx.tool_call_id is None:
        raise ValueError("child runs cannot be started here")
    child = await ctx.deps.children.start_child(ctx.tool_call_id, agent_id, prompt)
    raise CallDeferred(metadata={"runId": child})
