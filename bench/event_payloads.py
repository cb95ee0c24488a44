"""The event the event benchmarks write: a `run.step` of the usual shape and size (a `bash` tool call)."""

from typing import Any


def step_payload(number: int) -> dict[str, Any]:
    """A `run.step` event's data as a worker stores it (about 350 bytes of JSON; the stream adds ~110 more)."""
    return {
        "step": {
            "id": f"step_{number:06d}",
            "type": "tool_call",
            "content": None,
            "toolName": "bash",
            "toolInput": {"command": f"grep -n 'def ' src/module_{number % 97}.py | head -20"},
            "toolOutput": None,
            "durationMs": 12,
            "timestamp": "2026-11-23T12:00:00.000Z",
        }
    }


def baseline_payload(number: int) -> dict[str, Any]:
    """The same data with the fields the agentruns stream adds (`type`, `runId`, `sequence`, `timestamp`)."""
    envelope = {"type": "run.step", "runId": "run_0123456789abcdefghijklmn", "sequence": number,
                "timestamp": "2026-11-23T12:00:00.000Z"}  # fmt: skip
    return envelope | step_payload(number)
