"""The digest's chart: the last 30 days' satisfaction and on-time rate against the targets, as PNG, JPEG, SVG or PDF.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state: safe in a worker
thread), in DejaVu Sans — matplotlib's bundled font, which has every Vietnamese glyph — set
explicitly, so the labels never fall back to a font that draws boxes. Each target line is named
where it is drawn, the higher target's name above its line and the lower's below, so two equal
targets — one line on the chart — still show both names, apart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FONT = "DejaVu Sans"
WIDTH_PX, HEIGHT_PX, DPI = 1000, 520, 100
SATISFACTION_COLOUR, ON_TIME_COLOUR = "#1565c0", "#2e7d32"
TARGET_FONT_SIZE = 9
CLOSE_TARGETS = 6.0  # percentage points: closer than this, the two lines' dashes interleave so both colours show
# the file name's extension → the format drawn; anything else is refused before any work
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg", ".pdf": "pdf"}
ACCEPTED = ", ".join(FORMATS)
METADATA: dict[str, dict[str, Any] | None] = {  # nothing that changes from one drawing to the next
    "png": {"Software": None},
    "jpeg": None,  # matplotlib writes none into a JPEG
    "svg": {"Date": None},
    "pdf": {"CreationDate": None},
}


@dataclass(frozen=True)
class DayPoint:
    """One day of the chart: the satisfaction index and the on-time rate (None: no figure, or too few)."""

    day: date
    satisfaction: float | None
    on_time: float | None


@dataclass(frozen=True)
class ChartLabels:
    """The words on the chart (from the wording catalog)."""

    title: str
    satisfaction: str
    on_time: str
    target_satisfaction: str
    target_on_time: str
    no_data: str


def font_has_glyphs(text: str) -> bool:
    """Whether the chart's font draws every character of ``text`` (no boxes)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(font_manager.FontProperties(family=FONT), fallback_to_default=False))
    return all(char.isspace() or font.get_char_index(ord(char)) != 0 for char in text)


def format_of(name: str | PurePath) -> str | None:
    """The format a file name's extension asks for (``png``, ``jpeg``, ``svg``, ``pdf``); None: none of them."""
    return FORMATS.get(PurePath(name).suffix.lower())


def _targets(axes: Axes, labels: ChartLabels, satisfaction: float, on_time: float) -> None:
    """The two target lines, each named at its right end: the higher target above its line, the lower below."""
    close = abs(satisfaction - on_time) < CLOSE_TARGETS
    # far apart: dashes and dots; close or equal: the same dashes, shifted, so one line shows both colours in turn
    styles: tuple[Any, Any] = ((0, (6, 6)), (6, (6, 6))) if close else ("--", ":")
    axes.axhline(satisfaction, color=SATISFACTION_COLOUR, linestyle=styles[0], linewidth=1.2)
    axes.axhline(on_time, color=ON_TIME_COLOUR, linestyle=styles[1], linewidth=1.2)
    satisfaction_above = satisfaction >= on_time
    for value, text, colour, above in (
        (satisfaction, labels.target_satisfaction, SATISFACTION_COLOUR, satisfaction_above),
        (on_time, labels.target_on_time, ON_TIME_COLOUR, not satisfaction_above),
    ):
        axes.annotate(
            text,
            xy=(0.995, value),
            xycoords=axes.get_yaxis_transform(),  # x across the axes, y in percent
            xytext=(0, 3 if above else -3),
            textcoords="offset points",
            ha="right",
            va="bottom" if above else "top",
            color=colour,
            fontfamily=FONT,
            fontsize=TARGET_FONT_SIZE,
            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )


def render_chart(
    points: Sequence[DayPoint],
    labels: ChartLabels,
    target_satisfaction: float,
    target_on_time: float,
    image_format: str = "png",
) -> bytes:
    """The chart, 1000×520 px, as ``image_format`` bytes: ``png`` (the default), ``jpeg``, ``svg`` or ``pdf``."""
    if image_format not in METADATA:
        raise ValueError(f"cannot draw the chart as {image_format!r}: only {', '.join(METADATA)}")
    # matplotlib takes a quarter of a second to import: only a drawing loads it, so the command line starts fast
    from matplotlib import font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, DayLocator, date2num
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    days = [float(date2num(p.day)) for p in points]  # type: ignore[no-untyped-call]
    satisfaction = [p.satisfaction if p.satisfaction is not None else float("nan") for p in points]
    on_time = [p.on_time if p.on_time is not None else float("nan") for p in points]
    axes.plot(days, satisfaction, marker="o", markersize=3, color=SATISFACTION_COLOUR, label=labels.satisfaction)
    axes.plot(days, on_time, marker="s", markersize=3, color=ON_TIME_COLOUR, label=labels.on_time)
    _targets(axes, labels, target_satisfaction, target_on_time)
    axes.set_ylim(0, 105)
    if days:  # the whole period, however few days have figures (autoscaling would zoom on those)
        axes.set_xlim(days[0] - 0.5, days[-1] + 0.5)
    axes.set_ylabel("%", fontfamily=FONT)
    axes.set_title(labels.title, fontfamily=FONT, fontsize=13)
    axes.xaxis.set_major_locator(DayLocator(interval=5))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(DateFormatter("%d/%m"))  # type: ignore[no-untyped-call]
    axes.grid(True, alpha=0.3)
    for label in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
        label.set_fontfamily(FONT)
    if all(p.satisfaction is None and p.on_time is None for p in points):
        axes.text(0.5, 0.5, labels.no_data, transform=axes.transAxes, ha="center", fontfamily=FONT, color="#666")
    axes.legend(loc="lower left", prop=font_manager.FontProperties(family=FONT, size=9), ncols=2)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, metadata=METADATA[image_format])
    return buffer.getvalue()
