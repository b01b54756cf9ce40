"""Webhook signatures as receivers check them: ``standardwebhooks`` (the Standard Webhooks
reference library) is the receiver, and the deprecated ``Nurture-Signature`` still verifies.

No broker: the sender is exercised over a real local HTTP receiver.
"""

from __future__ import annotations

import base64
import binascii
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from consumers import webhook_secret as webhook_secret_command
from consumers.errors import RetriableDeliveryError
from consumers.store import DeliveryStore
from consumers.webhook import WebhookSender, webhook_secret
from consumers.webhook_signature import (
    HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
    standard_key,
    standard_secret,
    verify,
    verify_standard,
)
from schemas.errors import ConfigError
from tests.test_delivery_support import (
    SECRET,
    Receiver,
    action,
    http_receiver,
    profile,
    settings_for,
)

#: A Standard Webhooks secret as a receiver platform would issue it (24 random bytes).
WHSEC = "whsec_" + base64.b64encode(bytes(range(200, 224))).decode()
#: The version of the project, which decides when Nurture-Signature goes (docs/delivery.md).
PROJECT_VERSION = tomllib.loads(
    (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
)["project"]["version"]

secrets_text = st.text(min_size=1, max_size=40).filter(lambda s: not s.startswith("whsec_"))
message_ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)


@settings(max_examples=200)
@given(body=st.binary(max_size=300), secret=secrets_text, message_id=message_ids)
def test_the_library_verifies_what_the_sender_signs(
    body: bytes, secret: str, message_id: str
) -> None:
    headers = signed_headers(secret, message_id, body)
    receiver = Webhook(standard_secret(secret))
    assert receiver.verify(body, headers, json_parse=False) is None  # raises when it fails
    assert verify_standard(secret, headers, body)
    assert verify_standard(standard_secret(secret), headers, body)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body + b"x", headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_secret(secret + "x")).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        receiver.verify(body, {**headers, ID_HEADER: message_id + "x"}, json_parse=False)
    assert not verify_standard(secret, headers, body + b"x")
    assert not verify_standard(secret + "x", headers, body)


def test_both_signatures_share_the_id_and_the_moment() -> None:
    headers = signed_headers(SECRET, "act-1", b"{}", timestamp=1_700_000_000)
    assert headers[ID_HEADER] == "act-1"
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    assert headers[SIGNATURE_HEADER].startswith("v1,")
    assert headers[HEADER].startswith("t=1700000000,v1=")
    assert verify(SECRET, headers[HEADER], b"{}", now=1_700_000_100)
    at = datetime.fromtimestamp(1_700_000_000, UTC)  # the library's own signer agrees
    assert headers[SIGNATURE_HEADER] == Webhook(standard_secret(SECRET)).sign("act-1", at, b"{}")


def test_the_whsec_form_is_standard_base64_of_the_secret() -> None:
    assert standard_secret(SECRET) == "whsec_" + base64.b64encode(SECRET.encode()).decode()
    url_safe_bytes = "\u00fb\u00ff secret with ~?>"  # standard base64 of it has + and /
    encoded = standard_secret(url_safe_bytes).removeprefix("whsec_")
    assert {"+", "/"} & set(encoded)
    assert standard_key(standard_secret(url_safe_bytes)) == url_safe_bytes.encode()


def test_the_raw_secret_is_not_what_the_library_takes() -> None:
    """Why receivers must be given the whsec_ form: the library reads any string as base64."""
    headers = signed_headers(SECRET, "act-1", b"{}")
    with pytest.raises((WebhookVerificationError, binascii.Error)):
        Webhook(SECRET).verify(b"{}", headers, json_parse=False)


def test_a_whsec_secret_is_used_as_issued() -> None:
    body = b'{"a": 1}'
    headers = signed_headers(WHSEC, "act-2", body)
    assert standard_secret(WHSEC) == WHSEC
    assert standard_key(WHSEC) == bytes(range(200, 224))
    assert Webhook(WHSEC).verify(body, headers) == {"a": 1}
    assert verify(WHSEC, headers[HEADER], body)  # the old header keys with the string as before
    unpadded = WHSEC.rstrip("=")
    assert standard_key(unpadded) == standard_key(WHSEC)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_not base64!", "whsec_a-b_"])
def test_a_malformed_whsec_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="whsec_"):
        standard_key(bad)


