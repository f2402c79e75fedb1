"""The survey asked in a chat: offered, started, answered by button or by typing, moved on, completed.

The questions, their order and the reading of typed answers are pure functions (handlers.citizen.survey); this
module carries them out on one chat turn. Each survey message takes the invitation's next turn, and its buttons
carry it (handlers.citizen.buttons): a press counts only on the newest message, and takes its turn.
"""

from __future__ import annotations

import dataclasses

from handlers.chat.turn import Turn
from handlers.citizen import complaints
from handlers.citizen.buttons import (
    StartSurvey,
    SurveyBack,
    SurveyButton,
    SurveyDone,
    SurveyPick,
    SurveySkip,
    SurveyTick,
)
from handlers.citizen.comments import SurveyComments
from handlers.citizen.invitations import open_invitation, with_start_button
from handlers.citizen.survey import (
    Back,
    Chosen,
    Interpretation,
    NotUnderstood,
    Skip,
    interpret,
    next_question,
    previous_question,
    render_question,
    visible_questions,
)
from handlers.messages import Reply
from storage.values import Answer, Dossier, Invitation
from survey_forms.schema import Form, Question

OPEN = ("sent", "started")


async def offer_waiting_survey(turn: Turn) -> None:
    """Offer the linked person's survey waiting to be answered in a chat, if there is one."""
    assert turn.chat is not None
    assert turn.chat.person_id is not None
    # what can be answered here: a survey not offered yet, or one being asked in a chat (an open ZNS rating
    # has no question to ask in a chat)
    waiting = [
        invitation
        for invitation in await turn.uow.invitations.for_person(turn.chat.person_id, ("pending", *OPEN))
        if invitation.status == "pending" or invitation.cursor is not None
    ]
    if not waiting:
        return
    dossier = await turn.uow.dossiers.get(waiting[0].dossier_id)
    text = turn.t("survey.waiting", procedure=dossier.procedure_name)
    turn.replies.append(with_start_button(turn.texts, turn.locale, text))


async def active_invitation(turn: Turn) -> Invitation | None:
    """The survey this chat is answering: a started one first, else the oldest offered."""
    assert turn.chat is not None
    assert turn.chat.person_id is not None
    if not turn.current_known:
        found = await turn.uow.chats.with_survey(turn.chat.channel, turn.chat.external_id)
        turn.current = found.invitation if found else None
        turn.current_field_id = found.field_id if found else None
        turn.current_known = True
    return turn.current


async def field_of(turn: Turn, invitation: Invitation) -> int:
    """The field (lĩnh vực) of the invitation's dossier, copied onto each answer."""
    if turn.current is not None and invitation.id == turn.current.id and turn.current_field_id is not None:
        return turn.current_field_id
    return (await turn.uow.dossiers.get(invitation.dossier_id)).field_id


def form_and_question(turn: Turn, invitation: Invitation) -> tuple[Form, Question]:
    """The invitation's form and the question it stands at."""
    form = turn.services.catalog.get(invitation.form_id, invitation.form_version)
    assert invitation.cursor is not None
    return form, form.question(invitation.cursor)


async def on_survey_command(turn: Turn, _args: str = "") -> None:
    """``/khaosat``: the question the survey stands at, or the survey waiting, started now."""
    if not turn.linked or turn.chat is None or turn.chat.person_id is None:
        turn.say("link.not_linked")
        return
    invitation = await active_invitation(turn)
    if invitation is not None and invitation.cursor is not None:
        turn.invitation_id = invitation.id
        form, question = form_and_question(turn, invitation)
        answers = await turn.uow.answers.for_invitation(invitation.id)
        turn.replies.append(await render(turn, form, invitation, question, answers, fresh=True))
        return
    pending = await turn.uow.invitations.for_person(turn.chat.person_id, ("pending",))
    if not pending:
        turn.say("survey.none")
        return
    turn.invitation_id = pending[0].id
    turn.replies += await open_invitation(turn.services, turn.uow, pending[0], turn.chat, turn.now)


async def on_start_button(turn: Turn, _button: StartSurvey) -> None:
    """The "Bắt đầu khảo sát" button: as ``/khaosat``."""
    await on_survey_command(turn)


async def on_typed_answer(turn: Turn, invitation: Invitation, text: str) -> None:
    """Text typed while ``invitation`` asks a question: its answer, as the question reads it."""
    form, question = form_and_question(turn, invitation)
    field = await field_of(turn, invitation)
    await apply(turn, invitation, field, form, question, interpret(form, question, text), typed=text)


