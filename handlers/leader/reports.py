"""The workbooks leaders are sent and ask for: each month's, each quarter's, the 6 months', 9 months' and year's.

Built from the one report (handlers.leader.reporting), kept under an unguessable token and queued to the unit's
leaders; each is claimed in ``job_runs`` by (kind, period, unit), so it is sent once whatever restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers.context import Services
from handlers.leader.digest.digests import Digests
from handlers.leader.periods import Period, report_label, report_title, reports_due
from handlers.leader.reporting import Reporter
from handlers.leader.workbook.process import WorkbookBuilder
from storage.values import Unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PeriodReports:
    """Monthly and quarterly workbooks: built from the one report, kept, and sent to the unit's leaders."""

    due = staticmethod(reports_due)  # the workbooks due on a day: (kind, period, label)

    def __init__(self, services: Services, digests: Digests, builder: WorkbookBuilder | None = None) -> None:
        self.services = services
        self.digests = digests
        self.reporter = Reporter(services)
        self.builder = builder or WorkbookBuilder()  # the application's own, which it closes

    async def workbook(
        self,
        unit_code: str,
        period: Period,
        title: str,
        *,
        officers: bool = True,
        include_children: bool = False,
        locale: str = "vi",
    ) -> bytes:
        """The workbook of ``unit_code`` (with the units below it if ``include_children``) for ``period``.

        ``locale`` words what this module adds to the report (the late dossiers' states, an officer with no name,
        the form's questions); the workbook's own headings are the workbook's.
        """
        # openpyxl, under the workbook, is loaded by the first workbook, not by every process that reads reports
        from handlers.leader import report_rows as rows
        from handlers.leader.workbook.book import WorkbookData
        from handlers.leader.workbook.sources import gather_extras

        services, policy = self.services, self.services.policy
        report = await self.reporter.satisfaction(unit_code, period, include_children=include_children, breakdowns=True)
        start, end = policy.day_start(period.start), policy.day_start(period.end + timedelta(days=1))
        as_of = min(services.clock(), end)
        async with services.uow(read_only=True) as uow:
            unit = await uow.units.get_by_code(unit_code)
            assert unit is not None
            unit_ids = await uow.units.subtree_ids(unit.id) if include_children else [unit.id]
            form = services.catalog.get(report["form"])
            late_rows = await uow.digests.late_list(unit_ids, start, end, as_of)
            raw = await uow.digests.raw_answers(unit_ids, start, end, form.id)
            officer_rows = await uow.digests.officers(unit_ids, start, end) if officers else []
            officer_answers = await uow.digests.officer_answers(unit_ids, start, end, form.id) if officers else []
            receiver_rows = await uow.digests.receivers(unit_ids, start, end) if officers else []
            receiver_answers = await uow.digests.receiver_answers(unit_ids, start, end, form.id) if officers else []
            issued = await uow.apologies.issued_between(unit_ids, start, end) if officers else []
        local, texts = policy.local_date, services.texts
        unnamed = texts(locale, "officer.unnamed")
        targets = self.digests.targets(unit)
        book = await self.digests.goals.book(unit)
        field_names = {f["field"] for f in report["by_field"]} | {f["field"] for f in report["on_time_by_field"]}
        field_targets = {
            name: (goal.satisfaction, goal.on_time) for name in field_names for goal in (book.for_field(name),)
        }
        extras = await gather_extras(self.reporter, unit, unit_ids, period, include_children, form, as_of, locale)
        data = WorkbookData(
            title=title,
            unit_name=unit.name,
            report=report,
            questions=[(q.code, q.factor or "", q.text.get(locale)) for q in form.questions if q.type != "text"],
            late=rows.late_rows(late_rows, local, texts, locale),
            answers=rows.answer_rows(raw, local),
            officers=rows.officer_rows(form, officer_rows, officer_answers, issued, unnamed) if officers else None,
            receivers=rows.receiver_rows(form, receiver_rows, receiver_answers),
            apologies=rows.apology_rows(issued, local, policy.timezone) if officers else None,
            targets={"satisfaction": targets.satisfaction, "on_time": targets.on_time},
            generated_at=services.clock().astimezone(policy.timezone),
            field_targets=field_targets,
            form_title=form.title.get(locale),
            options=extras.options,
            authority=extras.authority,
            place=extras.place,
            children=extras.children,
            complaints_open=extras.complaints_open,
        )
        return await self.builder.build(data, locale)

    def title(self, kind: str, period: Period, locale: str = "vi") -> str:
        """The workbook's title: ``Báo cáo mức độ hài lòng tháng 11/2026``, ``… quý IV/2026``, ``… năm 2026``."""
        return report_title(kind, period, self.services.texts, locale)

    async def send(self, unit: Unit, kind: str, period: Period, now: datetime) -> bool:
        """Build, keep and queue one workbook to the unit's leaders; False when the period had nothing."""
        services, delivery = self.services, self.digests.delivery
        report = await self.reporter.satisfaction(unit.code, period)
        if (
            not report["dossiers"]["received"]
            and not report["dossiers"]["resolved"]
            and not report["surveys"]["completed"]
        ):
            return False
        content = await self.workbook(unit.code, period, self.title(kind, period))
        label = report_label(kind, period)
        name = f"bao-cao-{unit.code}-{label}.xlsx"
        async with services.uow() as uow:
            stored = await delivery.keep(uow, kind, unit.id, label, name, XLSX, content, now)
            detail = {"format": "xlsx", "file": name, "kept_for": "leaders"}
            await uow.audit.add(services.actor, "export.write", f"unit:{unit.code}", detail, now, unit_id=unit.id)
            for chat in await delivery.leaders(uow, unit.id):
                caption = services.texts(chat.locale, f"report.{kind}", title=self.title(kind, period, chat.locale))
                reply = delivery.file_reply(stored, caption, chat.locale)
                await uow.outbox.to_chat(
                    chat, reply.to_payload(), now, dedupe_key=f"{kind}:{label}:{unit.code}:{chat.id}"
                )
            await uow.commit()
        return True

    async def send_due(self, claim: Any, now: datetime | None = None) -> int:
        """The workbooks :meth:`due`, from the morning of the 1st on; each claimed once per unit."""
        now = now or self.services.clock()
        day = self.services.policy.digest_day(now)
        if day is None:
            return 0
        sent = 0
        for unit in await self.digests.delivery.units_with_leaders():
            for kind, period, label in self.due(day):

                async def work(unit: Unit = unit, kind: str = kind, period: Period = period) -> None:
                    await self.send(unit, kind, period, now)

                if await claim(kind, label, f"unit:{unit.code}", work):
                    sent += 1
        return sent
