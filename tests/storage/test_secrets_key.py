"""Where a process finds its secrets key: the settings, a key file, or on SQLite the data directory's key file,
generated once; on PostgreSQL a missing key is an error that names the setting."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from agentruns.services.auth import issue_key
from agentruns.services.webhooks import signing_secret
from agentruns.settings import Settings
from agentruns.storage import migrate
from agentruns.storage.secret_box import SecretBox, SecretsKeyError, new_key
from agentruns.storage.secrets_key import KEY_FILE_NAME, secret_box
from tests.support.portal import async_bridge


def _settings(url: str, **secrets: object) -> Settings:
    return Settings(database_url=url, **({"secrets_key": None, "secrets_key_file": None} | secrets))  # pyright: ignore[reportArgumentType]


def test_on_sqlite_a_key_file_is_made_beside_the_database_once_private_and_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/data/agentruns.db"
    box = secret_box(_settings(url))
    key_file = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    made = key_file.read_text()
    sealed = box.seal("whsec_x")
    again = secret_box(_settings(url))
    assert key_file.read_text() == made
    assert again.open(sealed) == "whsec_x"
    assert [path.name for path in key_file.parent.iterdir()] == [KEY_FILE_NAME]  # no draft left behind


def test_processes_starting_together_make_one_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/agentruns.db"
    program = (
        "import sys\n"
        "from agentruns.settings import Settings\n"
        "from agentruns.storage.secrets_key import secret_box\n"
        "box = secret_box(Settings(database_url=sys.argv[1], secrets_key=None, secrets_key_file=None))\n"
        "print(box.seal('whsec_x'))\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AGENTRUNS_")}
    starts = [
        subprocess.Popen([sys.executable, "-c", program, url], env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    sealed = [start.communicate(timeout=60)[0].strip() for start in starts]
    assert [start.returncode for start in starts] == [0, 0, 0, 0]
    box = secret_box(_settings(url))
    assert [box.open(one) for one in sealed] == ["whsec_x"] * 4
    assert [path.name for path in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_the_setting_comes_before_the_key_file_and_a_named_file_is_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/agentruns.db"
    key = new_key()
    sealed = SecretBox([key]).seal("whsec_x")
    assert secret_box(_settings(url, secrets_key=SecretStr(f"{new_key()},{key}"))).open(sealed) == "whsec_x"
    named = tmp_path / "elsewhere.key"
    named.write_text(f"{key}\n")
    assert secret_box(_settings(url, secrets_key_file=str(named))).open(sealed) == "whsec_x"
    assert not (tmp_path / KEY_FILE_NAME).exists()
    with pytest.raises(SecretsKeyError, match=r"AGENTRUNS_SECRETS_KEY_FILE names .*missing\.key, which cannot be read"):
        secret_box(_settings(url, secrets_key_file=str(tmp_path / "missing.key")))


def test_on_postgresql_a_missing_key_is_an_error_naming_the_setting_and_no_file_is_made(tmp_cwd: Path) -> None:
    with pytest.raises(SecretsKeyError, match=r"AGENTRUNS_SECRETS_KEY .* must be set when the database is PostgreSQL"):
        secret_box(_settings("postgresql://postgres@127.0.0.1:5432/test"))
    assert list(tmp_cwd.iterdir()) == []


def test_the_key_and_a_key_file_together_are_refused() -> None:
    with pytest.raises(ValidationError, match="not both"):
        Settings(secrets_key=SecretStr(new_key()), secrets_key_file="/etc/agentruns/secrets.key")


def test_on_sqlite_a_lost_key_file_is_not_replaced_while_the_database_holds_secrets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/agentruns.db"
    box = secret_box(_settings(url))
    migrate.upgrade(url, secrets=box)
    with async_bridge(url) as bridge:
        org_id = bridge.call(issue_key, bridge.db, "lost").org_id
        bridge.call(signing_secret, bridge.db, box, org_id)
    (tmp_path / KEY_FILE_NAME).unlink()
    with pytest.raises(SecretsKeyError, match=r"secrets\.key is missing, yet the database holds secrets"):
        secret_box(_settings(url))
    assert not (tmp_path / KEY_FILE_NAME).exists()