async def on_button(turn: Turn, button: SurveyButton) -> None:
    """A press on a survey message's button: it counts only on the newest survey message (its turn is live)."""
    invitation = None
    ref = button.ref
    if turn.linked:
        current = await active_invitation(turn)
        wanted = ref.invitation_id
        invitation = current if current and current.id == wanted else await turn.uow.invitations.get(wanted)
    if (
        invitation is None
        or turn.chat is None
        or invitation.person_id != turn.chat.person_id
        or invitation.status not in OPEN
        or invitation.cursor != button.question
        or invitation.turn != ref.turn
    ):
        turn.stale()
        return
    form, question = form_and_question(turn, invitation)
    multi = question.type == "multi_choice"
    if isinstance(button, SurveyPick | SurveyTick):
        valid = button.value in {o.value for o in form.options_of(question)} and multi == isinstance(button, SurveyTick)
    else:
        valid = multi or not isinstance(button, SurveyDone)
    if not valid:
        turn.stale()
        return
    # the press takes the message's turn: a second press on it (or on any older message) is stale from now on
    taken = await turn.uow.invitations.take_turn(invitation.id, ref.turn)
    if taken is None:
        turn.stale()
        return
    turn.claimed[invitation.id] = taken
    if isinstance(button, SurveyTick):
        await toggle(turn, invitation, form, question, button.value)
        return
    result: Interpretation
    if isinstance(button, SurveyPick):
        result = Chosen(button.value)
    elif isinstance(button, SurveyDone):
        answers = await turn.uow.answers.for_invitation(invitation.id)
        given = answers.get(question.code)
        result = Chosen(given.value) if given and given.value else Skip()
    elif isinstance(button, SurveySkip):
        result = Skip()
    else:
        assert isinstance(button, SurveyBack)
        result = Back()
    await apply(turn, invitation, await field_of(turn, invitation), form, question, result)
    if turn.ack is None:
        turn.ack = turn.t("survey.recorded")


async def toggle(turn: Turn, invitation: Invitation, form: Form, question: Question, value: str) -> None:
    """Tick or untick ``value`` of a multiple-choice question, and show the question again."""
    answers = await turn.uow.answers.for_invitation(invitation.id)
    given = answers.get(question.code)
    chosen = set((given.value or "").split(",")) - {""} if given else set()
    chosen ^= {value}
    ordered = ",".join(o.value for o in form.options_of(question) if o.value in chosen)
    if ordered:
        field = await field_of(turn, invitation)
        await turn.uow.answers.upsert(invitation, field, question.code, ordered, None, turn.now)
        answers[question.code] = Answer(question.code, ordered, None, turn.now)
    else:
        await turn.uow.answers.delete(invitation.id, [question.code])
        answers.pop(question.code, None)
    await advance(turn, invitation, question.code)
    turn.invitation_id = invitation.id
    turn.replies.append(await render(turn, form, invitation, question, answers))
    turn.ack = turn.t("survey.recorded")


def edits_in_place(turn: Turn) -> bool:
    """Only a button press edits the survey message it was on (where the channel can edit).

    A typed answer or a resumed survey gets a new message at the bottom of the chat rather than an edit of
    one further up; that new message is then the one the next press edits.
    """
    return turn.inbound.kind == "choice"


async def advance(turn: Turn, invitation: Invitation, code: str) -> None:
    """Move the survey to ``code``; its message takes the next turn in the same statement (unless a press did)."""
    if invitation.id in turn.claimed:
        await turn.uow.invitations.advance(invitation.id, code, turn.now)
    else:
        turn.claimed[invitation.id] = await turn.uow.invitations.advance(invitation.id, code, turn.now, next_turn=True)


async def render(
    turn: Turn,
    form: Form,
    invitation: Invitation,
    question: Question,
    answers: dict[str, Answer],
    *,
    fresh: bool = False,
) -> Reply:
    """The message asking ``question``, at the invitation's next turn (only its buttons are live from now)."""
    taken = turn.claimed.pop(invitation.id, None)
    if taken is None:
        taken = await turn.uow.invitations.take_turn(invitation.id) or 0
    given = answers.get(question.code)
    reply = render_question(
        form,
        question,
        {c: a.value for c, a in answers.items()},
        turn.texts,
        turn.locale,
        invitation.id,
        current=(given.value, given.text) if given else None,
        turn=taken,
    )
    return dataclasses.replace(reply, fresh=fresh or not edits_in_place(turn))


