"""The unit tree (tỉnh → xã, quận → phường): adding units and finding them."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from handlers.admin.issuers import (
    PLACE_LIMIT,
    SIGNER_LIMIT,
    SIGNER_TITLE_LIMIT,
    has_control_characters,
    issuing_unit,
)
from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.messages import nfc
from handlers.texts import Texts
from handlers.words import fold
from storage.values import Unit

UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@cache
def _texts() -> Texts:
    return Texts.load()


class UnitHandler:
    """Adds units to the tree."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def add(
        self,
        code: str,
        name: str,
        parent: str | None = None,
        form: str | None = None,
        *,
        issues_documents: bool = True,
        place: str | None = None,
        signer_name: str | None = None,
        signer_title: str | None = None,
    ) -> Unit:
        """Add unit ``code`` named ``name`` under ``parent``, with its own survey form if given.

        ``issues_documents`` False: a reception point, whose apology slips the nearest unit above it that issues
        documents issues; ``place``, ``signer_name``, ``signer_title``: see :meth:`set`.
        """
        code, name = code.strip(), nfc(name).strip()
        if not UNIT_CODE_RE.fullmatch(code):
            raise InvalidInput.worded("error.unit_code")
        if not name or len(name) > 200:
            raise InvalidInput.worded("error.unit_name")
        if form is not None and form not in self.services.catalog:
            raise InvalidInput.worded("error.unknown_form", form=form, known=", ".join(self.services.catalog.ids()))
        more = _checked(
            code, {"place": place, "signer_name": signer_name, "signer_title": signer_title}, has_parent=bool(parent)
        )
        if not issues_documents:
            more.update(_checked(code, {"issues_documents": False}, has_parent=bool(parent)))
        async with self.services.uow() as uow:
            if await uow.units.get_by_code(code) is not None:
                raise Conflict.worded("error.unit_exists", code=code)
            parent_id = None
            if parent:
                parent_unit = await uow.units.get_by_code(parent)
                if parent_unit is None:
                    raise NotFound.worded("error.no_parent_unit", parent=parent)
                parent_id = parent_unit.id
            unit = await uow.units.add(code, name, parent_id, self.services.clock(), **more)
            if form is not None:
                await uow.units.set_form(unit.id, form)
                unit = await uow.units.get(unit.id)
            await uow.commit()
        return unit

    async def set(self, code: str, **changes: object) -> tuple[Unit, Unit]:
        """Change unit ``code``'s settings; the unit as it is now and the unit that issues its documents.

        ``issues_documents`` (bool): whether it issues documents in its own name (a unit with nothing above it
        must); ``place``: the place name of its documents' date line, ``signer_name``: who signs its slips,
        ``signer_title``: the signature's position lines ("|" between them) — each "" goes back to the default
        (the place from its name, the signer from the settings). Keys left out are not changed.
        """
        code = code.strip()
        async with self.services.uow() as uow:
            unit = await uow.units.get_by_code(code)
            if unit is None:
                raise NotFound.worded("error.no_unit", unit=code)
            values = _checked(code, changes, has_parent=unit.parent_id is not None)
            unit = await uow.units.update(unit.id, **values)
            issuer = await issuing_unit(uow, unit)
            await uow.audit.add(self.services.actor, "unit.set", f"unit:{code}", values, self.services.clock())
            await uow.commit()
        return unit, issuer

    async def issuer(self, unit: Unit) -> Unit:
        """The unit that issues ``unit``'s documents (itself, or the nearest above it that issues them)."""
        async with self.services.uow(read_only=True) as uow:
            return await issuing_unit(uow, unit)

    async def exists(self, code: str) -> bool:
        """Whether unit ``code`` exists."""
        async with self.services.uow(read_only=True) as uow:
            return await uow.units.get_by_code(code) is not None

    async def ensure(self, code: str, name: str) -> Unit:
        """Unit ``code``, created with ``name`` on first use."""
        async with self.services.uow() as uow:
            unit = await uow.units.get_by_code(code)
            if unit is None:
                unit = await uow.units.add(code, name, None, self.services.clock())
                await uow.commit()
        return unit


