"""The e-mail tracking endpoints against the real broker: links made by the e-mail sender.

Links come from :meth:`consumers.email_sender.EmailSender.links` (the tokens of real e-mails);
the gateway shares the sender's tracking secret.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry

from consumers.email_sender import EmailSender
from producers.gateway.tracking import TRACKING_SOURCE, check_token
from producers.gateway.tracking_routes import PIXEL
from schemas.codec import Decoded
from schemas.models import ContentChoice, NurtureAction
from schemas.settings import KafkaSettings
from schemas.topics import ACTIVITY
from schemas.tracking_tokens import InvalidTokenError, Purpose, make_token
from tests.kafka_helpers import wait_until
from tests.test_delivery_support import action, settings_for
from tests.test_gateway_support import decoded, running_gateway

SECRET = "tracking-secret-of-these-tests"
JOB_URL = "https://jobs.example.org/j1"
REFUSED = "nurture_gateway_tracking_tokens_refused_total"


def _email_action(candidate_id: str, channel: str = "email") -> NurtureAction:
    job = ContentChoice(content_id="j1", kind="job_opening", title="Python Engineer", url=JOB_URL)
    return action(candidate_id, channel, template_id="welcome-talent-pool", content=[job])


def _paths(tmp_path: Path, sent: NurtureAction) -> dict[str, str]:
    """The paths of the open, click and unsubscribe links of ``sent``'s e-mail."""
    sender = EmailSender(settings_for(tmp_path, tracking_secret=SECRET))
    links = sender.links(sent)
    urls = {
        "open": links.open_pixel_url,
        "click": links.click_urls["j1"],
        "unsubscribe": links.unsubscribe_url,
    }
    return {kind: urlsplit(url).path for kind, url in urls.items()}


def _events(kafka: KafkaSettings, event_type: str) -> list[Decoded]:
    return [found for found in decoded(kafka, ACTIVITY) if found.record["type"] == event_type]


def _one(kafka: KafkaSettings, event_type: str) -> Decoded:
    [found] = wait_until(lambda: _events(kafka, event_type), what=f"an {event_type} event")
    return found


def _refused(registry: CollectorRegistry, kind: str, reason: str) -> float:
    return registry.get_sample_value(REFUSED, {"kind": kind, "reason": reason}) or 0.0


def _tamper(path: str) -> str:
    """``path`` with one character of the token's signed claims changed."""
    prefix, _, token = path.rpartition("/")
    body, _, mac = token.partition(".")
    flipped = "A" if body[5] != "A" else "B"
    return f"{prefix}/{body[:5]}{flipped}{body[6:]}.{mac}"


