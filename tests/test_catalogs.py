"""The wording catalogs: a subject may keep its wording in its own file, and a key lives in one file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.texts import Texts, TextsError


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def test_a_subject_file_adds_its_keys_in_every_locale(tmp_path: Path) -> None:
    _write(tmp_path, "vi.yaml", "hello: Xin chào {name}\n")
    _write(tmp_path, "en.yaml", "hello: Hello {name}\n")
    _write(tmp_path, "slip.vi.yaml", "slip.title: Phiếu xin lỗi\n")
    _write(tmp_path, "slip.en.yaml", "slip.title: Apology slip\n")
    texts = Texts.load(tmp_path)
    assert texts("vi", "slip.title") == "Phiếu xin lỗi"
    assert texts("en", "slip.title") == "Apology slip"
    assert texts("en", "hello", name="An") == "Hello An"


def test_a_key_in_two_files_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "vi.yaml", "hello: Xin chào\n")
    _write(tmp_path, "en.yaml", "hello: Hello\n")
    _write(tmp_path, "slip.vi.yaml", "hello: Chào\n")
    _write(tmp_path, "slip.en.yaml", "hello: Hi\n")
    with pytest.raises(TextsError, match="already in another"):
        Texts.load(tmp_path)


def test_a_subject_missing_in_english_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "vi.yaml", "hello: Xin chào\n")
    _write(tmp_path, "en.yaml", "hello: Hello\n")
    _write(tmp_path, "slip.vi.yaml", "slip.title: Phiếu xin lỗi\n")
    with pytest.raises(TextsError, match="missing keys"):
        Texts.load(tmp_path)