def _checked(code: str, changes: dict[str, object], *, has_parent: bool) -> dict[str, object]:
    """The columns to store for ``changes`` of a unit's settings (None: not given); InvalidInput if one is bad."""
    values: dict[str, object] = {}
    limits = {"place": PLACE_LIMIT, "signer_name": SIGNER_LIMIT, "signer_title": SIGNER_TITLE_LIMIT}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "issues_documents":
            if value is not True and value is not False:
                raise InvalidInput.worded("error.unit_issues_documents")
            if value is False and not has_parent:
                raise InvalidInput.worded("error.unit_root_issues", code=code)
            values[key] = value
        elif key in limits:
            raw = nfc(str(value))
            if key == "signer_title":  # its lines, "|" (or a newline) between them
                lines = (" ".join(line.split()) for line in raw.replace("\n", "|").split("|"))
                text = "|".join(line for line in lines if line)
            else:
                text = " ".join(raw.split())
            if len(text) > limits[key] or has_control_characters(text) or (key != "signer_title" and "|" in text):
                raise InvalidInput.worded(f"error.unit_{key}", max=limits[key])
            values[key] = text or None
        else:
            raise InvalidInput.worded("error.unit_setting", name=key)
    return values


@dataclass(frozen=True)
class UnitLine:
    """A unit to import: its code, its name, the code of the unit above it (if any); from a file, where it was."""

    code: str
    name: str
    parent: str | None = None
    row: int | None = None  # its row in the file (the header is row 1)
    cells: int | None = None  # how many cells the row has, and the header: they must agree
    width: int | None = None


@dataclass(frozen=True)
class UnitImport:
    """What an import of units did."""

    added: int
    kept: int


@dataclass(frozen=True)
class UnitProblem:
    """What is wrong with one unit to import: where (row, or code), the column, and why (a catalog key)."""

    row: int | None
    code: str | None
    column: str  # code, name, parent, header or row
    key: str
    values: dict[str, object]


class UnitFileError(InvalidInput):
    """Units that cannot be imported, every problem listed (row, column, what is wrong, what was expected)."""

    code = "invalid_units"

    def __init__(self, source: str, problems: list[UnitProblem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.row or 0, p.code or ""))
        super().__init__(self.text("en"))

    def text(self, locale: str) -> str:
        """The heading, then one line per problem, in ``locale``."""
        say = _texts()
        lines = [say(locale, "units.import.bad_file", file=self.source, count=len(self.problems))]
        for problem in self.problems:
            reason = say(locale, problem.key, **problem.values)
            column = say(locale, f"units.import.column.{problem.column}")
            if problem.row is not None:
                lines.append("  " + say(locale, "units.import.row", row=problem.row, column=column, reason=reason))
            elif problem.code is not None:
                lines.append("  " + say(locale, "units.import.unit", code=problem.code, column=column, reason=reason))
            else:
                lines.append("  " + reason)
        return "\n".join(lines)


HEADERS = {
    "code": ("ma", "ma don vi", "code"),
    "name": ("ten", "ten don vi", "name"),
    "parent": ("ma cap tren", "cap tren", "parent"),
}


