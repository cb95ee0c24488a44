"""`question`: ask a person and wait for the answer; the run waits (`waiting`) without holding a worker."""

from pydantic_ai import RunContext
from pydantic_ai.exceptions import CallDeferred

from agentruns.agent.deps import RunDeps


async def question(ctx: RunContext[RunDeps], question: str) -> str:
    """Ask the person who started the run a question, and wait for the answer. Use it only when you cannot
    go on without their decision or information; the run pauses until they answer.

    Args:
        question: The question, complete enough to be answered without other context.
    """
    raise CallDeferred(metadata={"question": question}, kind="question")
