"""The workbook's anonymised answers: one row per respondent under the question codes, and the questions' sheet.

A rating is written as a number (leaders average and filter it), a choice by its label ("rat-nhieu" → "Rất nhiều"),
a channel by its name; never a name or a phone, only a pseudonymous code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice

from openpyxl.utils import get_column_letter

from handlers.leader.workbook.data import WorkbookData
from handlers.leader.workbook.filing import QUESTION_HEADERS, question_rows
from handlers.leader.workbook.printing import SheetWriter, Value, code_width, day, heading
from handlers.leader.workbook.tables import Book
from handlers.leader.workbook.values import as_text, clean, heading_words
from handlers.names import channel_name

RATING_VALUES = frozenset({"1", "2", "3", "4", "5"})
FIXED_HEADERS = ("respondent", "finished_on", "field", "channel")
WIDTH_SAMPLE = 2000  # answers looked at to size the answer columns
ANSWER_WIDTH = 14.0  # an answer's column at most: longer labels wrap


def _answer(value: str | None, labels: Mapping[str, str] | None) -> Value:
    """A choice answer by its label ("rat-nhieu" → "Rất nhiều"; several chosen: their labels, comma-separated)."""
    if value is None or labels is None:
        return as_text(value)
    return as_text(", ".join(labels.get(part, part) for part in value.split(",") if part))


def write_answers(book: Book, data: WorkbookData) -> None:
    """The anonymised answers: row 1 the question codes (their texts on the questions' sheet), one row per survey."""
    rated = {c["code"] for c in data.report.get("criteria") or []}
    codes = [code for code, _factor, _question in data.questions]
    fixed = book.words.each(FIXED_HEADERS)
    headers = [*fixed, *(clean(code) for code in codes)]

    def rows() -> Iterator[list[Value]]:
        for answer in data.answers:
            row: list[Value] = [
                as_text(answer.respondent),
                day(answer.completed),
                as_text(answer.field),
                channel_name(answer.channel, book.words.locale),
            ]
            for code in codes:
                value = answer.values.get(code)
                # a rating is a number, so leaders can average and filter it; a choice shows its label
                if code in rated and value in RATING_VALUES:
                    row.append(int(value))
                else:
                    row.append(_answer(value, data.options.get(code)))
            yield row

    title = book.words("sheet.answers")
    ws = book.wb.create_sheet(title)
    # widths from the codes and a sample of the answers: a rating column as narrow as its code, a label's
    # column at most ANSWER_WIDTH (longer labels wrap)
    fixed_words: list[Value] = [heading_words(h) for h in fixed]
    sample = [fixed_words, *islice(rows(), WIDTH_SAMPLE)]
    widths = [
        w if i < len(fixed) else max(min(w, ANSWER_WIDTH), code_width(headers[i]))
        for i, w in enumerate(book.cells.widths(sample, len(headers), minimum=5.0))
    ]
    ws.freeze_panes = "E2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(data.answers) + 1}"
    book.set_up(ws, widths, title)
    writer = SheetWriter(ws, widths, align_top=False)
    writer.append([heading(h) for h in headers])
    for row in rows():
        writer.append(row)


def write_questions(book: Book, data: WorkbookData) -> None:
    """Each question of the answers' sheet: its code, factor, wording and answers."""
    book.table("questions", book.words.each(QUESTION_HEADERS), question_rows(data.questions, data.options, clean))
