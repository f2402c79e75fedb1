"""What the product cites is in the product: no shipped file, and no OpenAPI text, points to a document that is
not in the repository (the working notes once called DOMAIN, SPEC and PLATFORMS). The method, the rules and the
platforms' limits are written in docs/METHOD.md, docs/CHANNELS.md, docs/FIGURES.md, docs/OPERATIONS.md and the
README, and those are what is cited.

Every file is covered, code comments, tests and emulators included, except the four form versions published
before docs/METHOD.md existed, whose bytes their recorded digests freeze (later versions cite docs/METHOD.md).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from bot.web.api import OPERATIONS
from bot.web.openapi import build_document
from bot.web.routes.common import ErrorOut

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\b(DOMAIN|SPEC|PLATFORMS)(\.md\b|'s\b| §)")
# published before docs/METHOD.md existed: a published version's bytes never change (their checksums are recorded)
FROZEN = frozenset(
    {
        "survey_forms/forms/sipas-nhanh.v1.yaml",
        "survey_forms/forms/danh-gia-ho-so.v1.yaml",
        "survey_forms/forms/sipas-2017.v1.yaml",
        "survey_forms/forms/sipas-2017.v2.yaml",
    }
)
TEXT = (".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".ini", ".cfg", ".html", ".json", ".csv", "run")
DOCS = ("README.md", "docs/METHOD.md", "docs/CHANNELS.md", "docs/FIGURES.md", "docs/OPERATIONS.md")


def shipped() -> list[str]:
    """The repository's files (tracked, and new ones not ignored), as paths from its root."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted({p for p in listed if (ROOT / p).is_file()})


def covered(path: str) -> bool:
    if path in FROZEN or path == "tests/test_citations.py":
        return False
    return path.endswith(TEXT)


def test_the_documents_cited_instead_exist_and_say_what_they_are_cited_for() -> None:
    for name in DOCS:
        assert (ROOT / name).is_file(), name
    method = (ROOT / "docs/METHOD.md").read_text(encoding="utf-8")
    for heading in ("## The index method", "## Late dossiers and the apology rule", "## Working days", "## Targets"):
        assert heading in method, heading
    assert "80.5" in method  # the worked example
    channels = (ROOT / "docs/CHANNELS.md").read_text(encoding="utf-8")
    for words in ("4096", "64 **bytes**", "2,000 characters", "48 hours", "-213", "`84xxxxxxxxx`", "5 buttons"):
        assert words in channels, words


def test_no_shipped_file_cites_a_document_outside_the_repository() -> None:
    found = []
    for path in filter(covered, shipped()):
        for number, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_openapi_document_cites_only_what_is_in_the_repository() -> None:
    document = json.dumps(build_document(OPERATIONS, public_url="http://127.0.0.1:8080", error_model=ErrorOut))
    assert not OUTSIDE.findall(document), [m.group(0) for m in OUTSIDE.finditer(document)]
    assert "docs/FIGURES.md" in document
    assert "docs/METHOD.md" in document


def test_the_docs_link_to_files_that_exist() -> None:
    for name in (*DOCS, "docs/SECURITY.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        base = (ROOT / name).parent
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
            assert (base / target).is_file(), f"{name} links to {target}, which is not in the repository"
