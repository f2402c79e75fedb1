"""The survey conversation as pure functions over a form and the answers so far (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from handlers.citizen.buttons import SurveyBack, SurveyDone, SurveyPick, SurveyRef, SurveySkip, SurveyTick
from handlers.messages import Option, Reply
from handlers.texts import Texts
from handlers.words import fold
from survey_forms.schema import Form, Question

SKIP_WORDS = ("0", "bo qua", "khong co y kien", "skip")
BACK_WORDS = ("quay lai", "back", "tro lai")


@dataclass(frozen=True)
class Chosen:
    """A recognised answer: an option value (several, comma-joined, for multiple choice) or a text."""

    value: str | None
    text: str | None = None


@dataclass(frozen=True)
class Skip:
    """The person has no opinion on this question."""


@dataclass(frozen=True)
class Back:
    """The person wants to change the previous answer."""


@dataclass(frozen=True)
class NotUnderstood:
    """Typed text that is none of the options; ``reason`` is a wording key."""

    reason: str = "survey.not_understood"


Interpretation = Chosen | Skip | Back | NotUnderstood


def is_visible(form: Form, question: Question, answers: Mapping[str, str | None]) -> bool:
    """Whether ``question`` is asked, given the answers so far."""
    rule = question.show_if
    if rule is None:
        return True
    given = answers.get(rule.question)
    if given is None:
        return False
    return any(v in rule.in_ for v in given.split(","))


def visible_questions(form: Form, answers: Mapping[str, str | None]) -> list[Question]:
    """The questions asked, in order, given the answers so far."""
    return [q for q in form.questions if is_visible(form, q, answers)]


def first_question(form: Form, answers: Mapping[str, str | None]) -> Question | None:
    """The first question asked."""
    shown = visible_questions(form, answers)
    return shown[0] if shown else None


def next_question(form: Form, answers: Mapping[str, str | None], current: str) -> Question | None:
    """The next question asked after ``current`` (None: the survey is over)."""
    codes = [q.code for q in form.questions]
    position = codes.index(current)
    return next((q for q in form.questions[position + 1 :] if is_visible(form, q, answers)), None)


def previous_question(form: Form, answers: Mapping[str, str | None], current: str) -> Question | None:
    """The question asked before ``current`` (None: it is the first)."""
    codes = [q.code for q in form.questions]
    position = codes.index(current)
    return next((q for q in reversed(form.questions[:position]) if is_visible(form, q, answers)), None)


def progress(form: Form, answers: Mapping[str, str | None], current: str) -> tuple[int, int]:
    """(position, total) of ``current`` among the questions asked."""
    shown = [q.code for q in visible_questions(form, answers)]
    return shown.index(current) + 1, len(shown)


def _numbers(text: str) -> list[int] | None:
    parts = [p for p in re.split(r"[,;\s]+", text) if p]
    # digits of any script (isdecimal, unlike isdigit, is what int() reads: no ², no ①); no option is numbered
    # past a few digits, so a longer number is no option's (and is never converted)
    if parts and all(p.isdecimal() and len(p) <= 6 for p in parts):
        return [int(p) for p in parts]
    return None


def option_words(forms: Iterable[Form]) -> frozenset[str]:
    """Every option of ``forms`` as a person may type it (its label in each language, folded)."""
    words: set[str] = set()
    for form in forms:
        for question in form.questions:
            for option in form.options_of(question):
                words.update(fold(label) for label in (option.label.vi, option.label.en) if label)
    return frozenset(words)


def is_survey_word(typed: str, options: frozenset[str] = frozenset()) -> bool:
    """Whether typed text is a survey answer on some question: a number, an option, "bỏ qua", "quay lại"."""
    folded = fold(typed)
    return folded in BACK_WORDS or folded in SKIP_WORDS or folded in options or _numbers(folded) is not None


def interpret(form: Form, question: Question, typed: str, texts: Texts | None = None) -> Interpretation:
    """What typed text means for ``question``: an option's number, value or label; skip; back."""
    folded = fold(typed)
    if folded in BACK_WORDS:
        return Back()
    if folded in SKIP_WORDS:
        return Skip()
    if question.type == "text":
        if len(typed) > question.max_length:
            return NotUnderstood("survey.too_long")
        return Chosen(value=None, text=typed)
    options = form.options_of(question)
    numbers = _numbers(folded)
    if numbers is not None:
        if question.type != "multi_choice" and len(numbers) != 1:
            return NotUnderstood()
        if not all(1 <= n <= len(options) for n in numbers):
            return NotUnderstood()
        picked = {options[n - 1].value for n in numbers}
        return Chosen(",".join(o.value for o in options if o.value in picked))
    by_word: dict[str, str] = {}
    for option in options:
        by_word[fold(option.value)] = option.value
        by_word[fold(option.label.vi)] = option.value
        if option.label.en:
            by_word[fold(option.label.en)] = option.value
    if folded in by_word:
        return Chosen(by_word[folded])
    if question.type == "multi_choice":
        pieces = [fold(p) for p in re.split(r"[,;]", typed) if p.strip()]
        if pieces and all(p in by_word for p in pieces):
            picked = {by_word[p] for p in pieces}
            return Chosen(",".join(o.value for o in options if o.value in picked))
    return NotUnderstood()


