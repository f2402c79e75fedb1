"""What a citizen's typed text means when no step waits for it.

In a chat not linked: a code of digits, or how to link. In a linked chat with a question asked: the answer.
Otherwise, in this order: the complaint step's answer, another dossier's code, the words that start the survey,
a survey answer with no question asked, and else a message, offered as a complaint.
"""

from __future__ import annotations

import functools

from handlers.chat.turn import Turn
from handlers.citizen import complaints, consent, linking, survey_chat
from handlers.citizen.survey import is_survey_word, option_words
from handlers.context import Services
from handlers.words import fold

START_WORDS = ("1", "bat dau", "bat dau khao sat", "start")  # and the numbered "Bắt đầu khảo sát" option


class FreeText:
    """The reading of a citizen's typed text, knowing every option of every form (such a word is no complaint)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @functools.cached_property
    def option_words(self) -> frozenset[str]:
        """Every option of every form as a person may type it: such a word is never filed as a complaint."""
        catalog = self.services.catalog
        return option_words(catalog.get(form_id) for form_id in catalog.ids())

    async def on_text(self, turn: Turn, text: str) -> None:
        """Typed text no pending step took."""
        code = linking.typed_code(text)
        if not turn.linked:
            if code is not None:  # the short code typed alone
                await consent.on_code(turn, code)
            else:
                turn.say("link.start_code")
            return
        invitation = await survey_chat.active_invitation(turn)
        if invitation is not None and invitation.cursor is not None:
            await survey_chat.on_typed_answer(turn, invitation, text)
            return
        if await complaints.on_text(turn, text):
            return
        if code is not None:  # another dossier's code, in a chat linked already
            await consent.on_code(turn, code)
        elif fold(text) in START_WORDS:
            await survey_chat.on_survey_command(turn)
        elif is_survey_word(text, self.option_words):  # an answer, with no question asked: no complaint
            await on_stray_answer(turn)
        else:
            await complaints.on_free_message(turn, text)


async def on_stray_answer(turn: Turn) -> None:
    """A survey answer (a number, "bỏ qua", "quay lại") typed while no question is asked in this chat."""
    asked = len(turn.replies)
    await survey_chat.offer_waiting_survey(turn)
    if len(turn.replies) == asked:
        turn.say("survey.none")