def read_unit_file(path: Path) -> list[UnitLine]:
    """The units of a CSV file with the columns mã (code), tên (name) and mã cấp trên (parent, may be empty).

    Every row is returned with its number and its cell count; :func:`check_units` judges them. A file that
    cannot be read, or whose header lacks the code or the name, is refused here (UnitFileError).
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            first_line = stream.readline()
            stream.seek(0)
            delimiter = ";" if first_line.count(";") > first_line.count(",") else ","  # as the header is written
            rows = list(csv.reader(stream, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        problem = UnitProblem(None, None, "row", "units.import.unreadable", {"reason": reason})
        raise UnitFileError(str(path), [problem]) from None
    if not rows or not any(cell.strip() for row in rows for cell in row):
        raise UnitFileError(str(path), [UnitProblem(None, None, "row", "units.import.empty", {})])
    header = [fold(h) for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    where: dict[str, int] = {}
    for key, names in HEADERS.items():
        found = next((i for i, h in enumerate(header) if h in names), None)
        if found is not None:
            where[key] = found
    if "code" not in where or "name" not in where:
        raise UnitFileError(str(path), [UnitProblem(1, None, "header", "units.import.header", {})])
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        while len(cells) > len(header) and not cells[-1]:
            cells.pop()  # a spreadsheet's trailing separators
        if not any(cells):
            continue

        def cell(key: str, cells: list[str] = cells) -> str:
            return cells[where[key]] if key in where and where[key] < len(cells) else ""

        lines.append(UnitLine(cell("code"), cell("name"), cell("parent") or None, number, len(cells), len(header)))
    return lines


def _forbidden(text: str) -> bool:
    return any(unicodedata.category(c).startswith("C") for c in text)


def check_units(lines: Sequence[UnitLine], existing: set[str]) -> list[UnitProblem]:
    """Every problem of the units to import, given the codes already in the system; none when all are good."""
    problems: list[UnitProblem] = []

    def problem(line: UnitLine, column: str, key: str, **values: object) -> None:
        problems.append(UnitProblem(line.row, None if line.row else line.code, column, key, values))

    first: dict[str, UnitLine] = {}
    in_file = {line.code.strip() for line in lines}
    for line in lines:
        if line.cells is not None and line.width is not None and line.cells != line.width:
            problem(line, "row", "units.import.columns", found=line.cells, expected=line.width)
            continue
        code, name = line.code.strip(), nfc(line.name).strip()
        if not code:
            problem(line, "code", "units.import.code_empty")
        elif len(code) > 32:
            problem(line, "code", "units.import.code_long", code=code, length=len(code))
        elif not UNIT_CODE_RE.fullmatch(code):
            problem(line, "code", "units.import.code_chars", code=code)
        elif code in first:
            problem(line, "code", "units.import.code_twice", code=code, first=first[code].row or "?")
        else:
            first[code] = line
        if not name:
            problem(line, "name", "units.import.name_empty")
        elif len(name) > 200:
            problem(line, "name", "units.import.name_long", length=len(name))
        elif _forbidden(name):
            problem(line, "name", "units.import.name_chars")
        parent = (line.parent or "").strip()
        if parent and parent == code:
            problem(line, "parent", "units.import.parent_self", parent=parent)
        elif parent and parent not in in_file and parent not in existing:
            problem(line, "parent", "units.import.parent_unknown", parent=parent)
    # parents that go round in a loop inside the file (a → b → a): reported once, at the loop's first row
    above = {code: (line.parent or "").strip() for code, line in first.items()}
    done: set[str] = set()
    for code in first:
        path: list[str] = []
        current = code
        while current in above and current not in done and current not in path:
            path.append(current)
            current = above[current]
        loop = path[path.index(current) :] if current in path else []
        if len(loop) > 1:  # a unit above itself is reported as such
            head = min((first[c] for c in loop), key=lambda line: line.row or 0)
            problem(head, "parent", "units.import.cycle", chain=" → ".join([*loop, loop[0]]))
        done.update(path)
    return problems


def vietnam_units(province: str) -> list[UnitLine]:
    """A province and its communes after the 2025 merger (``vietnam-provinces``), by the national codes."""
    from vietnam_provinces import Province, Ward

    wanted = province.strip().lstrip("0") or "0"
    found = next((p for p in Province.iter_all() if str(p.code.value) == wanted), None)
    if found is None:
        raise NotFound.worded("error.no_province", province=province)
    code = f"{found.code.value:02d}"
    lines = [UnitLine(code, found.name)]
    lines += [
        UnitLine(f"{ward.code.value:05d}", ward.name, code)
        for ward in Ward.iter_all()
        if ward.province_code == found.code
    ]
    return lines


async def import_units(services: Services, lines: Iterable[UnitLine], source: str = "") -> UnitImport:
    """Add the units not there yet (parents before children, in one transaction); existing ones are kept.

    Every unit is checked first: if any is wrong, UnitFileError lists them all and nothing is added.
    """
    lines = list(lines)
    added = kept = 0
    now = services.clock()
    async with services.uow() as uow:
        ids = {u.code: u.id for u in await uow.units.all()}
        problems = check_units(lines, set(ids))
        if problems:
            raise UnitFileError(source, problems)
        pending = [
            UnitLine(line.code.strip(), nfc(line.name).strip(), (line.parent or "").strip() or None) for line in lines
        ]
        while pending:
            progressed = False
            for line in list(pending):
                if line.parent is not None and line.parent not in ids:
                    continue
                pending.remove(line)
                progressed = True
                if line.code in ids:
                    kept += 1
                    continue
                unit = await uow.units.add(line.code, line.name, ids[line.parent] if line.parent else None, now)
                ids[line.code] = unit.id
                added += 1
            if not progressed:
                raise NotFound.worded("error.no_parent_unit", parent=pending[0].parent)
        await uow.commit()
    return UnitImport(added, kept)
