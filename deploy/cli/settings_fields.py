"""What the CLI needs to know about any settings model's fields: which ``NURTURE_*`` variable
sets a field, whether its value is a secret, and every settings model loaded.

Shared by the error reports (:mod:`deploy.cli.errors`) and `nurture config`
(:mod:`deploy.cli.config_report`, :mod:`deploy.cli.config_docs`). Imports no settings model,
so importing it costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import AliasChoices, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

#: Parts of a field name that say its value is (or holds) a secret: ``sasl_password``,
#: ``webhook_secret``, ``api_keys``, ``kek``.
_SECRET_NAME_PARTS = frozenset({"password", "secret", "key", "keys", "kek", "keks", "token"})
#: Fields whose values are URLs that may carry a token in their path or query (a webhook
#: receiver's address often does): masked too.
_URL_FIELDS = frozenset({"webhooks", "endpoints"})
#: Values that cannot carry a secret whatever the name (``ssl_keyfile`` is where the key is,
#: ``key_scan_timeout_s`` a duration): shown even when the name sounds secret.
_PLAIN_VALUE_TYPES = (bool, int, float, Path)


def env_var(model: type[BaseSettings], field_name: str) -> str:
    """The environment variable that sets ``field_name`` of ``model`` (``NURTURE_...``)."""
    field = model.model_fields.get(field_name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        alias = alias.choices[0]
    if isinstance(alias, str):
        name = alias
    elif field is not None and field.alias:
        name = field.alias
    elif field is not None:
        name = f"{model.model_config.get('env_prefix', '')}{field_name}"
    else:  # pydantic reported the alias itself
        name = field_name
    return name if model.model_config.get("case_sensitive") else name.upper()


def is_secret(field: FieldInfo) -> bool:
    """Whether the field's type is (or contains) :class:`SecretStr` or :class:`SecretBytes`."""
    pending: list[Any] = [field.annotation]
    while pending:
        annotation = pending.pop()
        if annotation in (SecretStr, SecretBytes):
            return True
        pending.extend(get_args(annotation))
    return False


def is_masked(field_name: str, field: FieldInfo, value: object) -> bool:
    """Whether ``value`` of the field must never be printed: a secret type, or a name with a
    part in :data:`_SECRET_NAME_PARTS` and a value that can carry text (not a number, a flag
    or a path)."""
    if is_secret(field) or field_name in _URL_FIELDS:
        return True
    parts = set(re.split(r"[_\W]+", field_name.lower()))
    return bool(parts & _SECRET_NAME_PARTS) and not isinstance(value, _PLAIN_VALUE_TYPES)


def all_settings_classes() -> list[type[BaseSettings]]:
    """Every subclass of :class:`BaseSettings` imported so far (those of tests too)."""
    found: list[type[BaseSettings]] = []
    pending: list[type[BaseSettings]] = list(BaseSettings.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return found


@dataclass(frozen=True)
class Leaf:
    """One setting of a model: the field ``name`` of ``owner``, reached from the model through
    ``path`` (the names of its nested groups; empty for a field of the model itself)."""

    owner: type[BaseSettings]
    name: str
    path: tuple[str, ...] = ()

    @property
    def field(self) -> FieldInfo:
        return self.owner.model_fields[self.name]

    @property
    def variable(self) -> str:
        return env_var(self.owner, self.name)

    def value_in(self, settings: BaseSettings) -> Any:
        """This setting's value in ``settings`` (an instance of the model it was found in)."""
        node: Any = settings
        for group in self.path:
            node = getattr(node, group)
        return getattr(node, self.name)


def group_model(field: FieldInfo) -> type[BaseSettings] | None:
    """The settings model of a nested group field (``smtp: SmtpSettings``), else None."""
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
        return annotation
    return None


def leaves(model: type[BaseSettings], path: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Every setting of ``model``: its own fields in order, each nested group's where it is
    declared (a group is a settings model of its own, with its own ``NURTURE_*`` names)."""
    for name, field in model.model_fields.items():
        group = group_model(field)
        if group is None:
            yield Leaf(model, name, path)
        else:
            yield from leaves(group, (*path, name))


def groups(model: type[BaseSettings]) -> Iterator[tuple[tuple[str, ...], type[BaseSettings]]]:
    """``(path, group model)`` of every nested group of ``model``, depth first."""
    for name, field in model.model_fields.items():
        group = group_model(field)
        if group is not None:
            yield (name,), group
            yield from (((name, *path), inner) for path, inner in groups(group))
