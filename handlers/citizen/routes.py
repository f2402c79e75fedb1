"""The citizen's part of the chat's table: their commands, their buttons, the steps a chat waits on, free text.

The dispatcher (handlers.chat.dispatcher) joins it with the other rooms' parts; ``/trogiup`` and ``/huy`` are
offered to an officer's desk first (handlers.staff.desk), and come here for everyone else.
"""

from __future__ import annotations

from handlers.chat.routes import Routes
from handlers.chat.turn import Turn
from handlers.citizen import complaints, consent, leaving, linking, survey_chat
from handlers.citizen.buttons import (
    ComplaintSend,
    Consent,
    EraseConfirm,
    StartSurvey,
    SurveyBack,
    SurveyDone,
    SurveyPick,
    SurveySkip,
    SurveyTick,
)
from handlers.citizen.free_text import FreeText
from handlers.texts import LOCALES
from handlers.words import fold


def citizen_routes(free_text: FreeText) -> Routes:
    """The citizen's commands, buttons and steps."""
    return Routes(
        commands={
            "start": consent.on_start,
            "khaosat": survey_chat.on_survey_command,
            "survey": survey_chat.on_survey_command,
            "huy": leaving.on_opt_out,
            "stop": leaving.on_opt_out,
            "xoadulieu": leaving.on_erase,
            "erase": leaving.on_erase,
            "trogiup": on_help,
            "help": on_help,
            "lang": on_lang,
            "language": on_lang,
        },
        buttons={
            Consent: consent.on_button,
            EraseConfirm: leaving.on_button,
            ComplaintSend: complaints.on_button,
            StartSurvey: survey_chat.on_start_button,
            SurveyPick: survey_chat.on_button,
            SurveyTick: survey_chat.on_button,
            SurveyDone: survey_chat.on_button,
            SurveySkip: survey_chat.on_button,
            SurveyBack: survey_chat.on_button,
        },
        pending=(
            (leaving.PENDING, leaving.on_reply),
            (consent.PENDING, consent.on_reply),
            (linking.PENDING, consent.on_code_confirmation),
        ),
        free_text=free_text.on_text,
    )


async def on_help(turn: Turn, _args: str) -> None:
    """``/trogiup``: what a citizen can do here."""
    turn.say("help")


async def on_lang(turn: Turn, args: str) -> None:
    """``/lang vi|en``: the chat's language (and its person's, for what is sent to them later)."""
    wanted = fold(args)
    if wanted not in LOCALES:
        turn.say("lang.usage")
        return
    turn.locale = wanted
    if turn.chat is not None:
        await turn.uow.chats.update(turn.chat.id, turn.now, locale=wanted)
        if turn.chat.person_id is not None:
            await turn.uow.people.update(turn.chat.person_id, locale=wanted)
    turn.say("lang.done")
