"""Encrypt the secrets agentruns stores (webhook signing secrets) with Fernet keys: the first encrypts, all decrypt."""

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsKeyError(ValueError):
    """The secrets key is missing or malformed; the message names the setting to fix."""


class UndecryptableSecret(Exception):
    """A stored secret was encrypted with none of the configured keys (a wrong key, or a damaged value)."""


def new_key() -> str:
    """A new random key, in the form `AGENTRUNS_SECRETS_KEY` takes (Fernet's: 32 bytes in URL-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str, *, source: str) -> list[str]:
    """The keys in `text`, separated by commas or line breaks, in order; `SecretsKeyError` naming `source` if none
    is there or one is not a key."""
    keys = [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]
    if not keys:
        raise SecretsKeyError(f"{source} holds no key; make one with `agentruns secrets new-key`")
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise SecretsKeyError(
                f"key {number} of {source} is not a key (32 bytes in URL-safe base64, as `agentruns secrets "
                "new-key` prints)"
            ) from None
    return keys


class SecretBox:
    """Seals a secret for the database and opens it again; `reseal` moves a sealed one to the first key."""

    def __init__(self, keys: Sequence[str]) -> None:
        """`keys` as `parse_keys` returns them, the one that encrypts first."""
        if not keys:
            raise SecretsKeyError("no secrets key is configured")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def seal(self, plain: str) -> str:
        """The secret encrypted (and authenticated) under the first key, as text."""
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The plain secret; `UndecryptableSecret` if none of the keys encrypted it."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret(
                "a stored secret cannot be decrypted with the configured secrets key (AGENTRUNS_SECRETS_KEY, "
                "AGENTRUNS_SECRETS_KEY_FILE or the data directory's key file): it was encrypted with another key"
            ) from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the first key; `UndecryptableSecret` as `open`."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            self.open(sealed)  # raises the explained error
            raise
