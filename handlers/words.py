"""Words as people type them: folded for matching, whatever the accents, the case or the punctuation around them."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Text reduced for matching: no accents, no case, đ → d, single spaces, no end punctuation."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    collapsed = re.sub(r"\s+", " ", stripped.casefold()).strip()
    return collapsed.strip(" .!?;:\"'“”")
