"""The scoring model file: the shipped default loads, and invalid files name the bad field."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.errors import ConfigError
from streams.scoring import ScoringModel, load_model
from streams.scoring.config import DEFAULT_MODEL_PATH, activity_payload_fields, parse_model

DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))


def _tier(name: str, min_score: float) -> dict[str, Any]:
    return {"name": name, "min_score": min_score}


def _changed(path: str, value: Any) -> dict[str, Any]:
    """The default model data with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    data = copy.deepcopy(DEFAULT_DATA)
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def test_the_default_model_loads() -> None:
    model = load_model()
    assert isinstance(model, ScoringModel)
    assert model.version == DEFAULT_DATA["version"]
    assert [tier.name for tier in model.tiers] == ["cold", "warm", "engaged", "hot"]
    assert model.horizon_days == 400
    assert model.recent_ids == 512


def test_the_default_model_decides_about_every_event_type() -> None:
    # A new event type in the schema must get an explicit weight here (0 to ignore it).
    assert set(load_model().weights) == set(activity_payload_fields())


def test_the_default_ladder_puts_intent_above_browsing() -> None:
    weights = load_model().weights
    assert weights["application_submitted"] > weights["career_event_attended"]
    assert weights["career_event_attended"] > weights["email_clicked"] > weights["page_viewed"]
    assert weights["application_submitted"] >= 20 * weights["page_viewed"]


def test_a_model_file_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(
        yaml.safe_dump(_changed("version", "custom-7"), sort_keys=True), encoding="utf-8"
    )
    assert load_model(path).version == "custom-7"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("weights.page_viewed", -1, "weights.page_viewed: must be >= 0"),
        ("weights.page_viewed", "high", "weights.page_viewed: must be a number"),
        ("weights.page_viewed", math.nan, "weights.page_viewed: must be a finite number"),
        ("weights.page_vewed", 1.0, "weights.page_vewed: unknown event type; known: "),
        ("weights", ..., "weights: required"),
        ("half_life_days", 0, "half_life_days: must be > 0"),
        ("half_life_days_by_type.email_opened", -3, "half_life_days_by_type.email_opened: must"),
        ("half_life_days_by_type.mail_opened", 3, "half_life_days_by_type.mail_opened: unknown"),
        ("daily_caps.page_viewed", 0, "daily_caps.page_viewed: must be >= 1"),
        ("daily_caps.page_viewed", 2.5, "daily_caps.page_viewed: must be an integer"),
        ("payload_weights.page_viewed.weights.job", -1, "payload_weights.page_viewed.weights.job:"),
        ("payload_weights.page_viewed.field", "page_tpye", "payload_weights.page_viewed.field: "),
        (
            "payload_weights.email_opened",
            {"field": "campaign_id", "weights": {}},
            "payload_weights.email_opened: give email_opened a base weight",
        ),
        (
            "tiers",
            [_tier("cold", 0), _tier("warm", 30), _tier("engaged", 10)],
            "tiers: thresholds must increase",
        ),
        ("tiers", [_tier("cold", 5), _tier("warm", 30)], "tiers: the first tier must start at 0"),
        ("tiers", [_tier("cold", 0), _tier("cold", 30)], "tiers: tier names must be unique"),
        ("tiers", [], "tiers: give at least one tier"),
        ("tiers", [_tier("cold", 0), _tier("Warm Leads", 9)], "tiers.1.name: "),
        ("tiers", [_tier("cold", 0), {"name": "warm"}], "tiers.1.min_score: required"),
        ("hysteresis", 1.0, "hysteresis: must be < 1"),
        ("hysteresis", -0.1, "hysteresis: must be >= 0"),
        ("horizon_days", 0, "horizon_days: must be >= 1"),
        ("recent_ids", -1, "recent_ids: must be >= 0"),
        ("version", ..., "version: required"),
        ("version", "has space", "version:"),
        ("weight", {"page_viewed": 1}, "weight: unknown setting"),
    ],
)
def test_an_invalid_model_names_the_field(path: str, value: Any, message: str) -> None:
    data = _changed(path, value)
    if path == "payload_weights.email_opened":
        del data["weights"]["email_opened"]  # a refinement without a base weight
    with pytest.raises(ConfigError) as caught:
        parse_model(data)
    assert message in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the scoring model"):
        load_model(tmp_path / "missing.yaml")


def test_a_file_that_is_not_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("weights: [page_viewed: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_model(path)


def test_a_file_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping of settings, got list"):
        load_model(path)


def test_a_copy_is_validated_and_recompiled() -> None:
    model = load_model()
    copied = model.model_copy(update={"version": "v2", "weights": {"page_viewed": 2.0}})
    assert copied.compiled.version == "v2"
    assert list(copied.compiled.rules) == ["page_viewed"]
    assert model.compiled.version == model.version
    with pytest.raises(ConfigError, match="hysteresis: must be < 1"):
        model.model_copy(update={"hysteresis": 2.0})
