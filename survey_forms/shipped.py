"""The built-in forms' folder, and the ids of its forms read from the files' names alone.

Every form file is named ``<id>.v<version>.yaml`` (survey_forms/catalog.py refuses any other name, and the tests
load the built-in catalog), so the names say which forms are built in without reading or validating a form: a
command that only prints the default form's id (``sipasbot units list``) checks it against these.
"""

from __future__ import annotations

import re
from pathlib import Path

BUILTIN_FORMS_DIR = Path(__file__).parent / "forms"
_NAME = re.compile(r"(?P<id>.+)\.v\d+\.yaml")


def shipped_form_ids() -> set[str]:
    """The ids of the built-in forms, from their files' names."""
    return {match["id"] for path in BUILTIN_FORMS_DIR.glob("*.yaml") if (match := _NAME.fullmatch(path.name))}
