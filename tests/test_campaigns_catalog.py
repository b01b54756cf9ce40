"""The content catalog and personalisation: matching, never repeated, never expired."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.timestamps import to_micros
from streams.campaigns.catalog import ContentCatalog, load_catalog
from streams.campaigns.definitions import ContentSpec
from streams.campaigns.personalise import pick_content
from streams.campaigns.view import CandidateView

NOW = to_micros(datetime(2025, 3, 3, 10, 0, tzinfo=UTC))

CATALOG = {
    "posts.yaml": """
kind: blog_post
items:
  - {id: kafka-at-scale, title: Kafka at scale, url: "https://x.test/kafka", language: en,
     tags: [kafka, python], job_families: [engineering], published_at: 2024-06-01T00:00:00Z}
  - {id: python-tips, title: Python tips, url: "https://x.test/python", language: en,
     tags: [python], published_at: 2024-05-01T00:00:00Z}
  - {id: old-stack, title: Old stack, url: "https://x.test/old", language: en,
     tags: [python, kafka], job_families: [engineering], published_at: 2023-01-01T00:00:00Z,
     expires_at: 2025-03-01T00:00:00Z}
  - {id: future-post, title: Not yet, url: "https://x.test/future", language: en,
     tags: [python], published_at: 2025-04-01T00:00:00Z}
  - {id: sales-life, title: Life in sales, url: "https://x.test/sales", language: en,
     tags: [growth], job_families: [sales], published_at: 2024-01-01T00:00:00Z}
  - {id: berlin-de, title: Arbeiten in Berlin, url: "https://x.test/de", language: de,
     tags: [python], locations: [Berlin], published_at: 2024-01-01T00:00:00Z}
""",
    "events.yaml": """
kind: career_event
items:
  - {id: past-meetup, title: Past meetup, url: "https://x.test/e1", language: en,
     tags: [python], locations: [London], starts_at: 2025-03-01T18:00:00Z}
  - {id: soon-meetup, title: Soon meetup, url: "https://x.test/e2", language: en,
     tags: [python], locations: [London], starts_at: 2025-03-20T18:00:00Z}
  - {id: later-webinar, title: Later webinar, url: "https://x.test/e3", language: en,
     tags: [python], locations: [Remote], starts_at: 2025-05-20T18:00:00Z}
  - {id: paris-evening, title: Paris evening, url: "https://x.test/e4", language: en,
     tags: [python], locations: [Paris], starts_at: 2025-03-10T18:00:00Z}