async def apply(
    turn: Turn,
    invitation: Invitation,
    field_id: int,
    form: Form,
    question: Question,
    result: Interpretation,
    typed: str = "",
) -> None:
    """Carry out one interpreted answer: record it, move on (or back), and ask the next question.

    The answers so far are read only when something depends on them: a form with ``show_if``,
    going back (to show the earlier answer), or asking the same question again.
    """
    uow = turn.uow
    turn.invitation_id = invitation.id
    if isinstance(result, NotUnderstood):
        turn.say(result.reason, text=typed[:80], max=question.max_length)
        await ask_again(turn, form, invitation, question)
        return
    if isinstance(result, Back):
        await go_back(turn, form, invitation, question)
        return
    if isinstance(result, Skip):
        if not question.skippable:
            turn.ack = turn.t("survey.required")
            turn.say("survey.required")
            await ask_again(turn, form, invitation, question)
            return
        await uow.answers.delete(invitation.id, [question.code])
    else:
        await uow.answers.upsert(invitation, field_id, question.code, result.value, result.text, turn.now)
    answers: dict[str, Answer] = {}
    if form.has_conditions():
        answers = await uow.answers.for_invitation(invitation.id)
    values = {c: a.value for c, a in answers.items()}
    following = next_question(form, values, question.code)
    if following is None:
        await complete(turn, invitation, form, values)
        return
    await advance(turn, invitation, following.code)
    turn.replies.append(await render(turn, form, invitation, following, answers))


async def go_back(turn: Turn, form: Form, invitation: Invitation, question: Question) -> None:
    """Show the previous question with its current answer, ready to be changed."""
    answers = await turn.uow.answers.for_invitation(invitation.id)
    previous = previous_question(form, {c: a.value for c, a in answers.items()}, question.code)
    if previous is None:
        turn.ack = turn.t("survey.first_question")
        turn.say("survey.first_question")
        turn.replies.append(await render(turn, form, invitation, question, answers, fresh=True))
        return
    await advance(turn, invitation, previous.code)
    turn.replies.append(await render(turn, form, invitation, previous, answers))


async def ask_again(turn: Turn, form: Form, invitation: Invitation, question: Question) -> None:
    """Show the current question once more, as a new message, with its current answer."""
    answers = await turn.uow.answers.for_invitation(invitation.id)
    turn.replies.append(await render(turn, form, invitation, question, answers, fresh=True))


async def keep_comments(turn: Turn, invitation: Invitation, form: Form, dossier: Dossier) -> str | None:
    """Keep the survey's comments unlinked (unit and day only) and release the day's batch if due.

    Returns what the person wrote, to offer it as a complaint (sent only if they choose to).
    """
    uow = turn.uow
    answers = await uow.answers.for_invitation(invitation.id)
    texts = {q.code for q in form.questions if q.type == "text"}
    written = [a.text.strip() for code, a in answers.items() if code in texts and a.text and a.text.strip()]
    person = await uow.people.get(invitation.person_id) if invitation.person_id is not None else None
    names = [person.name] if person is not None else []
    comments = SurveyComments(turn.services)
    for text in written:
        await comments.keep(uow, invitation.unit_id, turn.now, text, names, dossier.code)
    await comments.release_if_due(uow, invitation.unit_id, turn.now)
    return "\n".join(written) or None


async def complete(turn: Turn, invitation: Invitation, form: Form, values: dict[str, str | None]) -> None:
    """Close the survey, drop answers to questions that ended up hidden, and thank the person."""
    shown = {q.code for q in visible_questions(form, values)}
    hidden = [code for code in values if code not in shown]
    if hidden:
        await turn.uow.answers.delete(invitation.id, hidden)
    await turn.uow.invitations.update(
        invitation.id,
        status="completed",
        completed_at=turn.now,
        cursor=None,
        started_at=invitation.started_at or turn.now,
    )
    unit = await turn.uow.units.get(invitation.unit_id)
    dossier = await turn.uow.dossiers.get(invitation.dossier_id)
    comment = await keep_comments(turn, invitation, form, dossier)
    text = "\n\n".join([form.outro.get(turn.locale), turn.t("survey.next_steps", unit=unit.name)])
    # the end of the survey offers the separate complaint step; nothing is sent unless the person says so
    offer = await complaints.offer(turn, dossier, "comment" if comment else "survey", comment, lead=text)
    turn.replies.append(dataclasses.replace(offer, thread=f"survey:{invitation.id}", fresh=not edits_in_place(turn)))
