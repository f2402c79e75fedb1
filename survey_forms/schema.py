"""The form file schema: forms, factors, questions, options and visibility rules (pydantic)."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,15}$"
VALUE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,15}$"
FORM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,31}$"
SHORT_MAX = 40  # a criterion's short label fits a line of a chat digest beside its figure
ELLIPSES = ("…", "...")

QuestionType = Literal["rating", "choice", "multi_choice", "text"]
Part = Literal["service", "overall", "priorities", "profile", "comment"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """A piece of wording in Vietnamese (required) and English (optional, falls back to Vietnamese)."""

    vi: str
    en: str | None = None

    @field_validator("vi", "en")
    @classmethod
    def _nfc_and_not_blank(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = unicodedata.normalize("NFC", value).strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    def get(self, locale: str) -> str:
        """The text in ``locale``, or the Vietnamese text when that locale has none."""
        if locale == "en" and self.en:
            return self.en
        return self.vi


class Option(_Model):
    """One answer a citizen can pick: a stable value and its label."""

    value: str = Field(pattern=VALUE_PATTERN)
    label: Text
    top: bool = False  # counts towards a priority index ("Rất nhiều", "Nhiều")


class ShowIf(_Model):
    """Show a question only when an earlier question was answered with one of ``in_``."""

    question: str
    in_: tuple[str, ...] = Field(alias="in", min_length=1)


class Factor(_Model):
    """A group of rated criteria whose indexes are averaged (docs/METHOD.md, the index method)."""

    code: str = Field(pattern=CODE_PATTERN)
    name: Text
    weight: float = Field(default=1.0, gt=0)


class Question(_Model):
    """One question of a form."""

    code: str = Field(pattern=CODE_PATTERN)
    type: QuestionType
    part: Part = "service"
    text: Text
    # a rated criterion's name in a few words, written for it (Vietnamese and English): how digests, reports and
    # workbooks name it where its whole statement does not fit, never the statement cut short
    short: Text | None = None
    factor: str | None = None
    scale: str | None = None
    options: tuple[Option, ...] = ()
    skippable: bool = True
    priority: bool = False
    show_if: ShowIf | None = None
    max_length: int = Field(default=1000, ge=1, le=4000)


class Scoring(_Model):
    """How ratings turn into indexes: the top boxes, the alarm boxes and the overall rule."""

    satisfied_min: int = Field(default=4, ge=1, le=5)
    alarm_max: int = Field(default=2, ge=1, le=5)
    overall: str = "factors"  # "factors": weighted mean of factor indexes; else a rating question's code


class Form(_Model):
    """A published questionnaire version. Its questions' codes are a stable API."""

    id: str = Field(pattern=FORM_ID_PATTERN)
    version: int = Field(ge=1)
    title: Text
    intro: Text
    outro: Text
    scales: dict[str, tuple[Option, ...]] = Field(default_factory=dict)
    factors: tuple[Factor, ...] = ()
    questions: tuple[Question, ...] = Field(min_length=1)
    scoring: Scoring = Scoring()
    # the sentence the printed form puts once above a part's items (the priorities' question, say); a chat
    # asks one item at a time, so it stands above each of them
    lead_ins: dict[Part, Text] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Form:
        problems = form_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def question(self, code: str) -> Question:
        """The question with ``code`` (KeyError when there is none)."""
        for question in self.questions:
            if question.code == code:
                return question
        raise KeyError(code)

    def options_of(self, question: Question) -> tuple[Option, ...]:
        """The options a question offers: its own, or its scale's."""
        if question.options:
            return question.options
        if question.scale is not None:
            return self.scales.get(question.scale, ())
        return ()

    def rating_questions(self) -> tuple[Question, ...]:
        """The rated criteria, in form order."""
        return tuple(q for q in self.questions if q.type == "rating")

    def has_conditions(self) -> bool:
        """Whether any question depends on an earlier answer (``show_if``)."""
        return any(q.show_if is not None for q in self.questions)

    def short_label(self, code: str, locale: str = "vi") -> str | None:
        """The short label of criterion ``code`` in ``locale``, if the form gives one."""
        question = next((q for q in self.questions if q.code == code), None)
        return None if question is None or question.short is None else question.short.get(locale)

    def factor_of(self, code: str) -> Factor | None:
        """The factor with ``code``, if the form has it."""
        return next((f for f in self.factors if f.code == code), None)


def _question_label(question: Question) -> str:
    return f"question {question.code}"


