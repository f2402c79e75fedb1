"""The roles' buttons, typed (kind ``q``): a role picked to take away (``q:<role>``), then confirmed or not.

The data keeps the spellings sent before the codec (``q:<role>``, ``q:<role>:ok|no``), so a button already in a
leader's chat still works.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from handlers.chat.callbacks import Button


@dataclasses.dataclass(frozen=True)
class RoleButton(Button):
    """A role in the list of ``/thuhoi`` (``answer`` None), or the answer to "take it away?" (``ok``/``no``)."""

    KIND = "q"
    role: int
    answer: Literal["ok", "no"] | None = None
