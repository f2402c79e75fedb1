"""One unit's answers per field, question and value over a period, counted on SQLite without a sort.

SQLite has no hash aggregate: ``GROUP BY field_id, question_code, value`` over a period sorts every answer of
the period (a month of a large ward: a million rows) before it counts them. ``ix_answers_groups`` keeps a
unit's answers to a form in the order of those groups, then by time. This query walks the groups that exist
in the index, one seek to the next group each (a loose index scan, written as a recursive CTE), and counts
each group's answers in the period with one more seek: the work is the groups (a few hundred) and the answers
of the period, never a sort, whatever the length of the unit's history.

The figures are those of the plain ``GROUP BY`` (docs/FIGURES.md): the same groups with the same counts,
groups without an answer in the period left out; free texts (no value) are not counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tables.survey import ANSWERS
from storage.values import AnswerCount

GROUPS = text(
    """
WITH RECURSIVE walk(r) AS (
  SELECT (SELECT b.rowid FROM answers AS b INDEXED BY ix_answers_groups
       WHERE b.unit_id = :unit AND b.form_id = :form AND b.value IS NOT NULL
          ORDER BY b.field_id, b.question_code, b.value LIMIT 1)
  UNION ALL
  SELECT coalesce(
    (SELECT b.rowid FROM answers AS b INDEXED BY ix_answers_groups
       WHERE b.unit_id = :unit AND b.form_id = :form AND b.field_id = a.field_id
       AND b.question_code = a.question_code AND b.value > a.value ORDER BY b.value LIMIT 1),
    (SELECT b.rowid FROM answers AS b INDEXED BY ix_answers_groups
       WHERE b.unit_id = :unit AND b.form_id = :form AND b.field_id = a.field_id
       AND b.question_code > a.question_code AND b.value IS NOT NULL ORDER BY b.question_code, b.value LIMIT 1),
    (SELECT b.rowid FROM answers AS b INDEXED BY ix_answers_groups
       WHERE b.unit_id = :unit AND b.form_id = :form AND b.field_id > a.field_id
       AND b.value IS NOT NULL ORDER BY b.field_id, b.question_code, b.value LIMIT 1))
  FROM walk JOIN answers AS a ON a.rowid = walk.r
),
counted AS (
  SELECT a.field_id AS field_id, a.question_code AS question_code, a.value AS value,
    (SELECT count(*) FROM answers AS b INDEXED BY ix_answers_groups
       WHERE b.unit_id = :unit AND b.form_id = :form AND b.field_id = a.field_id
       AND b.question_code = a.question_code AND b.value = a.value
       AND b.answered_at >= :start AND b.answered_at < :end) AS n
  FROM walk JOIN answers AS a ON a.rowid = walk.r
)
SELECT fields.name, counted.question_code, counted.value, counted.n
FROM counted JOIN fields ON fields.id = counted.field_id
WHERE counted.n > 0
"""
).bindparams(
    bindparam("start", type_=ANSWERS.c.answered_at.type),
    bindparam("end", type_=ANSWERS.c.answered_at.type),
)


async def sqlite_answer_counts(
    connection: AsyncConnection, unit_id: int, start: datetime, end: datetime, form_id: str
) -> list[AnswerCount]:
    """The answers of one unit to ``form_id`` in [start, end) per field, question and value (SQLite only)."""
    parameters = {"unit": unit_id, "form": form_id, "start": start, "end": end}
    return [AnswerCount(f, q, v, int(n)) for f, q, v, n in await connection.execute(GROUPS, parameters)]
