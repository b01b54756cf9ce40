"""What a person can fix is reported in a line or two, never as a traceback.

Every `nurture` command runs inside :class:`ReportingGroup`, which turns what escapes a command
into one line per problem on stderr, naming the setting or file:

* an invalid ``NURTURE_*`` setting (pydantic's ``ValidationError`` of a settings model, or
  pydantic-settings' ``SettingsError`` for a value it cannot parse), a
  :class:`~schemas.errors.ConfigError` (a setting, a model, campaign or input file, a missing
  topic) and a missing or unreadable file: exit status 2 (:data:`EXIT_USAGE`), as click gives
  a bad option;
* any other :class:`~schemas.errors.NurtureError` (Kafka unreachable or refusing, ...), a
  kafka-python error a command let through, and other OS errors: exit status 1
  (:data:`EXIT_FAILURE`).

Anything else is a bug and keeps its traceback. Commands may still catch these errors
themselves to say more (``fail`` in :mod:`deploy.cli.context` picks the same statuses).
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from kafka.errors import KafkaError
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsError
from typer.core import TyperGroup

from deploy.cli.context import EXIT_FAILURE, EXIT_USAGE, CliContext, fail
from deploy.cli.settings_fields import all_settings_classes, env_var, group_model, is_secret
from schemas.errors import NurtureError

#: Inputs longer than this are not repeated in the message.
_SHOWN_INPUT_CHARS = 80
#: Where pydantic-settings names the field it could not parse (it keeps no attribute for it).
_SOURCE_FIELD = re.compile(r'field "([^"]+)"')
#: OS errors about a path the user gave or configured: a usage error, not a failure.
_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


class ReportingGroup(TyperGroup):
    """The root command group: runs the command and reports the errors above (exit 2 or 1)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PydanticValidationError as exc:
            model = settings_class(exc.title)
            if model is None:  # not a settings model: a bug, keep the traceback
                raise
            raise fail("\n".join(settings_problems(exc, model)), EXIT_USAGE) from None
        except SettingsError as exc:
            raise fail(source_problem(exc), EXIT_USAGE) from None
        except NurtureError as exc:
            raise fail(exc) from None
        except KafkaError as exc:
            at = f" at {ctx.obj.kafka.bootstrap_servers}" if isinstance(ctx.obj, CliContext) else ""
            raise fail(
                f"Kafka{at}: {exc} (is it running? NURTURE_BOOTSTRAP_SERVERS or --bootstrap "
                "says where)",
                EXIT_FAILURE,
            ) from None
        except OSError as exc:
            code = EXIT_USAGE if isinstance(exc, _PATH_ERRORS) else EXIT_FAILURE
            where = f"{exc.filename}: " if exc.filename is not None else ""
            raise fail(f"{where}{exc.strerror or exc}", code) from None


def settings_class(name: str) -> type[BaseSettings] | None:
    """The loaded settings model called ``name`` (a ``ValidationError``'s title), or None."""
    return next((model for model in all_settings_classes() if model.__name__ == name), None)


def settings_problems(exc: PydanticValidationError, model: type[BaseSettings]) -> list[str]:
    """One line per invalid setting: its variable, what is wrong, and the value unless secret."""
    return [_problem(error, model) for error in exc.errors(include_url=False)]


def _problem(error: ErrorDetails, model: type[BaseSettings]) -> str:
    context = error.get("ctx") or {}
    reason = str(context["error"]) if error["type"] == "value_error" else error["msg"]
    if not error["loc"]:  # a check across fields (a model validator)
        prefix = str(model.model_config.get("env_prefix", "")).upper()
        return f"invalid {prefix}* settings: {reason}"
    field_name, *inner = (str(part) for part in error["loc"])
    field = model.model_fields.get(field_name)
    while inner and field is not None and (group := group_model(field)) is not None:
        model, field_name, *inner = group, *inner  # a setting of a nested group
        field = model.model_fields.get(field_name)
    where = env_var(model, field_name) + (f" ({'.'.join(inner)})" if inner else "")
    value = error["input"]
    shown = ""
    if (
        error["type"] != "missing"
        and isinstance(value, str | int | float)
        and not (field is not None and is_secret(field))
        and not _has_credentials(value)
        and len(repr(value)) <= _SHOWN_INPUT_CHARS
    ):
        shown = f" (got {value!r})"
    return f"invalid setting {where}: {reason}{shown}"


def _has_credentials(value: object) -> bool:
    """A URL with a user or password in it (``https://user:secret@host``): never repeated."""
    if not isinstance(value, str) or "://" not in value:
        return False
    try:
        parts = urlsplit(value)
        return parts.username is not None or parts.password is not None
    except ValueError:
        return True  # not parseable: do not risk it


def source_problem(exc: SettingsError) -> str:
    """The line for a value pydantic-settings could not parse (e.g. JSON): the variable set in
    the environment for the field it names, and why."""
    found = _SOURCE_FIELD.search(str(exc))
    cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
    if found is None:
        return f"invalid setting: {exc}{cause}"
    candidates = sorted(
        {
            env_var(model, found.group(1))
            for model in all_settings_classes()
            if found.group(1) in model.model_fields
        }
    )
    named = [name for name in candidates if name in os.environ] or candidates
    where = " or ".join(named) or found.group(1)
    return f"invalid setting {where}: cannot parse the value{cause}"
