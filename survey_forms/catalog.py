"""Loads the form files, validates each at start-up and looks forms up by (id, version)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from survey_forms.errors import FormError
from survey_forms.schema import Form
from survey_forms.shipped import BUILTIN_FORMS_DIR
from survey_forms.yaml_text import load_shipped

__all__ = ["BUILTIN_FORMS_DIR", "PUBLISHED_FILE", "Catalog", "FormError", "file_digest", "load_form_file"]

PUBLISHED_FILE = "published.txt"


def _describe_location(raw: Any, loc: Sequence[int | str]) -> str:
    """Turn a pydantic error location into words, naming questions by their code."""
    parts: list[str] = []
    node: Any = raw
    index = 0
    while index < len(loc):
        key = loc[index]
        if key in ("questions", "factors") and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            position = int(loc[index + 1])
            items = node.get(key) if isinstance(node, dict) else None
            item = items[position] if isinstance(items, list) and position < len(items) else None
            code = item.get("code") if isinstance(item, dict) else None
            kind = "question" if key == "questions" else "factor"
            parts.append(f"{kind} {code}" if code else f"{kind} #{position + 1}")
            node = item
            index += 2
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
        index += 1
    return ": ".join([parts[0], ".".join(parts[1:])]) if len(parts) > 1 else "".join(parts)


def _format_validation(raw: Any, error: ValidationError) -> str:
    messages = []
    for item in error.errors():
        where = _describe_location(raw, item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "missing"
        messages.append(f"{where}: {message}" if where else message)
    return "; ".join(messages)


def load_form_file(path: Path, *, shipped: bool = False) -> Form:
    """Read and validate one form file; FormError names the file and every problem.

    ``shipped``: a built-in form, read by the faster parser (survey_forms/yaml_text.py).
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = load_shipped(text) if shipped else yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise FormError(f"{path}: cannot read: {exc.problem or exc.context}{where}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FormError(f"{path}: cannot read: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise FormError(f"{path}: not a form (expected a mapping at the top)")
    try:
        form = Form.model_validate(raw)
    except ValidationError as exc:
        raise FormError(f"{path}: {_format_validation(raw, exc)}") from None
    expected = f"{form.id}.v{form.version}.yaml"
    if path.name != expected:
        raise FormError(f"{path}: holds {form.id} version {form.version}, so it must be named {expected}")
    return form


def file_digest(path: Path) -> str:
    """The sha256 of a form file's bytes, as recorded when the version was published."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _published_digests(directory: Path) -> dict[str, str]:
    lock = directory / PUBLISHED_FILE
    if not lock.exists():
        return {}
    digests: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, digest = line.split()
            digests[name] = digest
    return digests


class Catalog:
    """Every form the product can send, validated; a published version never changes."""

    def __init__(self, forms: Iterable[Form]) -> None:
        self._forms: dict[tuple[str, int], Form] = {}
        for form in forms:
            key = (form.id, form.version)
            if key in self._forms:
                raise FormError(f"form {form.id} version {form.version} is defined twice")
            self._forms[key] = form

    @classmethod
    def load(cls, *directories: Path) -> Catalog:
        """Load the built-in forms and those of ``directories``; the first bad file stops start-up."""
        forms: list[Form] = []
        for directory in (BUILTIN_FORMS_DIR, *directories):
            if not directory.is_dir():
                raise FormError(f"{directory}: forms directory not found")
            published = _published_digests(directory)
            for path in sorted(directory.glob("*.yaml")):
                form = load_form_file(path, shipped=directory == BUILTIN_FORMS_DIR)
                recorded = published.get(path.name)
                if recorded is not None and recorded != file_digest(path):
                    raise FormError(
                        f"{path}: {form.id} version {form.version} is published and must not change; "
                        f"publish version {form.version + 1} in a new file instead"
                    )
                forms.append(form)
        return cls(forms)

    def get(self, form_id: str, version: int | None = None) -> Form:
        """The form ``form_id`` at ``version`` (the latest when None); KeyError when unknown."""
        if version is not None:
            return self._forms[(form_id, version)]
        versions = [v for (fid, v) in self._forms if fid == form_id]
        if not versions:
            raise KeyError(form_id)
        return self._forms[(form_id, max(versions))]

    def ids(self) -> list[str]:
        """The ids of every form, sorted."""
        return sorted({fid for fid, _ in self._forms})

    def __contains__(self, form_id: object) -> bool:
        return any(fid == form_id for fid, _ in self._forms)
