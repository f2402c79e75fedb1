"""The chat's one table: every room gives its part, none claims another's, every kind of button has its handler."""

from __future__ import annotations

from typing import cast

import pytest

from handlers.admin.buttons import RoleButton
from handlers.chat import callbacks
from handlers.chat.dispatcher import ChatDispatcher
from handlers.chat.routes import Routes
from handlers.chat.turn import Turn
from handlers.context import Services
from handlers.staff.buttons import ApologyButton, ComplaintButton
from handlers.texts import Texts
from storage.db import Database
from survey_forms.catalog import Catalog


async def _nothing(_turn: Turn, _args: str) -> None:
    return None


@pytest.fixture
def dispatcher(catalog: Catalog, texts: Texts) -> ChatDispatcher:
    return ChatDispatcher(Services(database=cast(Database, None), catalog=catalog, texts=texts))


def test_the_desks_commands_buttons_and_flows_are_in_the_one_table(dispatcher: ChatDispatcher) -> None:
    routes = dispatcher.routes
    desks = ("join", "thuhoi", "revoke", "xinloi", "apology", "hoso", "dossier", "phananh", "complaints")
    desks += ("traloi", "reply", "dong", "close", "baocao", "report")
    citizens = ("start", "khaosat", "survey", "huy", "stop", "xoadulieu", "erase", "trogiup", "help", "lang")
    assert set(desks + citizens) <= set(routes.commands)
    assert {"trogiup", "help", "huy", "cancel"} <= set(routes.offers)  # an officer's first, else the citizen's
    assert {RoleButton, ApologyButton, ComplaintButton} <= set(routes.buttons)
    assert {RoleButton, ApologyButton, ComplaintButton} <= set(routes.stale)  # answered in their room's words
    assert set(routes.flows) == {"apology", "reply", "revoke"}
    assert "thuhoi" in routes.flows["apology"].lets_through
    assert "baocao" not in routes.flows["apology"].lets_through
    assert routes.flows["revoke"].lets_through == {"thuhoi", "revoke"}


def test_every_kind_of_button_the_product_sends_has_its_handler(dispatcher: ChatDispatcher) -> None:
    kinds = {kind for kind in callbacks._KINDS.values() if kind.__module__.startswith("handlers.")}
    assert kinds
    assert kinds == set(dispatcher.routes.buttons)


def test_two_rooms_never_claim_one_command() -> None:
    with pytest.raises(ValueError, match="'hoso' is routed twice"):
        Routes.join(Routes(commands={"hoso": _nothing}), Routes(commands={"hoso": _nothing}))
    with pytest.raises(ValueError, match="free text"):
        Routes.join(Routes(free_text=_nothing), Routes(free_text=_nothing))
