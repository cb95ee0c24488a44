"""The key of stored secrets that the test session's processes share: on PostgreSQL every process needs one."""

import os

TEST_SECRETS_KEY = "dGVzdC1vbmx5LXNlY3JldHMta2V5LWFnZW50cnVucyE="
"""A fixed Fernet key (32 bytes in URL-safe base64), for tests only."""


def share_with_the_session() -> None:
    """Give the key to every `Settings` the tests make and to the processes they start (unless a test sets its own)."""
    os.environ.setdefault("AGENTRUNS_SECRETS_KEY", TEST_SECRETS_KEY)
