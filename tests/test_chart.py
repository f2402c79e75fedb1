"""The digest's chart: a real PNG, wide enough, with its Vietnamese words drawn (not boxes)."""

from __future__ import annotations

import io
import struct
import warnings
from datetime import date, timedelta

from handlers.chart import ChartLabels, DayPoint, font_has_glyphs, render_chart

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