def short_problems(form: Form) -> list[str]:
    """The rules of the criteria's short labels.

    On rating questions only, on all of them or none, in Vietnamese and English, at most SHORT_MAX characters,
    written whole (no "…"), and no two criteria of the form alike.
    """
    problems: list[str] = []
    ratings = form.rating_questions()
    labelled = [q for q in form.questions if q.short is not None]
    for question in labelled:
        where = f"{_question_label(question)}: short"
        assert question.short is not None
        if question.type != "rating":
            problems.append(f"{where}: only a rated criterion has a short label")
            continue
        if not question.short.en:
            problems.append(f"{where}.en: missing (a short label is written in Vietnamese and English)")
        for locale, text in (("vi", question.short.vi), ("en", question.short.en)):
            if text is None:
                continue
            if len(text) > SHORT_MAX:
                problems.append(f"{where}.{locale}: {len(text)} characters, at most {SHORT_MAX}")
            if text.endswith(ELLIPSES) or "\n" in text:
                problems.append(f"{where}.{locale}: write the label whole, on one line, not cut with an ellipsis")
    if labelled and len([q for q in labelled if q.type == "rating"]) != len(ratings):
        missing = [q.code for q in ratings if q.short is None]
        problems.append(f"short: every rated criterion needs a short label once one has; missing for {missing}")
    seen: dict[str, str] = {}
    for question in ratings:
        if question.short is None:
            continue
        key = question.short.vi.casefold()
        if key in seen:
            problems.append(f"{_question_label(question)}: short: the same as {seen[key]}'s")
        seen[key] = question.code
    return problems


def form_problems(form: Form) -> list[str]:
    """Every rule the form breaks, each naming the question or factor concerned."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    factor_codes = [f.code for f in form.factors]
    for code in {c for c in factor_codes if factor_codes.count(c) > 1}:
        problems.append(f"factor {code}: duplicate code")
    for name, options in form.scales.items():
        if not options:
            problems.append(f"scale {name}: empty option list")
    used_factors: set[str] = set()
    for index, question in enumerate(form.questions):
        where = _question_label(question)
        if question.code in seen:
            problems.append(f"{where}: duplicate code (also question #{seen[question.code] + 1})")
            continue
        seen[question.code] = index
        if question.options and question.scale:
            problems.append(f"{where}: give either options or a scale, not both")
        if question.scale is not None and question.scale not in form.scales:
            problems.append(f"{where}: unknown scale {question.scale!r}")
        options = form.options_of(question)
        if question.type == "text":
            if options:
                problems.append(f"{where}: a text question has no options")
        elif not options:
            problems.append(f"{where}: empty option list")
        values = [o.value for o in options]
        for value in {v for v in values if values.count(v) > 1}:
            problems.append(f"{where}: duplicate option value {value!r}")
        if question.type == "rating":
            if any(not re.fullmatch(r"[1-5]", v) for v in values):
                problems.append(f"{where}: rating options must be coded 1 to 5")
            if question.factor is not None:
                if question.factor not in factor_codes:
                    problems.append(f"{where}: unknown factor {question.factor!r}")
                used_factors.add(question.factor)
        elif question.factor is not None:
            problems.append(f"{where}: only rating questions belong to a factor")
        if question.priority and (question.type != "choice" or not any(o.top for o in options)):
            problems.append(f"{where}: a priority question is a choice with at least one top option")
        if question.show_if is not None:
            target = question.show_if.question
            if target == question.code:
                problems.append(f"{where}: show_if points at itself")
            elif target not in seen:
                later = any(q.code == target for q in form.questions[index + 1 :])
                kind = "points forward to" if later else "points at unknown question"
                problems.append(f"{where}: show_if {kind} {target}")
            else:
                target_values = {o.value for o in form.options_of(form.questions[seen[target]])}
                unknown = [v for v in question.show_if.in_ if v not in target_values]
                if unknown:
                    problems.append(f"{where}: show_if uses values {unknown} that {target} does not offer")
    for part in form.lead_ins:
        if not any(q.part == part for q in form.questions):
            problems.append(f"lead_ins: no question of the form is in part {part!r}")
    for code in factor_codes:
        if code not in used_factors:
            problems.append(f"factor {code}: no question belongs to it")
    overall = form.scoring.overall
    if overall != "factors":
        if overall not in seen or form.questions[seen[overall]].type != "rating":
            problems.append(f"scoring: overall must be 'factors' or a rating question, not {overall!r}")
    elif not form.factors:
        problems.append("scoring: overall is 'factors' but the form has none")
    problems += short_problems(form)
    return problems
