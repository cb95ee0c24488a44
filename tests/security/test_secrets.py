"""Someone with a copy of the service's database, and nothing else: what it reveals of the secrets it keeps."""

from tests.security.conftest import Target
from tests.support.raw_database import forms_of, raw_database


def test_a_copy_of_the_database_reveals_no_webhook_signing_secret(target: Target) -> None:
    first = target.client.get("/agent/v1/webhooks/secret").json()["secret"]
    rotated = target.client.post("/agent/v1/webhooks/secret").json()["secret"]
    agent = target.client.post("/agent/v1/agents", json={"name": "marker-agent-in-the-copy", "instructions": "x"})
    assert agent.status_code == 200, agent.text

    copy = raw_database(target.database_url)

    assert b"marker-agent-in-the-copy" in copy  # the copy is a real one, taken while the service runs
    for form in forms_of(first) + forms_of(rotated):
        assert form not in copy
