"""The tracking key: made once per install, shared through its file, weak keys refused."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from consumers.email_sender import EmailSender
from consumers.webhook import webhook_secret
from schemas.errors import ConfigError
from schemas.tracking_secret import MIN_SECRET_CHARS, read_or_create, tracking_secret, weakness
from schemas.tracking_tokens import read_token
from tests.test_delivery_support import action, settings_for


def test_first_use_makes_a_private_random_key_that_later_uses_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "tracking-secret"
    first = tracking_secret(None, path)
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tracking_secret(None, path) == first
    assert tracking_secret(None, tmp_path / "other") != first


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "tracking-secret"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create(path), range(32)))
    assert keys == {path.read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["tracking-secret"]


@pytest.mark.parametrize("weak", ["change-me", "CHANGE-ME", "secret", "x" * (MIN_SECRET_CHARS - 1)])
def test_weak_keys_are_refused_from_the_variable_and_the_file(tmp_path: Path, weak: str) -> None:
    assert weakness(weak) is not None
    with pytest.raises(ConfigError, match="forge"):
        tracking_secret(SecretStr(weak), None)
    path = tmp_path / "tracking-secret"
    path.write_text(weak + "\n")
    with pytest.raises(ConfigError, match=str(path)):
        tracking_secret(None, path)


def test_the_variable_wins_over_the_file(tmp_path: Path) -> None:
    key = "a-long-random-looking-key-0123456789"
    assert tracking_secret(SecretStr(key), tmp_path / "unused") == key
    assert not (tmp_path / "unused").exists()


def test_the_sender_signs_with_the_key_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tracking-secret"
    settings = settings_for(tmp_path, tracking_secret=None, tracking_secret_file=path)
    sender = EmailSender(settings)
    try:
        links = sender.links(action("cand-t", "email", template_id="blog-digest"))
    finally:
        sender.close()
    token = links.unsubscribe_url.rsplit("/", 1)[1]
    claims = read_token(path.read_text().strip(), "unsubscribe", token)
    assert claims["c"] == "cand-t"
    assert claims["exp"] > 0


@pytest.mark.parametrize("weak", ["change-me", "short"])
def test_webhooks_refuse_a_weak_signing_key(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ConfigError, match="NURTURE_DELIVERY_WEBHOOK_SECRET"):
        webhook_secret(settings_for(tmp_path, webhook_secret=weak))
    strong = "a-long-random-looking-key-0123456789"
    assert webhook_secret(settings_for(tmp_path, webhook_secret=strong)) == strong


def test_without_a_webhook_key_one_is_made_in_its_file(tmp_path: Path) -> None:
    path = tmp_path / "webhook-secret"
    settings = settings_for(tmp_path, webhook_secret=None, webhook_secret_file=path)
    assert webhook_secret(settings) == path.read_text().strip()
