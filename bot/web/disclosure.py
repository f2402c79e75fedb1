"""The view model of the public quarterly disclosure (docs/FIGURES.md): one unit, one quarter, the quarters before.

The page and the JSON are two renderings of the same :class:`Disclosure`, so they cannot disagree. Nothing
personal reaches it: the report holds counts and indexes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.web.disclosure_figures import INSUFFICIENT, NO_DATA, ComplaintCounts, FieldTargetFigure, QuarterFigures
from bot.web.quarters import Quarter
from bot.web.wording import page_words
from survey_forms.schema import Form

PICKER_QUARTERS = 8  # the quarter picker lists the last two years at most (from the unit's first dossier)
METHOD_DOC = "docs/FIGURES.md"
MINISTRY_FORMS = {"sipas-2017", "sipas-2022"}  # the Ministry of Home Affairs' own questionnaires
NUMBER_WORDS = range(1, 11)  # factor counts written out in words (pages.number.N); larger ones in digits


@dataclass(frozen=True)
class Disclosure:
    """The view model of the page and of its JSON: one unit, one quarter and the quarters before it."""

    unit_code: str
    unit_name: str
    current: QuarterFigures
    previous: tuple[QuarterFigures, ...]  # newest first
    complete: bool  # False while the chosen quarter is still running (figures to date)
    form_id: str
    form_title: str
    method: str
    generated_at: datetime
    include_children: bool
    page_url: str
    json_url: str
    complaints: ComplaintCounts | None = None
    fields: tuple[FieldTargetFigure, ...] = ()
    first_quarter: Quarter | None = None  # the quarter of the unit's first dossier (None: it has none yet)
    running_quarter: Quarter | None = None  # the quarter still running today

    @property
    def quarter(self) -> Quarter:
        """The chosen quarter."""
        return self.current.quarter

    @property
    def provisional_until(self) -> datetime | None:
        """While the chosen quarter runs: the moment its figures were computed ("số liệu tạm tính đến …")."""
        return None if self.complete else self.generated_at

    @property
    def before_first(self) -> bool:
        """Whether the chosen quarter ended before the unit had any dossier (or the unit has none at all)."""
        return self.first_quarter is None or self.quarter < self.first_quarter

    def link(self, quarter: Quarter) -> str:
        """The page of ``quarter`` with the same scope."""
        return f"?quy={quarter}" + ("&include_children=true" if self.include_children else "")

    @property
    def picker(self) -> tuple[Quarter, ...]:
        """The quarters a reader may pick, newest first.

        From the running one back to the unit's first, two years at most; never one before the unit's first dossier.
        """
        if self.first_quarter is None or self.running_quarter is None:
            return ()
        quarters = [self.running_quarter]
        while len(quarters) < PICKER_QUARTERS and quarters[-1].previous() >= self.first_quarter:
            quarters.append(quarters[-1].previous())
        return tuple(quarters)

    @property
    def earlier(self) -> Quarter | None:
        """The quarter before the oldest the picker lists, when the unit already had dossiers then."""
        if not self.picker or self.first_quarter is None:
            return None
        before = min(self.quarter, self.picker[-1]).previous()
        return before if before >= self.first_quarter else None

    @property
    def title(self) -> str:
        """The page's heading."""
        return page_words("title", quarter=self.quarter.label, unit=self.unit_name)

    @property
    def scope(self) -> str:
        """Which units the figures cover: "Phường 8 (không gồm đơn vị trực thuộc)"."""
        return page_words(
            "scope.with_children" if self.include_children else "scope.without_children", unit=self.unit_name
        )

    @property
    def method_doc(self) -> str:
        """Where each figure's computation is written down."""
        return METHOD_DOC

    @property
    def timeline(self) -> tuple[QuarterFigures, ...]:
        """The quarters compared, oldest first, the chosen one last."""
        return (*reversed(self.previous), self.current)

    def as_json(self) -> dict[str, Any]:
        """The JSON of ``/cong-khai/{unit}.json``: the figures the page shows, and nothing else."""
        current = self.current
        counts = current.counts
        return {
            "unit": {"code": self.unit_code, "name": self.unit_name},
            "quarter": str(self.quarter),
            "label": self.quarter.label,
            "from": current.start.isoformat(),
            "to": current.end.isoformat(),
            "complete": self.complete,
            "provisional_until": (
                self.provisional_until.isoformat(timespec="seconds") if self.provisional_until else None
            ),
            "first_quarter": str(self.first_quarter) if self.first_quarter else None,
            "include_children": self.include_children,
            "scope": self.scope,
            "form": {"id": self.form_id, "title": self.form_title},
            "satisfaction": current.satisfaction.as_json(),
            "factors": [f.as_json() for f in current.factors],
            "dossiers": {
                "received": counts.received,
                "resolved": counts.resolved,
                "on_time": counts.on_time,
                "late": counts.late,
                "on_time_rate": counts.on_time_rate,
            },
            "surveys": {
                "offered": counts.offered,
                "completed": counts.completed,
                "response_rate": counts.response_rate,
                "respondents": counts.respondents,
            },
            "by_field": [{"field": f.field, **f.figure.as_json(with_ci=False)} for f in current.by_field],
            "complaints": self.complaints.as_json() if self.complaints else None,
            "fields": [f.as_json() for f in self.fields],
            "previous": [
                {
                    "quarter": str(q.quarter),
                    "label": q.quarter.label,
                    "from": q.start.isoformat(),
                    "to": q.end.isoformat(),
                    "satisfaction": q.satisfaction.as_json(with_ci=False),
                    "factors": [f.as_json(with_ci=False) for f in q.factors],
                    "on_time_rate": q.counts.on_time_rate,
                    "resolved": q.counts.resolved,
                }
                for q in self.previous
            ],
            "method": self.method,
            "method_doc": METHOD_DOC,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "page": self.page_url,
        }


def method_text(form: Form) -> str:
    """The index method in one paragraph of Vietnamese (docs/METHOD.md, the index method), as this form scores."""
    rules = form.scoring
    factors = len(form.factors)
    count = page_words(f"number.{factors}") if factors in NUMBER_WORDS else str(factors)
    levels = (
        page_words("method.levels_satisfied")
        if rules.satisfied_min == 4
        else page_words("method.levels", lowest=rules.satisfied_min)
    )
    if rules.overall == "factors":
        equal = len({f.weight for f in form.factors}) <= 1
        mean = page_words("method.mean" if equal else "method.weighted_mean")
        overall = page_words("method.overall_factors", mean=mean, count=count)
    else:
        overall = page_words("method.overall_item", item=rules.overall)
    source = page_words("method.ministry") if form.id in MINISTRY_FORMS else ""
    return page_words(
        "method.text",
        levels=levels,
        overall=overall,
        insufficient=INSUFFICIENT,
        no_data=NO_DATA,
        form=form.title.vi,
        source=source,
    )