""",
}


@pytest.fixture
def catalog(tmp_path: Path) -> ContentCatalog:
    for name, text in CATALOG.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return load_catalog(tmp_path)


def candidate(**fields: object) -> CandidateView:
    base: dict[str, object] = {
        "candidate_id": "cand-1",
        "locale": "en-GB",
        "interests": ("python", "kafka"),
        "job_families": ("engineering",),
        "locations": ("London",),
    }
    base.update(fields)
    return CandidateView(**base)  # type: ignore[arg-type]


def pick(
    catalog: ContentCatalog,
    kinds: tuple[str, ...] = ("blog_post",),
    *,
    who: CandidateView | None = None,
    sent: frozenset[str] = frozenset(),
    at: int = NOW,
    count: int = 10,
    require_match: bool = True,
) -> list[str]:
    spec = ContentSpec.model_validate(
        {"kinds": kinds, "count": count, "require_match": require_match}
    )
    chosen = pick_content(
        catalog, spec, who or candidate(), sent=sent, at_us=at, fallback_language="en"
    )
    return [item.content_id for item in chosen]


def test_the_shipped_catalog_loads() -> None:
    shipped = load_catalog()
    kinds = {kind: len(items) for kind, items in shipped.by_kind.items()}
    assert kinds == {"blog_post": 15, "career_event": 15, "job_opening": 14}
    for item in shipped.of_kind("career_event"):
        assert item.starts_us is not None and item.ends_us == item.starts_us


def test_most_relevant_first_and_only_matching(catalog: ContentCatalog) -> None:
    # kafka-at-scale shares kafka, python and engineering; python-tips only python; the
    # sales post shares nothing; berlin-de is for Berlin only.
    assert pick(catalog) == ["kafka-at-scale", "python-tips"]
    assert pick(catalog, count=1) == ["kafka-at-scale"]
    designer = candidate(interests=("ux-research",), job_families=("design",))
    assert pick(catalog, who=designer) == []
    assert pick(catalog, who=designer, require_match=False) == [
        "kafka-at-scale",  # newest first when nothing matches
        "python-tips",
        "sales-life",
    ]


def test_never_repeats_what_was_sent(catalog: ContentCatalog) -> None:
    assert pick(catalog, sent=frozenset({"kafka-at-scale"})) == ["python-tips"]
    assert pick(catalog, sent=frozenset({"kafka-at-scale", "python-tips"})) == []


def test_expired_and_unpublished_content_is_never_chosen(catalog: ContentCatalog) -> None:
    before_expiry = to_micros(datetime(2025, 2, 1, tzinfo=UTC))
    assert "old-stack" in pick(catalog, at=before_expiry)
    assert "old-stack" not in pick(catalog)  # expired on 2025-03-01
    assert "future-post" not in pick(catalog)
    after_publication = to_micros(datetime(2025, 4, 2, tzinfo=UTC))
    assert "future-post" in pick(catalog, at=after_publication)


def test_only_upcoming_events_in_the_candidates_places(catalog: ContentCatalog) -> None:
    # past-meetup started already; paris-evening is in Paris; remote ones suit everyone.
    assert pick(catalog, ("career_event",)) == ["soon-meetup", "later-webinar"]
    after_soon = to_micros(datetime(2025, 3, 20, 18, 0, tzinfo=UTC))
    assert pick(catalog, ("career_event",), at=after_soon) == ["later-webinar"]
    parisian = candidate(locations=("Paris",))
    assert pick(catalog, ("career_event",), who=parisian) == ["paris-evening", "later-webinar"]


def test_own_language_first_then_fallback(catalog: ContentCatalog) -> None:
    berliner = candidate(locale="de-DE", locations=("Berlin",))
    assert pick(catalog, who=berliner) == ["berlin-de", "kafka-at-scale", "python-tips"]
    londoner = candidate(locale="fr-FR")
    assert "berlin-de" not in pick(catalog, who=londoner)


def test_picks_are_deterministic(catalog: ContentCatalog) -> None:
    # A total order (ties broken by id): neither repetition nor the order of kinds matters.
    first = pick(catalog, ("blog_post", "career_event"))
    assert first == pick(catalog, ("blog_post", "career_event"))
    assert first == pick(catalog, ("career_event", "blog_post"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: career_event\nitems:\n  - {id: e, title: E, url: 'https://x.test', "
            "language: en}\n",
            "bad.yaml item 1 (e): starts_at: required for a career_event",
        ),
        (
            "kind: blog_post\nitems:\n  - {id: p, title: P, url: 'https://x.test', language: en,"
            " published_at: 2025-01-02T00:00:00Z, expires_at: 2025-01-01T00:00:00Z}\n",
            "bad.yaml item 1 (p): published_at: must be before the item ends",
        ),
        (
            "kind: blog_post\nitems:\n  - {id: p, title: P, url: 'ftp://x.test', language: en}\n",
            "bad.yaml item 1 (p): url:",
        ),
        (
            "kind: blog_post\nitems:\n  - {id: p, title: P, url: 'https://x.test', language: en,"
            " colour: red}\n",
            "bad.yaml item 1 (p): colour: unknown setting",
        ),
        ("kind: podcast\nitems: []\n", "bad.yaml: kind:"),
    ],
)
def test_invalid_catalog_items_are_named(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_catalog(tmp_path)
    assert expected in str(raised.value)


def test_content_ids_are_unique_across_files(tmp_path: Path) -> None:
    item = "  - {id: same, title: T, url: 'https://x.test', language: en}\n"
    (tmp_path / "a.yaml").write_text("kind: blog_post\nitems:\n" + item, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("kind: job_opening\nitems:\n" + item, encoding="utf-8")
    with pytest.raises(ConfigError, match="content id 'same' appears more than once"):
        load_catalog(tmp_path)
