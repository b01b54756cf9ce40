"""`nurture config`: load every settings model from this environment, check what each process
would refuse at start, and show the effective values with secrets masked.

Checking goes a little past the models' own validation, to what a process checks when it
starts and that needs no file written: the keys set in ``NURTURE_DELIVERY_TRACKING_SECRET``,
``NURTURE_DELIVERY_WEBHOOK_SECRET`` and ``NURTURE_PRIVACY_KEK[S]``, the API keys file the
gateway is given, and the ``NURTURE_RETENTION_*`` overrides. Keys a process would generate on
first use (the per-install files) are not made here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsError

from consumers.settings import DeliverySettings
from deploy.cli.errors import settings_class, settings_problems, source_problem
from deploy.cli.settings_fields import env_var, is_masked, leaves
from deploy.cli.settings_registry import SETTINGS_MODELS, SettingsModel
from producers.gateway.settings import GatewaySettings
from schemas.errors import NurtureError
from schemas.privacy.kek import parse_kek
from schemas.privacy.settings import PrivacySettings
from schemas.settings import KafkaSettings
from schemas.topics import TOPICS, retention_env_var

#: A variable's name in a problem's line.
_VARIABLE = re.compile(r"NURTURE_[A-Z0-9_]*[A-Z0-9]")
#: What a masked value is shown as.
MASK = "****"
#: Where an effective value came from.
Source = Literal["environment", "option", "default"]


@dataclass(frozen=True)
class Setting:
    """One effective setting: its variable, its value as text (masked if secret), where from."""

    variable: str
    value: str | None
    source: Source


@dataclass(frozen=True)
class Loaded:
    """A model loaded from the environment: its settings, or the problems that stopped it."""

    entry: SettingsModel
    settings: tuple[Setting, ...]
    problems: tuple[str, ...]


def load_all(kafka_overrides: Mapping[str, object]) -> list[Loaded]:
    """Every model of :data:`SETTINGS_MODELS` from the environment (``kafka_overrides``: the
    global flags' values for :class:`KafkaSettings`), with the problems of each."""
    return [_load(entry, kafka_overrides) for entry in SETTINGS_MODELS]


def problems(loaded: Iterable[Loaded]) -> list[str]:
    """One line per invalid setting of every model, and of the retention overrides; a line
    two models report (a variable they share) once."""
    found = [line for model in loaded for line in model.problems] + retention_problems()
    return list(dict.fromkeys(found))


def retention_problems() -> list[str]:
    """A line per ``NURTURE_RETENTION_<TOPIC>`` override that is not whole days."""
    found: list[str] = []
    for spec in TOPICS:
        try:
            spec.retention_ms()
        except NurtureError as exc:
            found.append(str(exc))
    return found


def retention_settings() -> list[Setting]:
    """The retention of each topic that has one, in days (-1: forever), and where from."""
    found: list[Setting] = []
    for spec in TOPICS:
        variable = retention_env_var(spec.name)
        override = os.environ.get(variable)
        if override:
            found.append(Setting(variable, override, "environment"))
        elif spec.retention_days is not None:
            found.append(Setting(variable, str(spec.retention_days), "default"))
    return found


def value_text(value: object) -> str | None:
    """A setting's value as it would be written in its variable (None: unset)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return ",".join(f"{key}={_item_text(item)}" for key, item in value.items())
    if isinstance(value, tuple | list | set | frozenset):
        return ",".join(_item_text(item) for item in value)
    return _scalar_text(value)


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _item_text(item: object) -> str:
    if isinstance(item, BaseModel):  # e.g. a rate limit: its fields' values
        return "/".join(str(value_text(value)) for value in item.model_dump().values())
    return str(value_text(item))


def _load(entry: SettingsModel, kafka_overrides: Mapping[str, object]) -> Loaded:
    """The model from the environment, or every problem of it: a model stops at the first value
    it cannot parse (JSON, API keys) and checks across fields only once each field is valid, so
    after a failure it is loaded again without the variables named so far."""
    model = entry.model
    options = dict(kafka_overrides) if model is KafkaSettings else {}
    found: list[str] = []
    left_out: set[str] = set()  # variables
    while True:
        with _without(left_out):
            init = {k: v for k, v in options.items() if env_var(model, k) not in left_out}
            new = _attempt(model, init)
        if isinstance(new, BaseSettings):
            if found:
                return Loaded(entry, (), tuple(found))
            return Loaded(entry, tuple(_effective(new, set(options))), ())
        found += [line for line in new if line not in found]
        named = {
            leaf.variable
            for leaf in leaves(model)
            if leaf.variable not in left_out and _names(leaf.variable, new)
        }
        if not named:  # a check across fields, or a line naming no field: all there is
            return Loaded(entry, (), tuple(found))
        left_out |= named


@contextmanager
def _without(variables: set[str]) -> Iterator[None]:
    """The environment without these variables while inside (pydantic-settings parses every
    variable of the model it finds, whatever the model is given); put back after."""
    hidden = {key: os.environ.pop(key) for key in list(os.environ) if key.upper() in variables}
    try:
        yield
    finally:
        os.environ.update(hidden)


def _attempt(model: type[BaseSettings], init: Mapping[str, Any]) -> BaseSettings | list[str]:
    """The model loaded and checked as its process would at start, or the lines of what failed."""
    try:
        settings = model(**init)
        _START_CHECKS.get(model, _no_check)(settings)
    except PydanticValidationError as exc:  # the model's, or one of its groups' (by title)
        return settings_problems(exc, settings_class(exc.title) or model)
    except SettingsError as exc:
        return [source_problem(exc)]
    except NurtureError as exc:  # a ConfigError a field's own parser raised, or a check below
        return [str(exc)]
    return settings


def _names(variable: str, lines: Iterable[str]) -> bool:
    return any(variable in _VARIABLE.findall(line) for line in lines)


def _effective(settings: BaseSettings, options: set[str]) -> Iterable[Setting]:
    environment = {name.upper() for name in os.environ}
    for leaf in leaves(type(settings)):
        value = leaf.value_in(settings)
        source: Source = "default"
        if not leaf.path and leaf.name in options:
            source = "option"
        elif leaf.variable.upper() in environment:
            source = "environment"
        text = value_text(value)
        if text and is_masked(leaf.name, leaf.field, value):
            text = MASK
        yield Setting(leaf.variable, text, source)


def _no_check(_settings: Any) -> None:
    pass


def _check_delivery(settings: DeliverySettings) -> None:
    from consumers.webhook import webhook_secret  # noqa: PLC0415
    from schemas.tracking_secret import tracking_secret  # noqa: PLC0415 - only with --check

    if settings.tracking.secret is not None:  # else its file, made on first use
        tracking_secret(settings.tracking.secret, None)
    if settings.webhook.secret is not None:
        webhook_secret(settings)


def _check_gateway(settings: GatewaySettings) -> None:
    from schemas.tracking_secret import tracking_secret  # noqa: PLC0415 - only with --check

    if settings.tracking_secret is not None:
        tracking_secret(settings.tracking_secret, None)
    settings.all_api_keys()  # reads NURTURE_GATEWAY_API_KEYS_FILE when set


def _check_privacy(settings: PrivacySettings) -> None:
    if settings.kek is not None:  # else the KEK file, made on first use
        parse_kek(settings.kek.get_secret_value(), where="NURTURE_PRIVACY_KEK")
    if settings.previous_keks is not None:
        for text in settings.previous_keks.get_secret_value().split(","):
            if text.strip():
                parse_kek(text, where="NURTURE_PRIVACY_PREVIOUS_KEKS")


#: What a process checks at start beyond its model, for the values set in the environment.
_START_CHECKS: dict[type[BaseSettings], Callable[[Any], None]] = {
    DeliverySettings: _check_delivery,
    GatewaySettings: _check_gateway,
    PrivacySettings: _check_privacy,
}
