"""What the digest's chart shows: the last 30 days to yesterday, each the rolling 7 days that end on it.

The figures are read here, scored as every report scores them, and drawn by handlers.leader.chart with labels in
the reader's locale.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date, timedelta

from handlers.context import Services
from handlers.leader.chart import ChartLabels, DayPoint, render_chart
from handlers.leader.digest.figures import Targets
from handlers.leader.digest.lines import SMALL, percent
from storage.values import Unit
from survey_forms.scoring import percent_of, score_form

CHART_DAYS = 30
ROLLING_DAYS = 7


async def digest_chart(
    services: Services,
    unit: Unit,
    unit_ids: list[int],
    today: date,
    targets: Targets,
    locale: str,
    image_format: str = "png",
) -> bytes:
    """The chart of ``unit_ids`` to yesterday against ``targets`` (a PNG, or ``image_format``)."""
    policy = services.policy
    first = today - timedelta(days=CHART_DAYS)
    window_start = first - timedelta(days=ROLLING_DAYS - 1)
    start, end = policy.day_start(window_start), policy.day_start(today)
    form = services.catalog.get(unit.form_id or policy.default_form)
    async with services.uow(read_only=True) as uow:
        answers = await uow.digests.daily_answers(unit_ids, start, end, form.id, policy.timezone)
        resolved = await uow.digests.daily_resolved(unit_ids, start, end, policy.timezone)
    by_day: dict[date, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for row in answers:
        if row.value is not None:
            by_day[row.day][row.question_code][row.value] += row.count
    done = {r.day: (r.resolved, r.on_time) for r in resolved}
    points = []
    for offset in range(CHART_DAYS):
        day = first + timedelta(days=offset)
        window = [day - timedelta(days=back) for back in range(ROLLING_DAYS)]
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for d in window:
            for code, values in by_day.get(d, {}).items():
                for value, n in values.items():
                    counts[code][value] += n
        overall = score_form(form, counts).overall
        total = sum(done.get(d, (0, 0))[0] for d in window)
        ok = sum(done.get(d, (0, 0))[1] for d in window)
        points.append(DayPoint(day, None if overall.suppressed else overall.index, percent_of(ok, total)))
    t = services.texts
    counted = bool(by_day) or any(n for n, _ in done.values())
    # nothing at all in the window ("no data yet"), or only too few answers to show ("not enough data")
    no_data = t(locale, "report.insufficient" if counted else "report.no_data")
    labels = ChartLabels(
        title=t(locale, "chart.title", unit=unit.name, days=CHART_DAYS),
        satisfaction=t(locale, "chart.satisfaction"),
        on_time=t(locale, "chart.on_time"),
        target_satisfaction=t(locale, "chart.target_satisfaction", target=percent(targets.satisfaction, SMALL, "")),
        target_on_time=t(locale, "chart.target_on_time", target=percent(targets.on_time, SMALL, "")),
        no_data=no_data,
    )
    return await asyncio.to_thread(render_chart, points, labels, targets.satisfaction, targets.on_time, image_format)
