"""The chat's one table: from a command, a button's kind, a flow in progress or a pending step to its handler.

Every room that acts in a chat (citizen, staff, leader, admin) gives its part of the table, and the dispatcher
(handlers.chat.dispatcher) joins the parts into one :class:`Routes` and reads it; no room routes by hand. A room
keeps the checks that are its own: a staff command from a chat without the role is refused by its handler.

Where an event goes, in this order:

- a button press: the handler of the button's kind; data that names a kind but does not read is answered by the
  kind's ``stale`` handler (in its room's words), any other data as a stale button;
- a command: the flow in progress first (an officer's draft: ``/huy`` cancels it, another command is answered
  with what the step expects), unless the flow lets that command through; then the command's ``offer`` (a
  room that takes the command for some chats only: an officer's ``/trogiup``), then its handler;
- typed text: the flow in progress, then the ``asides`` (an officer's stray number), then the step the chat
  waits for (``pending``), and else the citizen's free text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from handlers.chat.callbacks import Button
from handlers.chat.turn import Turn
from storage.values import Draft

K = TypeVar("K")
V = TypeVar("V")

Command = Callable[[Turn, str], Awaitable[None]]  # the turn, and what follows the command's name
Offer = Callable[[Turn, str], Awaitable[bool]]  # as a command; False: not this chat's, the command's handler next
Press = Callable[[Turn, Any], Awaitable[None]]  # the turn, and the button pressed (of the kind it is routed by)
Stale = Callable[[Turn], Awaitable[None]]  # a press on data of the kind that does not read
StepReply = Callable[[Turn, str], Awaitable[bool]]  # the turn, and the text typed; False: not an answer to the step
FlowText = Callable[[Turn, Draft, str], Awaitable[bool]]  # typed text while the draft is open; False: go on
FlowCommand = Callable[[Turn, Draft, str], Awaitable[bool]]  # a command's name while it is open; False: go on


@dataclass(frozen=True)
class Flow:
    """A flow in progress, by the kind of its draft: what it does with typed text and with other commands."""

    text: FlowText
    command: FlowCommand
    lets_through: frozenset[str] = frozenset()  # commands that run as if no flow were open


@dataclass(frozen=True)
class Routes:
    """The table, or one room's part of it: every key belongs to one room (two parts claiming one is an error)."""

    commands: Mapping[str, Command] = field(default_factory=dict)  # by folded name
    offers: Mapping[str, Offer] = field(default_factory=dict)  # asked before the command of the same name
    buttons: Mapping[type[Button], Press] = field(default_factory=dict)
    stale: Mapping[type[Button], Stale] = field(default_factory=dict)
    flows: Mapping[str, Flow] = field(default_factory=dict)  # by the kind of the chat's draft
    asides: tuple[StepReply, ...] = ()  # typed text taken before the pending step, when no flow took it
    pending: tuple[tuple[str, StepReply], ...] = ()  # (the state, or its prefix ending in ":"; the answer's handler)
    free_text: Command | None = None

    @classmethod
    def join(cls, *parts: Routes) -> Routes:
        """The rooms' parts as one table (the asides and steps in the parts' order)."""
        free_text = [part.free_text for part in parts if part.free_text is not None]
        if len(free_text) > 1:
            raise ValueError("free text is routed twice")
        return cls(
            commands=_union("command", [part.commands for part in parts]),
            offers=_union("offer", [part.offers for part in parts]),
            buttons=_union("button", [part.buttons for part in parts]),
            stale=_union("stale button", [part.stale for part in parts]),
            flows=_union("flow", [part.flows for part in parts]),
            asides=tuple(aside for part in parts for aside in part.asides),
            pending=tuple(step for part in parts for step in part.pending),
            free_text=free_text[0] if free_text else None,
        )

    def waiting(self, pending: str | None) -> StepReply | None:
        """The handler of the step the chat waits for, if any."""
        if pending is None:
            return None
        for state, reply in self.pending:
            if pending == state or (state.endswith(":") and pending.startswith(state)):
                return reply
        return None


def _union(what: str, tables: list[Mapping[K, V]]) -> dict[K, V]:
    joined: dict[K, V] = {}
    for table in tables:
        for key, value in table.items():
            if key in joined:
                raise ValueError(f"the {what} {key!r} is routed twice")
            joined[key] = value
    return joined
