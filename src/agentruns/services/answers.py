"""The answer to a waiting run's question: `POST /agent/v1/run/{id}/input` resumes the run."""

from agentruns import clock
from agentruns.engine import waits
from agentruns.engine.client import EngineClient
from agentruns.errors import Conflict
from agentruns.schemas.runs import RunInput, RunInputAccepted, RunStatus
from agentruns.services.runs import run_not_found
from agentruns.storage.database import Database
from agentruns.storage.queries import waits as stored_waits


async def answer_run(db: Database, engine: EngineClient, org_id: str, run_id: str, body: RunInput) -> RunInputAccepted:
    """Answer the run's open question (`questionId`, or the first); the run resumes once nothing else is awaited.

    Raises:
        NotFound: No such run in the organization.
        Conflict: The run is not waiting, or waits for no (such) question.
    """
    async with db.write() as session:
        run = await waits.lock(session, run_id)
        if run is None or run.org_id != org_id:
            raise run_not_found(run_id)
        wait = await stored_waits.current(session, run_id) if run.status == RunStatus.WAITING else None
        if wait is None:
            raise Conflict(f"run {run_id!r} is {run.status}, not waiting for an answer")
        pending = [call for call in await stored_waits.calls(session, run_id, wait.number) if call.resolved_at is None]
        questions = [call for call in pending if call.kind == waits.QUESTION]
        if not questions:
            raise Conflict(f"run {run_id!r} waits for its child runs, not for an answer")
        chosen = next((call for call in questions if call.tool_call_id == body.question_id), None)
        if body.question_id is None:
            chosen = questions[0]
        elif chosen is None:
            open_ids = ", ".join(call.tool_call_id for call in questions)
            raise Conflict(f"run {run_id!r} waits for no question {body.question_id!r}; its open questions: {open_ids}")
        await waits.deliver(session, engine, chosen, body.answer, clock.now())
    if len(pending) > 1:
        return RunInputAccepted(id=run_id, status=RunStatus.WAITING,
                                message=f"answer stored; the run still waits for {len(pending) - 1} more")  # fmt: skip
    return RunInputAccepted(id=run_id, status=RunStatus.RUNNING, message="answer stored; the run goes on")
