"""User-facing wording: catalogs per language (vi first, en second), no copy in code.

``vi.yaml`` holds the chat's wording; a subject with much wording of its own has its own file in every locale
(``workbook.vi.yaml`` and ``workbook.en.yaml``). A key lives in one file only.
"""

from __future__ import annotations

import string
import unicodedata
from pathlib import Path
from typing import Any

from survey_forms.yaml_text import load_shipped

TEXTS_DIR = Path(__file__).parent
LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"


class TextsError(Exception):
    """A wording catalog that cannot be used."""


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Texts:
    """Looks wording up by key and locale, falling back to Vietnamese."""

    def __init__(self, catalogs: dict[str, dict[str, str]]) -> None:
        self._catalogs = catalogs

    @classmethod
    def load(cls, directory: Path = TEXTS_DIR) -> Texts:
        """Read every locale's catalog; every locale must have the keys and placeholders of Vietnamese."""
        catalogs: dict[str, dict[str, str]] = {}
        for locale in LOCALES:
            catalog: dict[str, str] = {}
            # the chat's catalog, then one per subject (``workbook.vi.yaml``, ``slip.vi.yaml``): one key, one place
            for path in [directory / f"{locale}.yaml", *sorted(directory.glob(f"*.{locale}.yaml"))]:
                raw = load_shipped(path.read_text(encoding="utf-8"))  # our own catalogs only
                if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
                    raise TextsError(f"{path}: expected a mapping of keys to strings")
                twice = sorted(set(map(str, raw)) & set(catalog))
                if twice:
                    raise TextsError(f"{path.name}: keys already in another {locale} catalog: {twice}")
                catalog.update({str(k): unicodedata.normalize("NFC", v) for k, v in raw.items()})
            catalogs[locale] = catalog
        base = catalogs[DEFAULT_LOCALE]
        for locale, catalog in catalogs.items():
            missing = sorted(set(base) - set(catalog))
            extra = sorted(set(catalog) - set(base))
            if missing or extra:
                raise TextsError(f"{locale}.yaml: missing keys {missing}, unknown keys {extra}")
            for key, template in catalog.items():
                if _placeholders(template) != _placeholders(base[key]):
                    raise TextsError(f"{locale}.yaml: {key}: placeholders differ from vi.yaml")
        return cls(catalogs)

    def __call__(self, locale: str, key: str, **values: Any) -> str:
        """The wording of ``key`` in ``locale`` with ``values`` filled in."""
        catalog = self._catalogs.get(locale, self._catalogs[DEFAULT_LOCALE])
        return unicodedata.normalize("NFC", catalog[key].format(**values))
