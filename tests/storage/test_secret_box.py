"""The box of stored secrets: sealed under the first key, opened by any, moved to the first key; a wrong key is
refused clearly."""

import pytest

from agentruns.storage.secret_box import SecretBox, SecretsKeyError, UndecryptableSecret, new_key, parse_keys


def test_a_sealed_secret_is_not_its_plain_text_and_opens_again() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal("whsec_plain")
    assert "whsec_plain" not in sealed
    assert box.open(sealed) == "whsec_plain"
    assert box.seal("whsec_plain") != sealed  # a fresh IV each time


def test_after_a_new_key_is_put_first_old_secrets_open_and_reseal_under_it() -> None:
    old, new = new_key(), new_key()
    sealed_by_old = SecretBox([old]).seal("whsec_x")
    both = SecretBox([new, old])
    assert both.open(sealed_by_old) == "whsec_x"
    moved = both.reseal(sealed_by_old)
    assert SecretBox([new]).open(moved) == "whsec_x"
    with pytest.raises(UndecryptableSecret):
        SecretBox([old]).open(moved)


def test_a_wrong_key_is_an_error_that_names_the_settings_not_a_token_error() -> None:
    sealed = SecretBox([new_key()]).seal("whsec_x")
    with pytest.raises(UndecryptableSecret, match="AGENTRUNS_SECRETS_KEY") as raised:
        SecretBox([new_key()]).open(sealed)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(UndecryptableSecret):
        SecretBox([new_key()]).reseal(sealed)
    with pytest.raises(UndecryptableSecret):
        SecretBox([new_key()]).open("not a token at all ✓")


def test_keys_are_read_from_commas_and_lines_and_a_bad_one_is_named() -> None:
    first, second, third = new_key(), new_key(), new_key()
    assert parse_keys(f" {first}, {second}\n\n{third}\n", source="X") == [first, second, third]
    with pytest.raises(SecretsKeyError, match=r"X holds no key.*agentruns secrets new-key"):
        parse_keys(" \n, ", source="X")
    with pytest.raises(SecretsKeyError, match="key 2 of AGENTRUNS_SECRETS_KEY is not a key") as raised:
        parse_keys(f"{first},hunter2", source="AGENTRUNS_SECRETS_KEY")
    assert "hunter2" not in str(raised.value)  # a key, even a malformed one, is not printed