def _assert_pixel(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.headers["cache-control"] == "no-store"
    assert response.content == PIXEL


@pytest.mark.kafka
def test_open_pixel_publishes_email_opened_for_the_tokens_candidate(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    sent = _email_action("cand-open")
    paths = _paths(tmp_path, sent)
    assert paths["open"].endswith(".gif")
    with running_gateway(kafka, tracking_secret=SECRET) as client:
        _assert_pixel(client.get(paths["open"]))
        found = _one(kafka, "email_opened")
        _assert_pixel(client.get(paths["open"]))  # a second open: the same fact
    record = found.record
    assert record["candidate_id"] == "cand-open"
    assert record["source"] == TRACKING_SOURCE
    assert record["payload"] == {"action_id": sent.action_id, "campaign_id": sent.campaign_id}
    assert len(_events(kafka, "email_opened")) == 1


@pytest.mark.kafka
def test_click_publishes_email_clicked_and_redirects_to_the_signed_url(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    sent = _email_action("cand-click")
    with running_gateway(kafka, tracking_secret=SECRET) as client:
        response = client.get(_paths(tmp_path, sent)["click"], follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"] == JOB_URL
        assert response.headers["cache-control"] == "no-store"
        found = _one(kafka, "email_clicked")
    assert found.record["candidate_id"] == "cand-click"
    assert found.record["payload"] == {
        "action_id": sent.action_id,
        "campaign_id": sent.campaign_id,
        "url": JOB_URL,
        "content_id": "j1",
    }


@pytest.mark.kafka
def test_tampered_tokens_are_refused_and_publish_nothing(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    paths = _paths(tmp_path, _email_action("cand-tamper"))
    registry = CollectorRegistry()
    with running_gateway(kafka, registry=registry, tracking_secret=SECRET) as client:
        click = client.get(_tamper(paths["click"]), follow_redirects=False)
        assert click.status_code == 400
        assert "location" not in click.headers
        assert click.text == "This link is invalid or has expired.\n"
        _assert_pixel(client.get(_tamper(paths["open"])))
        assert client.post(_tamper(paths["unsubscribe"])).status_code == 400
        assert client.get(_tamper(paths["unsubscribe"])).status_code == 400
        # An open token is no click token: the purpose is signed too.
        open_token = paths["open"].rpartition("/")[2].removesuffix(".gif")
        assert client.get(f"/t/click/{open_token}").status_code == 400
    # Every answer above came after the gateway was done with the request: nothing was sent.
    assert decoded(kafka, ACTIVITY) == []
    assert _refused(registry, "click", "bad_signature") == 2
    assert _refused(registry, "open", "bad_signature") == 1
    assert _refused(registry, "unsubscribe", "bad_signature") == 2


@pytest.mark.kafka
def test_expired_tokens_publish_nothing(kafka: KafkaSettings) -> None:
    claims = {"a": "act-expired", "c": "cand-expired", "k": "welcome-series"}
    long_ago = time.time() - 3600

    def expired(purpose: Purpose, **extra: str) -> str:
        return make_token(SECRET, purpose, {**claims, **extra}, ttl_s=60, now=long_ago)

    registry = CollectorRegistry()
    with running_gateway(kafka, registry=registry, tracking_secret=SECRET) as client:
        _assert_pixel(client.get(f"/t/open/{expired('open')}.gif"))
        click = client.get(f"/t/click/{expired('click', u=JOB_URL)}", follow_redirects=False)
        assert click.status_code == 400
        assert client.post(f"/t/unsubscribe/{expired('unsubscribe')}").status_code == 400
    assert decoded(kafka, ACTIVITY) == []
    for kind in ("open", "click", "unsubscribe"):
        assert _refused(registry, kind, "expired") == 1


@pytest.mark.kafka
def test_one_click_unsubscribe_publishes_once_for_two_posts(
    kafka: KafkaSettings, tmp_path: Path
) -> None:
    sent = _email_action("cand-unsub")
    path = _paths(tmp_path, sent)["unsubscribe"]
    one_click = {"List-Unsubscribe": "One-Click"}
    with running_gateway(kafka, tracking_secret=SECRET) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert '<form method="post">' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert decoded(kafka, ACTIVITY) == []  # a GET (link scanners) never unsubscribes
        first = client.post(path, data=one_click)
        second = client.post(path, data=one_click)
    assert (first.status_code, second.status_code) == (200, 200)
    found = _one(kafka, "unsubscribed")
    assert found.record["candidate_id"] == "cand-unsub"
    assert found.record["payload"] == {
        "channel": "email",
        "campaign_id": sent.campaign_id,
        "action_id": sent.action_id,
        "reason": "one_click",
    }
    assert len(_events(kafka, "unsubscribed")) == 1


def test_unsubscribe_withdraws_the_consent_the_email_was_sent_under(tmp_path: Path) -> None:
    invite = _email_action("cand-events", channel="career_event_invite")
    token = _paths(tmp_path, invite)["unsubscribe"].rpartition("/")[2]
    claims = check_token(SECRET, "unsubscribe", token)
    assert claims.channel == "events"
    assert claims.payload()["channel"] == "events"


def test_a_signed_click_token_to_a_non_web_url_is_refused() -> None:
    claims = {"a": "act-1", "c": "cand-1", "u": "javascript:alert(1)"}
    token = make_token(SECRET, "click", claims, ttl_s=60)
    with pytest.raises(InvalidTokenError) as refused:
        check_token(SECRET, "click", token)
    assert refused.value.reason == "malformed"


def _event_id(purpose: Purpose, issued: float, **extra: str) -> str:
    token = make_token(
        SECRET, purpose, {"a": "act-1", "c": "cand-1", **extra}, ttl_s=60, now=issued
    )
    return check_token(SECRET, purpose, token).event_id()


def test_event_ids_repeat_per_fact_not_per_token() -> None:
    now = time.time()
    assert _event_id("open", now) == _event_id("open", now - 5)  # two tokens, one e-mail
    assert _event_id("unsubscribe", now, ch="email") == _event_id(
        "unsubscribe", now - 5, ch="email"
    )
    assert _event_id("click", now, u=JOB_URL) != _event_id(
        "click", now, u="https://jobs.example.org/j2"
    )
    assert _event_id("unsubscribe", now, ch="email") != _event_id("unsubscribe", now, ch="events")
    assert _event_id("open", now) != _event_id("click", now, u=JOB_URL)