def test_the_sender_refuses_a_bad_or_short_whsec_secret(tmp_path: Path) -> None:
    bad = "whsec_" + "%" * 30
    with pytest.raises(ConfigError, match="not a Standard Webhooks secret"):
        webhook_secret(settings_for(tmp_path, webhook_secret=bad))
    short = "whsec_" + base64.b64encode(b"twelve bytes").decode()
    with pytest.raises(ConfigError, match="12 bytes"):
        webhook_secret(settings_for(tmp_path, webhook_secret=short))
    assert webhook_secret(settings_for(tmp_path, webhook_secret=WHSEC)) == WHSEC


def test_old_new_and_several_signatures() -> None:
    now = int(time.time())
    old = signed_headers(SECRET, "act-3", b"b", timestamp=now - 301)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(standard_secret(SECRET)).verify(b"b", old, json_parse=False)
    assert not verify_standard(SECRET, old, b"b", now=now)
    assert verify_standard(SECRET, old, b"b", tolerance_s=302, now=now)
    # During a key rotation a receiver may see several space-separated signatures.
    new = signed_headers(SECRET, "act-3", b"b", timestamp=now)
    other = signed_headers("another-key-of-at-least-16", "act-3", b"b", timestamp=now)
    both = {**new, SIGNATURE_HEADER: f"{other[SIGNATURE_HEADER]} {new[SIGNATURE_HEADER]}"}
    assert Webhook(standard_secret(SECRET)).verify(b"b", both, json_parse=False) is None
    assert verify_standard(SECRET, both, b"b", now=now)


def test_unreadable_timestamps_are_rejected_not_raised() -> None:
    headers = signed_headers(SECRET, "act-4", b"b", timestamp=1)
    for timestamp in ["", "abc", "\u00b2", "-1"]:
        assert not verify_standard(SECRET, {**headers, TIMESTAMP_HEADER: timestamp}, b"b")
        assert not verify(SECRET, f"t={timestamp},v1=00", b"b")
    assert not verify_standard(SECRET, {}, b"b")


def test_the_sender_posts_headers_the_library_verifies(tmp_path: Path) -> None:
    receiver = Receiver(statuses=[503])
    the_action = action("cand-sw")
    store = DeliveryStore(tmp_path / "store", "webhook")
    with http_receiver(receiver) as url:
        sender = WebhookSender(settings_for(tmp_path, webhooks={"crm": url + "/hook"}), store)
        try:
            with pytest.raises(RetriableDeliveryError, match="503"):
                sender.send(the_action, profile("cand-sw"), attempt=1)
            assert sender.send(the_action, profile("cand-sw"), attempt=2) == "http 200"
        finally:
            sender.close()
            store.close()
    assert receiver.count() == 2
    library = Webhook(standard_secret(SECRET))
    for attempt, reception in enumerate(receiver.receptions, start=1):
        headers = {name.lower(): value for name, value in reception.headers.items()}
        assert headers[ID_HEADER] == headers["idempotency-key"] == the_action.action_id
        assert library.verify(reception.body, reception.headers)["attempt"] == attempt
        assert verify(SECRET, headers[HEADER.lower()], reception.body)  # still sent and valid
        timestamp = headers[TIMESTAMP_HEADER]
        assert headers[HEADER.lower()].startswith(f"t={timestamp},")
        tampered = orjson.dumps({**orjson.loads(reception.body), "attempt": 99})
        with pytest.raises(WebhookVerificationError):
            library.verify(tampered, reception.headers)
        assert not verify(SECRET, headers[HEADER.lower()], tampered)


def test_the_command_prints_the_secret_receivers_pass_to_the_library(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("NURTURE_DELIVERY_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("NURTURE_DELIVERY_WEBHOOK_SECRET_FILE", str(tmp_path / "webhook-secret"))
    assert webhook_secret_command.main() == 0
    printed = capsys.readouterr().out.strip()
    key = (tmp_path / "webhook-secret").read_text().strip()  # made on first use, as delivery does
    assert printed == standard_secret(key)
    Webhook(printed).verify(b"{}", signed_headers(key, "act-5", b"{}"), json_parse=False)
    monkeypatch.setenv("NURTURE_DELIVERY_WEBHOOK_SECRET", "change-me")
    assert webhook_secret_command.main() == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "placeholder" in captured.err and "Traceback" not in captured.err


def test_nurture_signature_is_still_sent_before_1_0() -> None:
    """The deprecation promise of docs/delivery.md: Nurture-Signature is sent in every 0.x
    release and removed in 1.0.0. Bumping to 1.0.0 fails here until it is removed."""
    major = int(PROJECT_VERSION.split(".")[0])
    assert major < 1, "1.0.0 drops Nurture-Signature: remove it from signed_headers and docs"
    assert HEADER in signed_headers(SECRET, "act-6", b"{}")
