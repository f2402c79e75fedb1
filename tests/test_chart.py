"""The digest's chart: a real PNG, wide enough, with its Vietnamese words drawn (not boxes), each target line named
where it is drawn (both, when the targets are equal), and written by `sipasbot digest --chart` in the format its name
asks for."""

from __future__ import annotations

import io
import re
import struct
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from handlers.leader.chart import ChartLabels, DayPoint, font_has_glyphs, render_chart

LABELS = ChartLabels(
    title="Mức độ hài lòng và tỷ lệ đúng hạn — 30 ngày qua — Phường 8",
    satisfaction="Hài lòng (%)",
    on_time="Đúng hạn (%)",
    target_satisfaction="Mục tiêu hài lòng",
    target_on_time="Mục tiêu đúng hạn",
    no_data="chưa đủ dữ liệu",
)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_is_a_png_at_least_800_pixels_wide() -> None:
    start = date(2026, 11, 1)
    points = [
        DayPoint(start + timedelta(days=n), None if n % 7 == 3 else 80 + n % 15, None if n % 6 == 0 else 90 + n % 9)
        for n in range(30)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns "Glyph … missing from font(s)"
        png = render_chart(points, LABELS, 95.0, 98.0)
    width, height = png_size(png)
    assert width >= 800
    assert height >= 400
    assert len(png) > 10_000


def test_the_font_draws_every_vietnamese_letter_of_the_labels() -> None:
    every_letter = "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    assert font_has_glyphs(LABELS.title + every_letter + every_letter.upper())
    assert not font_has_glyphs("漢")  # the check can fail


def test_a_month_without_figures_still_draws() -> None:
    points = [DayPoint(date(2026, 11, 1) + timedelta(days=n), None, None) for n in range(30)]
    width, _ = png_size(render_chart(points, LABELS, 95.0, 95.0))
    assert width >= 800


def test_the_image_opens() -> None:
    from PIL import Image

    png = render_chart([DayPoint(date(2026, 11, 1), 90.0, 95.0)], LABELS, 95.0, 95.0)
    with Image.open(io.BytesIO(png)) as image:
        image.verify()


# --- the target lines, read back from the chart drawn as SVG (each text is a group: its words in a comment, then
# the glyphs placed by a translate(x y) in points from the top left)


@dataclass(frozen=True)
class Drawn:
    """A text drawn on the chart: its words, where its baseline starts (in points), whether it is in the legend."""

    words: str
    x: float
    y: float
    in_legend: bool


def drawn_texts(svg: bytes) -> list[Drawn]:
    root = ET.fromstring(svg, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True)))
    found: list[Drawn] = []

    def walk(node: ET.Element, in_legend: bool) -> None:
        in_legend = in_legend or node.get("id", "").startswith("legend")
        children = list(node)
        words = [i for i, child in enumerate(children) if child.tag is ET.Comment]
        if node.get("id", "").startswith("text_") and words:  # after its box, if it has one
            placed = next(c for c in children[words[0] :] if "translate(" in c.get("transform", ""))
            x, y = re.findall(r"translate\(([-0-9.e]+)[ ,]+([-0-9.e]+)\)", placed.get("transform", ""))[0]
            found.append(Drawn((children[words[0]].text or "").strip(), float(x), float(y), in_legend))
        for child in children:
            walk(child, in_legend)

    walk(root, False)
    return found


def month(satisfaction: float, on_time: float) -> list[DayPoint]:
    return [DayPoint(date(2026, 11, 1) + timedelta(days=n), satisfaction, on_time) for n in range(30)]


def target_labels(svg: bytes) -> dict[str, list[Drawn]]:
    texts = drawn_texts(svg)
    return {
        name: [t for t in texts if t.words == name and not t.in_legend]
        for name in (LABELS.target_satisfaction, LABELS.target_on_time)
    }


@pytest.mark.parametrize("target", [95.0, 100.0, 80.0])
def test_equal_targets_draw_as_one_line_named_twice_one_name_above_it_one_below(target: float) -> None:
    svg = render_chart(month(88.0, 97.0), LABELS, target, target, "svg")
    labels = target_labels(svg)
    satisfaction, on_time = labels[LABELS.target_satisfaction], labels[LABELS.target_on_time]
    assert len(satisfaction) == 1, labels  # named on the chart, where the line is, not only in a legend
    assert len(on_time) == 1, labels
    font = 9  # points, the SVG's unit
    assert abs(satisfaction[0].y - on_time[0].y) >= 1.5 * font  # apart: neither name covers the other


def test_different_targets_are_each_named_on_their_own_line() -> None:
    svg = render_chart(month(88.0, 97.0), LABELS, 90.0, 98.0, "svg")
    labels = target_labels(svg)
    satisfaction, on_time = labels[LABELS.target_satisfaction], labels[LABELS.target_on_time]
    assert (len(satisfaction), len(on_time)) == (1, 1), labels
    assert on_time[0].y < satisfaction[0].y  # the higher target's name is higher on the chart (y grows downwards)


MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n",
    "jpeg": b"\xff\xd8\xff",
    "svg": b"<?xml",
    "pdf": b"%PDF-",
}


@pytest.mark.parametrize("kind", list(MAGIC))
def test_the_chart_is_drawn_in_each_format(kind: str) -> None:
    drawn = render_chart(month(88.0, 97.0), LABELS, 95.0, 98.0, kind)
    assert drawn.startswith(MAGIC[kind])
    if kind == "svg":
        assert b"<svg" in drawn[:2000]


# --- `sipasbot digest --chart FILE`, run in this process


@pytest.mark.parametrize(
    ("name", "kind"),
    [("bieu-do.png", "png"), ("bieu-do.jpg", "jpeg"), ("BIEU-DO.JPEG", "jpeg"), ("bieu-do.svg", "svg"),
     ("bieu-do.pdf", "pdf")],
)  # fmt: skip
def test_digest_writes_the_chart_in_the_format_its_name_asks_for(
    cli: Callable[..., Any], tmp_path: Path, name: str, kind: str
) -> None:
    assert cli("units", "add", "P8", "Phường 8")[0] == 0
    chart = tmp_path / name
    status, out, err = cli("digest", "--unit", "P8", "--date", "2026-12-01", "--chart", str(chart))
    assert status == 0, err
    assert "Phường 8" in out
    assert chart.read_bytes().startswith(MAGIC[kind])


@pytest.mark.parametrize("name", ["bieu-do.gif", "bieu-do", "bieu-do.png.txt"])
def test_digest_refuses_a_chart_name_it_cannot_write_before_any_work(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    chart = tmp_path / name
    # no unit P8 either: the name is refused first, so nothing is looked up
    status, out, err = cli("digest", "--unit", "P8", "--chart", str(chart))
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("sipasbot: lỗi: ")
    assert name in err
    assert ".png, .jpg, .jpeg, .svg, .pdf" in err
    assert "Traceback" not in err
    assert not chart.exists()
    status, _out, err = cli("--lang", "en", "digest", "--unit", "P8", "--chart", str(chart))
    assert status == 2
    assert "cannot draw the chart" in err
    assert ".png, .jpg, .jpeg, .svg, .pdf" in err
