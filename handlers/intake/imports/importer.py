"""Dossiers imported from a one-stop-shop export (.xlsx or .csv), through the lifecycle the REST API applies.

Columns are found by their headers (handlers/intake/imports/header_aliases.py), in the first of the first ten rows that
holds every required header. Each row becomes an upsert and the events its status and dates imply
(rows.py, docs/METHOD.md); a bad row spoils only itself and is reported as ``row N: …``. Rows are
applied in transactions of ``BATCH_ROWS`` (handlers/intake/imports/applying.py). Importing the same file twice changes
nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from handlers.context import Services
from handlers.intake.imports.applying import RowApplier
from handlers.intake.imports.header_aliases import HEADER_SEARCH_ROWS, find_header
from handlers.intake.imports.memory import ImportMemory
from handlers.intake.imports.report import ImportFileError, ImportReport, ImportWords, RowError
from handlers.intake.imports.rows import RowReader, UnitCodes
from handlers.intake.imports.sources import open_table
from handlers.intake.imports.tables import Table
from handlers.texts import DEFAULT_LOCALE
from storage.values import Unit

BATCH_ROWS = 200  # rows per transaction
PROGRESS_EVERY = 1000  # rows between two progress reports

ProgressCallback = Callable[[int, int | None], None]


class DossierImporter:
    """Reads a one-stop-shop export and applies every row as an upsert and its events (README, the commands).

    ``locale`` is the wording of what the import says (the refusal of a file, its rows' errors, its summary).
    """

    def __init__(self, services: Services, locale: str = DEFAULT_LOCALE) -> None:
        self.services = services
        self.say = ImportWords(services.texts, locale)
        self._applier = RowApplier(services, self.say)

    async def run(
        self,
        path: Path | str,
        unit: str | None = None,
        on_progress: ProgressCallback | None = None,
        *,
        sheet: str | None = None,
    ) -> ImportReport:
        """Import ``path``; ``unit`` for rows (or files) without a unit column; ImportFileError when unreadable."""
        table = open_table(Path(path), sheet, self.say)
        try:
            return await self._run(table, unit, on_progress)
        finally:
            table.close()

    async def _run(self, table: Table, unit: str | None, on_progress: ProgressCallback | None) -> ImportReport:
        say = self.say
        head = table.take(HEADER_SEARCH_ROWS)
        header_row, columns, missing = find_header(head)
        if missing:
            where = say("file.where_row", row=header_row) if header_row else None
            where = where or say("file.where_first_rows", count=HEADER_SEARCH_ROWS)
            raise ImportFileError(say("file.missing_columns", columns=say.columns(missing), where=where))
        units = await self._units()
        memory = ImportMemory(units)
        unit_code = UnitCodes(units)
        default_unit = None
        if unit is not None:
            default_unit = unit_code(unit)
            if default_unit is None:
                raise ImportFileError(say("no_such_unit", unit=unit))
        if "unit" not in columns and default_unit is None:
            raise ImportFileError(say("file.no_unit_column", column=say.column("unit")))
        reader = RowReader(self.services, say, header_row, columns, unit_code, default_unit)
        total = table.total - header_row if table.total is not None else None
        pending = [(number, values) for number, values in head if number > header_row]
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        errors: list[RowError] = []
        done = reported = 0
        while True:
            batch = pending + table.take(BATCH_ROWS - len(pending))
            pending = []
            if not batch:
                break
            plans, refused = reader.read(batch)
            errors.extend(refused)
            await self._applier.apply_batch(plans, memory, counts, errors)
            done += len(batch)
            if on_progress is not None and done // PROGRESS_EVERY > reported // PROGRESS_EVERY:
                on_progress(done, max(total, done) if total is not None else None)
                reported = done
        if on_progress is not None and reported != done:
            on_progress(done, done)
        errors.sort(key=lambda error: error.row)
        created, updated, unchanged = counts["created"], counts["updated"], counts["unchanged"]
        return ImportReport(done, created, updated, unchanged, tuple(errors), locale=say.locale)

    async def _units(self) -> dict[str, Unit]:
        async with self.services.uow(read_only=True) as uow:
            return {u.code: u for u in await uow.units.all()}
