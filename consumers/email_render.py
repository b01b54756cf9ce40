"""Render an action's e-mail: subject, plain text and HTML from Jinja2 templates.

Templates live in one folder (the packaged ``consumers/templates`` by default), three per
template id: ``<id>.subject.txt``, ``<id>.txt`` and ``<id>.html``. A language-specific variant
``<id>.<lang>.<ext>`` (``welcome-talent-pool.de.html``) wins when the profile's locale has that
language; otherwise the default is used, file by file. HTML is autoescaped; a missing template
or a rendering error is a :class:`~consumers.errors.PermanentDeliveryError` (``template_error``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from consumers.errors import PermanentDeliveryError
from schemas.models import CandidateProfile, NurtureAction

PACKAGED_TEMPLATES = Path(__file__).parent / "templates"

#: The template of a channel whose actions may come without ``template_id``.
DEFAULT_TEMPLATE = {"career_event_invite": "career-event-invitation"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Links:
    """Tracked links of one message (built by the sender from signed tokens)."""

    unsubscribe_url: str
    open_pixel_url: str
    click_urls: dict[str, str]  # content_id -> tracked redirect URL


class EmailRenderer:
    """Finds and renders templates by id and language."""

    def __init__(self, folder: Path | None = None) -> None:
        loader = jinja2.FileSystemLoader(str(folder or PACKAGED_TEMPLATES))
        self._env = jinja2.Environment(
            loader=loader,
            autoescape=jinja2.select_autoescape(["html"]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def _template(self, template_id: str, language: str | None, ext: str) -> jinja2.Template:
        names = [f"{template_id}.{language}.{ext}"] if language else []
        names.append(f"{template_id}.{ext}")
        return self._env.select_template(names)

    def render(self, action: NurtureAction, profile: CandidateProfile, links: Links) -> Rendered:
        """The subject and both bodies of ``action`` for ``profile``."""
        template_id = action.template_id or DEFAULT_TEMPLATE.get(action.channel, action.channel)
        language = profile.locale.split("-")[0].lower() if profile.locale else None
        context: dict[str, Any] = {
            "first_name": profile.contact.first_name,
            "content": [
                {**item.model_dump(), "tracked_url": links.click_urls[item.content_id]}
                for item in action.content
            ],
            "params": action.params,
            "unsubscribe_url": links.unsubscribe_url,
            "open_pixel_url": links.open_pixel_url,
            "campaign_id": action.campaign_id,
        }
        try:
            subject = self._template(template_id, language, "subject.txt").render(context)
            text = self._template(template_id, language, "txt").render(context)
            html = self._template(template_id, language, "html").render(context)
        except jinja2.TemplateError as exc:
            raise PermanentDeliveryError(
                "template_error", f"{template_id}: {type(exc).__name__}: {exc}"
            ) from exc
        return Rendered(" ".join(subject.split()), text, html)
