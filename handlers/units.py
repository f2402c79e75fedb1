"""The unit tree (tỉnh → xã, quận → phường): adding units and finding them."""

from __future__ import annotations

import re

from handlers.context import Services
from handlers.errors import Conflict, InvalidInput, NotFound
from handlers.messages import nfc
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
