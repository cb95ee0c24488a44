"""Runs that wait for a person's answer: the `question` tool, `POST /run/{id}/input`, cancel and the wait limit."""

import json

import httpx

from tests.engine.conftest import wait_for_status, wait_until
from tests.support.factories import error_of, make_agent, make_run
from tests.support.sse import events_of
from tests.support.workers import WorkerProcess


def ask(question: str, *then: str) -> str:
    """A prompt for the offline model: ask `question`, then follow the other directives."""
    return "\n".join([f"call question {json.dumps({'question': question})}", *then])


def start(client: httpx.Client, prompt: str, **agent: str) -> str:
    run = make_run(client, make_agent(client, **agent)["id"], prompt=prompt)
    assert client.post(f"/agent/v1/run/{run['id']}/exec").status_code == 200
    return run["id"]


def test_a_question_makes_the_run_wait_and_the_answer_resumes_it(client: httpx.Client, worker: WorkerProcess) -> None:
    run_id = start(client, ask("Which year?", 'call bash {"command": "echo checked"}'))
    assert wait_for_status(client, run_id, {"waiting"})["status"] == "waiting"
    waiting = client.get(f"/agent/v1/run/{run_id}").json()
    assert waiting["waitingFor"] == [
        {"id": "offline-call-1", "kind": "question", "question": "Which year?", "runId": None}
    ]
    assert waiting["waitDeadline"] > waiting["startedAt"]
    assert waiting["runtimeState"] == "stopped"
    assert [step["type"] for step in waiting["steps"]] == ["tool_call"]
    assert waiting["completedAt"] is None

    answered = client.post(f"/agent/v1/run/{run_id}/input", json={"answer": "2024"})
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"id": run_id, "status": "running", "message": "answer stored; the run goes on"}
    error_of(client.post(f"/agent/v1/run/{run_id}/input", json={"answer": "again"}), 409, "CONFLICT")
    assert wait_for_status(client, run_id)["status"] == "completed"

    details = client.get(f"/agent/v1/run/{run_id}").json()
    assert [(step["type"], step["toolName"]) for step in details["steps"]] == [
        ("tool_call", "question"), ("tool_result", "question"), ("tool_call", "bash"), ("tool_result", "bash"),
        ("output", None),
    ]  # fmt: skip
    assert details["steps"][1]["toolOutput"] == "2024"
    assert [step["id"][-4:] for step in details["steps"]] == ["0001", "0002", "0003", "0004", "0005"]
    assert "question: 2024" in details["result"]["output"]
    assert [entry["id"][-4:] for entry in details["usage"]["entries"]] == ["0001", "0002", "0003"]
    assert details["waitingFor"] == [] and details["waitDeadline"] is None
    assert details["workflowId"] == f"wrun_{run_id.removeprefix('run_')}_1"  # the workflow that resumed it
    runner = details["result"]["logs"]["runner"]
    assert "waiting for question offline-call-1" in runner and "model request 3" in runner

    events = events_of(client, run_id)
    assert [frame.id for frame in events if frame.id is not None] == list(range(1, len(events)))  # no gaps
    statuses = [frame.data for frame in events if frame.event == "run.status"]
    assert [status["status"] for status in statuses] == ["queued", "running", "waiting", "running"]
    assert statuses[2]["waitingFor"] == waiting["waitingFor"]
    assert events[-2].event == "run.completed"


def test_input_is_refused_unless_the_run_waits_for_an_answer(client: httpx.Client) -> None:
    run = make_run(client, make_agent(client)["id"])
    message = error_of(client.post(f"/agent/v1/run/{run['id']}/input", json={"answer": "yes"}), 409, "CONFLICT")
    assert "queued" in message
    error_of(client.post("/agent/v1/run/run_nope/input", json={"answer": "yes"}), 404, "RESOURCE_NOT_FOUND")
    for body in ({}, {"answer": ""}, {"answer": "yes", "other": 1}, {"answer": 3}):
        error_of(client.post(f"/agent/v1/run/{run['id']}/input", json=body), 400, "INVALID_INPUT")


def test_two_questions_are_answered_in_turn_or_by_id(client: httpx.Client, worker: WorkerProcess) -> None:
    agent = make_agent(client)["id"]
    # The offline model makes one call per request, so two questions mean two waits.
    run = make_run(client, agent, prompt=ask("First?") + "\n" + ask("Second?"))
    client.post(f"/agent/v1/run/{run['id']}/exec")
    wait_for_status(client, run["id"], {"waiting"})
    wrong = {"answer": "x", "questionId": "offline-call-9"}
    assert "offline-call-1" in error_of(client.post(f"/agent/v1/run/{run['id']}/input", json=wrong), 409, "CONFLICT")
    first = {"answer": "one", "questionId": "offline-call-1"}
    assert client.post(f"/agent/v1/run/{run['id']}/input", json=first).json()["status"] == "running"

    def asks_second() -> bool:
        details = client.get(f"/agent/v1/run/{run['id']}").json()
        return details["status"] == "waiting" and details["waitingFor"][0]["question"] == "Second?"

    wait_until(asks_second)
    client.post(f"/agent/v1/run/{run['id']}/input", json={"answer": "two"})
    assert wait_for_status(client, run["id"])["status"] == "completed"
    output = client.get(f"/agent/v1/run/{run['id']}").json()["result"]["output"]
    assert "question: one" in output and "question: two" in output


def test_a_waiting_run_can_be_cancelled(client: httpx.Client, worker: WorkerProcess) -> None:
    run_id = start(client, ask("Go on?"))
    wait_for_status(client, run_id, {"waiting"})
    assert client.post(f"/agent/v1/run/{run_id}/cancel").json() == {
        "id": run_id, "status": "cancelled", "message": None,
    }  # fmt: skip
    details = client.get(f"/agent/v1/run/{run_id}").json()
    assert (details["status"], details["runtimeState"], details["waitingFor"]) == ("cancelled", "archived", [])
    error_of(client.post(f"/agent/v1/run/{run_id}/input", json={"answer": "yes"}), 409, "CONFLICT")
    assert events_of(client, run_id)[-2].event == "run.cancelled"
