"""The digest as a leader reads it, in the reader's locale.

Each period against the one before and the targets, the weakest criteria, the dossiers and complaints to act on,
the comments, and the units below ranked. Every sentence comes from the catalogs (handlers/texts, keys
``digest.*``); a figure resting on fewer than five answers is "not enough data", never a number (docs/FIGURES.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from handlers.context import Services
from handlers.leader.digest.fields import seed_lines
from handlers.leader.digest.figures import DigestFigures, Listed, Section, Targets
from handlers.leader.digest.lines import SMALL, backlog_line, count_rate, dated, percent, ranked, span, weakest_label
from handlers.leader.periods import Period
from handlers.leader.reporting import scope_text
from handlers.leader.targets import met, percent_text, rate_tenths
from handlers.names import channel_lines
from handlers.privacy import redact
from storage.values import LateDossier, Unit

COMPLAINTS_TARGET = 100.0  # every complaint handled (seeds 000, 002; docs/METHOD.md, targets)


class DigestText:
    """Words a digest's figures for one reader."""

    def __init__(self, services: Services, locale: str) -> None:
        self.services = services
        self.locale = locale

    def t(self, key: str, **values: Any) -> str:
        """The catalogs' wording of ``key`` in the reader's locale."""
        return self.services.texts(self.locale, key, **values)

    def none(self, n: int) -> str:
        """What stands for a figure not shown: "no data yet" when nothing was counted, else "not enough data"."""
        return self.t("report.no_data" if n == 0 else "report.insufficient")

    def judged(self, verdict: bool | None, n: int = 1) -> str:
        """Met or not met; with nothing to judge, why."""
        if verdict is None:
            return self.none(n)
        return self.t("digest.met" if verdict else "digest.not_met")

    def verdict(self, value: float | None, target: float, n: int) -> str:
        """The figure as printed (rounded once by the report) against the target; None: nothing to judge."""
        return self.judged(None if value is None else value >= target, n)

    def text(self, figures: DigestFigures) -> str:
        """The whole digest, one line after the other."""
        t, today, none = self.t, figures.today, self.t("report.insufficient")
        current, weakest_from = figures.current, figures.weakest_from
        lines = [t(f"digest.title.{figures.kind}", unit=figures.unit.name, day=f"{today:%d/%m/%Y}")]
        lines.append(scope_text(current.report, self.services, self.locale))
        lines += self.period(f"digest.period.{figures.kind}", current, figures.previous, figures.targets)
        if figures.month is not None:  # the morning digest also gives the month so far
            lines += self.period("digest.period.month", *figures.month, figures.targets)
        lines += channel_lines(weakest_from.report, self.locale, self.services.texts)  # the period's survey figures
        lines += seed_lines(self, weakest_from, figures.book, none)
        lines += self.weakest(weakest_from, none)
        lines += self.dossiers("digest.overdue", figures.overdue, today, figures.new_dues)
        late_day = f"{today - timedelta(days=1):%d/%m/%Y}"
        lines += self.dossiers("digest.late_running", figures.late, today, day=late_day)
        lines += self.complaints(figures)
        # survey comments: unlinked (no code, name or time), personal data masked when they were kept
        comments = figures.comments
        lines += ["", t("digest.survey_comments", count=comments.total)]
        lines += [f"• “{text if len(text) <= 300 else text[:297] + '…'}”" for text in comments.shown]
        if comments.total > len(comments.shown):
            lines.append(t("digest.survey_comments_more", count=comments.total - len(comments.shown)))
        if figures.children:
            lines += self.children(figures.children, weakest_from.period)
        lines += ["", t("report.method")]
        return "\n".join(lines)

    def period(self, key: str, now: Section, before: Section, targets: Targets) -> list[str]:
        """One period's dossiers, apologies and surveys, against the period before and the targets."""
        t, period = self.t, now.period
        label = f"{period.start:%d/%m/%Y}" if period.start == period.end else span(period.start, period.end)
        dossiers, surveys = now.report["dossiers"], now.report["surveys"]
        satisfaction, n = now.satisfaction
        satisfaction_before, n_before = before.satisfaction
        on_time, resolved = now.on_time
        on_time_before, _ = before.on_time
        return [
            "",
            t(key, period=label),
            t(
                "digest.dossiers",
                received=dossiers["received"],
                resolved=resolved,
                on_time=dossiers["on_time"],
                rate=count_rate(on_time, self.none(0)),
                before=count_rate(on_time_before, self.none(0)),
                target=percent(targets.on_time, SMALL, self.none(0)),
                verdict=self.verdict(on_time, targets.on_time, 0),
            ),
            t("digest.late_period", count=dossiers["late_without_apology"]),
            t(
                "digest.apologies",
                apologies=dossiers["apologies"],
                late=dossiers.get("apologies_late", 0),
                error=dossiers.get("apologies_error", 0),
            ),
            t(
                "digest.satisfaction",
                completed=surveys["completed"],
                offered=surveys["offered"],
                index=percent(satisfaction, n, self.none(n)),
                n=n,
                before=percent(satisfaction_before, n_before, self.none(n_before)),
                target=percent(targets.satisfaction, SMALL, self.none(0)),
                verdict=self.verdict(satisfaction, targets.satisfaction, n),
            ),
            t(
                "digest.surveys",
                offered=surveys["offered"],
                completed=surveys["completed"],
                rate=count_rate(surveys["response_rate"], self.none(0)),
                respondents=surveys.get("respondents", 0),
            ),
        ]

    def weakest(self, section: Section, none: str) -> list[str]:
        """The three criteria with the lowest index shown, in the form's order when tied."""
        form = self.services.catalog.get(section.report["form"])
        order = {q.code: number for number, q in enumerate(form.questions)}
        shown = [c for c in section.report["criteria"] if not c["suppressed"] and c["index"] is not None]
        weakest = sorted(shown, key=lambda c: (c["index"], order.get(c["code"], len(order)), c["code"]))[:3]
        lines = ["", self.t("digest.weakest")]
        if not weakest:
            answered = max((int(c["n"]) for c in section.report["criteria"]), default=0)
            return [*lines, f"• {self.none(answered)}"]
        for c in weakest:
            label = weakest_label(form, c["code"], self.locale)
            lines.append(f"• {c['code']} {label}: {percent(c['index'], c['n'], none)} (n = {c['n']})")
        return lines

    def dossiers(
        self,
        key: str,
        listed: Listed[LateDossier],
        today: date,
        new_dues: dict[str, datetime] | None = None,
        **values: Any,
    ) -> list[str]:
        """A list of dossiers, each with its dates labelled: "P8-1 (hạn 10/11 · hẹn lại 14/11)"."""
        lines = ["", self.t(key, count=listed.total, **values)]
        new_dues = new_dues or {}
        rows: Sequence[LateDossier] = listed.shown
        shown = ", ".join(
            f"{r.code} ({dated(self.services, self.locale, today, r.due_at, new_dues.get(r.code))})" for r in rows
        )
        if shown:
            more = self.t("digest.and_more", count=listed.total - len(rows)) if listed.total > len(rows) else ""
            lines.append(shown + more)
        return lines

    def complaints(self, figures: DigestFigures) -> list[str]:
        """The period's complaints, how many were handled against the 100% the seeds ask, the backlog, a few."""
        t, handled, received = self.t, figures.handled, figures.complaints.total
        answered, closed = handled.get("answered", 0), handled.get("closed", 0)
        lines = ["", t("digest.complaints", count=received, answered=answered, closed=closed)]
        if received:
            value, none = rate_tenths(answered + closed, received), t("report.insufficient")
            lines.append(
                t(
                    "digest.complaints_handled",
                    rate=percent_text(value, none),
                    handled=answered + closed,
                    received=received,
                    target=percent_text(COMPLAINTS_TARGET, none),
                    verdict=self.judged(met(value, COMPLAINTS_TARGET)),
                )
            )
        lines.append(backlog_line(self.services, self.locale, figures.backlog, figures.today))
        for line in figures.complaints.shown:
            text = redact(line.text, names=[line.person_name]) if line.text else "—"
            short = text if len(text) <= 160 else text[:157].rsplit(" ", 1)[0] + "…"
            lines.append(f"• #{line.id} ({line.dossier_code or '—'}): “{short}”")
        return lines

    def children(self, children: list[tuple[Unit, Section]], period: Period) -> list[str]:
        """The units below, best satisfaction first (ties share a place)."""
        places = ranked(children, figure=lambda pair: pair[1].satisfaction[0], name=lambda pair: pair[0].name)
        lines = ["", self.t("digest.children", period=span(period.start, period.end))]
        for place, (child, section) in places:
            satisfaction, n = section.satisfaction
            on_time, resolved = section.on_time
            lines.append(
                self.t(
                    "digest.child",
                    place=place,
                    unit=child.name,
                    index=percent(satisfaction, n, self.none(n)),
                    n=n,
                    rate=count_rate(on_time, self.none(0)),
                    on_time=section.report["dossiers"]["on_time"],
                    resolved=resolved,
                )
            )
        return lines