def answer_label(form: Form, question: Question, value: str | None, text: str | None, locale: str) -> str:
    """An answer as the person would read it."""
    if question.type == "text":
        return text or ""
    labels = {o.value: o.label.get(locale) for o in form.options_of(question)}
    return ", ".join(labels.get(v, v) for v in (value or "").split(",") if v)


def render_question(
    form: Form,
    question: Question,
    answers: Mapping[str, str | None],
    texts: Texts,
    locale: str,
    invitation_id: int,
    *,
    current: tuple[str | None, str | None] | None = None,
    turn: int = 0,
) -> Reply:
    """The message that asks ``question``: progress mark, factor, text, options, skip and back.

    ``turn``: the invitation's turn this message is sent at (its buttons carry it, handlers.citizen.buttons).
    """
    index, total = progress(form, answers, question.code)
    header = texts(locale, "survey.progress", index=index, total=total)
    factor = form.factor_of(question.factor) if question.factor else None
    if factor is not None:
        header = f"{header} · {factor.name.get(locale)}"
    lead_in = form.lead_ins.get(question.part)
    lines = [header, "", *([lead_in.get(locale), ""] if lead_in is not None else []), question.text.get(locale)]
    if question.type == "text":  # what happens to a comment, said where it is written (README)
        lines += ["", texts(locale, "survey.comment_anonymous")]
    if current is not None and (current[0] is not None or current[1]):
        label = answer_label(form, question, current[0], current[1], locale)
        lines += ["", texts(locale, "survey.current_answer", answer=label)]
    ref, code = SurveyRef(invitation_id, turn), question.code
    options: list[Option] = []
    chosen = set((current[0] or "").split(",")) if current else set()
    for number, option in enumerate(form.options_of(question), start=1):
        label = option.label.get(locale)
        if question.type == "multi_choice":
            mark = "☑ " if option.value in chosen else "☐ "
            options.append(Option(SurveyTick(ref, code, option.value).encode(), mark + label, number))
        else:
            options.append(Option(SurveyPick(ref, code, option.value).encode(), label, number))
    if question.type == "multi_choice":
        options.append(Option(SurveyDone(ref, code).encode(), texts(locale, "survey.done")))
    if question.skippable:
        options.append(Option(SurveySkip(ref, code).encode(), texts(locale, "survey.skip"), 0))
    if index > 1:
        options.append(Option(SurveyBack(ref, code).encode(), texts(locale, "survey.back")))
    if question.type == "text":
        hint_key = "survey.hint_text"
    elif question.type == "multi_choice":
        hint_key = "survey.hint_multi"
    else:
        hint_key = "survey.hint_choice" if question.skippable else "survey.hint_choice_required"
    hint = texts(locale, hint_key, count=len(form.options_of(question)))
    tap_hint = None
    if question.type in ("rating", "choice"):
        tap_hint = texts(locale, "survey.tap_hint" if question.skippable else "survey.tap_hint_required")
    return Reply(
        text="\n".join(lines),
        options=tuple(options),
        hint=hint,
        thread=f"survey:{invitation_id}",
        heading=True,
        tap_hint=tap_hint,
    )
