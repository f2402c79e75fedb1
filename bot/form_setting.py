"""SIPAS_SURVEY_FORM must name a form the catalog holds: checked by every command, with one message.

The application checks it against the catalog it loads. A command that does not load the catalog (``sipasbot
units list``, which only prints the default form's id) checks it against the built-in forms' file names when no
forms folder is set; otherwise, or when the name is not among them, it loads the catalog as the application does,
so that an unknown form, or a broken form file, is refused in the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import Settings, SettingsError
from survey_forms.shipped import shipped_form_ids

if TYPE_CHECKING:
    from survey_forms.catalog import Catalog


def refuse_unknown_form(form_id: str, catalog: Catalog) -> None:
    """SettingsError naming SIPAS_SURVEY_FORM and the known forms when ``form_id`` is not in ``catalog``."""
    if form_id not in catalog:
        raise SettingsError(f"SIPAS_SURVEY_FORM: unknown form {form_id!r} (known: {', '.join(catalog.ids())})")


def check_survey_form(settings: Settings) -> None:
    """The check of :func:`refuse_unknown_form`, without loading the forms when the built-in ones settle it."""
    if settings.forms_dir is None and settings.survey_form in shipped_form_ids():
        return
    from survey_forms.catalog import Catalog  # pydantic models of the forms, and every form file read

    refuse_unknown_form(settings.survey_form, Catalog.load(*([settings.forms_dir] if settings.forms_dir else [])))
