"""The kinds of period a report or a digest is asked for, as typed in a chat or on the command line."""

from __future__ import annotations

KINDS = {"ngay": "day", "ngày": "day", "day": "day", "tuan": "week", "tuần": "week", "week": "week"}
KINDS |= {
    "thang": "month",
    "tháng": "month",
    "month": "month",
    "quy": "quarter",
    "quý": "quarter",
    "quarter": "quarter",
}
# 6 months, 9 months and the year, as the seeds report them ("quý I, 6 tháng, 9 tháng, năm")
KINDS |= {
    "6thang": "half_year",
    "6months": "half_year",
    "half_year": "half_year",
    "9thang": "nine_months",
    "9months": "nine_months",
    "nine_months": "nine_months",
    "nam": "year",
    "year": "year",
}
PERIOD_CHOICES = "ngay, tuan, thang, quy, 6thang, 9thang, nam"


def period_kind(text: str) -> str | None:
    """``"6 tháng"``, ``"6thang"``, ``"9 THÁNG"``, ``"năm"``, ``"quý"``… as a period kind; None when unknown."""
    from handlers.citizen.survey import (
        fold,  # with the survey forms' schema: not loaded to build the command line's help
    )

    folded = fold(text).replace(" ", "").replace("_", "")
    return KINDS.get(folded) or KINDS.get(fold(text)) or KINDS.get(text.strip().lower())
