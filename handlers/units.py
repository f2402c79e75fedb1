"""The unit tree (tỉnh → xã, quận → phường): adding units and finding them."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.messages import nfc
from handlers.survey import fold
from storage.values import Unit

UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class UnitHandler:
    """Adds units to the tree."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def add(self, code: str, name: str, parent: str | None = None, form: str | None = None) -> Unit:
        """Add unit ``code`` named ``name`` under ``parent``, with its own survey form if given."""
        code, name = code.strip(), nfc(name).strip()
        if not UNIT_CODE_RE.fullmatch(code):
            raise InvalidInput("a unit code is 1–32 letters, digits, '.', '_' or '-'")
        if not name or len(name) > 200:
            raise InvalidInput("a unit name is 1–200 characters")
        if form is not None and form not in self.services.catalog:
            raise InvalidInput(f"unknown form {form!r} (known: {', '.join(self.services.catalog.ids())})")
        async with self.services.uow() as uow:
            if await uow.units.get_by_code(code) is not None:
                raise Conflict(f"unit {code} already exists")
            parent_id = None
            if parent:
                parent_unit = await uow.units.get_by_code(parent)
                if parent_unit is None:
                    raise NotFound(f"no parent unit {parent!r}")
                parent_id = parent_unit.id
            unit = await uow.units.add(code, name, parent_id, self.services.clock())
            if form is not None:
                await uow.units.set_form(unit.id, form)
                unit = await uow.units.get(unit.id)
            await uow.commit()
        return unit

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


@dataclass(frozen=True)
class UnitLine:
    """A unit to import: its code, its name, the code of the unit above it (if any)."""

    code: str
    name: str
    parent: str | None = None


@dataclass(frozen=True)
class UnitImport:
    """What an import of units did."""

    added: int
    kept: int


HEADERS = {
    "code": ("ma", "ma don vi", "code"),
    "name": ("ten", "ten don vi", "name"),
    "parent": ("ma cap tren", "cap tren", "parent"),
}


def read_unit_file(path: Path) -> list[UnitLine]:
    """The units of a CSV file with the columns mã (code), tên (name) and mã cấp trên (parent, may be empty)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            sample = stream.read(4096)
            stream.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;") if sample else csv.excel
            rows = list(csv.reader(stream, dialect))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    if not rows:
        raise InvalidInput(f"{path} is empty")
    header = [fold(h) for h in rows[0]]
    where: dict[str, int] = {}
    for key, names in HEADERS.items():
        found = next((i for i, h in enumerate(header) if h in names), None)
        if found is not None:
            where[key] = found
    if "code" not in where or "name" not in where:
        raise InvalidInput(f"{path}: the columns mã (code) and tên (name) are needed")
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        try:
            code, name = cells[where["code"]], cells[where["name"]]
        except IndexError:
            raise InvalidInput(f"{path}: row {number} has too few columns") from None
        parent = cells[where["parent"]] if "parent" in where and where["parent"] < len(cells) else ""
        lines.append(UnitLine(code, name, parent or None))
    return lines


def vietnam_units(province: str) -> list[UnitLine]:
    """A province and its communes after the 2025 merger (``vietnam-provinces``), by the national codes."""
    from vietnam_provinces import Province, Ward

    wanted = province.strip().lstrip("0") or "0"
    found = next((p for p in Province.iter_all() if str(p.code.value) == wanted), None)
    if found is None:
        raise NotFound(f"no province with code {province!r} (the 34 provinces since 07/2025 are 01–96)")
    code = f"{found.code.value:02d}"
    lines = [UnitLine(code, found.name)]
    lines += [
        UnitLine(f"{ward.code.value:05d}", ward.name, code)
        for ward in Ward.iter_all()
        if ward.province_code == found.code
    ]
    return lines


async def import_units(services: Services, lines: Iterable[UnitLine]) -> UnitImport:
    """Add the units not there yet (parents before children, in one transaction); existing ones are kept."""
    lines = list(lines)
    added = kept = 0
    now = services.clock()
    async with services.uow() as uow:
        ids = {u.code: u.id for u in await uow.units.all()}
        pending = list(lines)
        while pending:
            progressed = False
            for line in list(pending):
                if line.parent is not None and line.parent not in ids:
                    continue
                pending.remove(line)
                progressed = True
                code, name = line.code.strip(), nfc(line.name).strip()
                if not UNIT_CODE_RE.fullmatch(code) or not name or len(name) > 200:
                    raise InvalidInput(
                        f"unit {line.code!r}: a code is 1–32 letters, digits, '.', '_' or '-'; a name 1–200"
                    )
                if code in ids:
                    kept += 1
                    continue
                unit = await uow.units.add(code, name, ids[line.parent] if line.parent else None, now)
                ids[code] = unit.id
                added += 1
            if not progressed:
                raise InvalidInput(f"no parent unit {pending[0].parent!r} for {pending[0].code!r}")
        await uow.commit()
    return UnitImport(added, kept)
