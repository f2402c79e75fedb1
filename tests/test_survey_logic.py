"""The survey as pure logic: typed answers, visibility, navigation, the rendered question."""

from __future__ import annotations

import pytest

from handlers.citizen.survey import (
    Back,
    Chosen,
    NotUnderstood,
    Skip,
    fold,
    interpret,
    next_question,
    previous_question,
    progress,
    render_question,
    visible_questions,
)
from handlers.texts import Texts
from survey_forms.catalog import Catalog


def test_fold_drops_accents_case_and_d_stroke() -> None:
    assert fold("  Rất   HÀI LÒNG. ") == "rat hai long"
    assert fold("Đồng ý") == "dong y"
    assert fold("Bỏ qua!") == "bo qua"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("5", Chosen("5")),
        (" 1 ", Chosen("1")),
        ("Rất hài lòng", Chosen("5")),
        ("rat hai long", Chosen("5")),
        ("RẤT KHÔNG HÀI LÒNG", Chosen("1")),
        ("khong hai long", Chosen("2")),
        ("binh thuong", Chosen("3")),
        ("Very satisfied", Chosen("5")),
        ("0", Skip()),
        ("bỏ qua", Skip()),
        ("Bo qua", Skip()),
        ("quay lại", Back()),
        ("6", NotUnderstood()),
        ("4 5", NotUnderstood()),
        ("tuyệt vời", NotUnderstood()),
    ],
)
def test_typed_answers_to_a_rating(catalog: Catalog, typed: str, expected: object) -> None:
    form = catalog.get("sipas-2022")
    assert interpret(form, form.question("TC1"), typed) == expected


def test_typed_answers_to_a_choice_by_number_label_or_value(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    question = form.question("NN")
    assert interpret(form, question, "3") == Chosen("tu-do")
    assert interpret(form, question, "hoc sinh/sinh vien") == Chosen("hoc-sinh")
    assert interpret(form, question, "khu-vuc-cong") == Chosen("khu-vuc-cong")
    assert interpret(form, question, "8") == NotUnderstood()


def test_a_comment_is_any_text_and_can_still_be_skipped(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    question = form.question("YK")
    assert interpret(form, question, "Cán bộ rất nhiệt tình, cảm ơn!") == Chosen(None, "Cán bộ rất nhiệt tình, cảm ơn!")
    assert interpret(form, question, "5") == Chosen(None, "5")
    assert interpret(form, question, "bỏ qua") == Skip()
    assert interpret(form, question, "x" * 1001) == NotUnderstood("survey.too_long")


def test_show_if_hides_the_reason_unless_dissatisfied(catalog: Catalog) -> None:
    form = catalog.get("danh-gia-ho-so")
    assert [q.code for q in visible_questions(form, {})] == ["HL", "YK"]
    assert [q.code for q in visible_questions(form, {"HL": "5"})] == ["HL", "YK"]
    assert [q.code for q in visible_questions(form, {"HL": "2"})] == ["HL", "LYDO", "YK"]
    assert next_question(form, {"HL": "2"}, "HL") == form.question("LYDO")
    assert next_question(form, {"HL": "4"}, "HL") == form.question("YK")
    assert previous_question(form, {"HL": "4"}, "YK") == form.question("HL")
    assert next_question(form, {}, "YK") is None
    assert previous_question(form, {}, "HL") is None
    assert progress(form, {"HL": "2"}, "YK") == (3, 3)


def test_a_rendered_rating_question(catalog: Catalog, texts: Texts) -> None:
    form = catalog.get("sipas-2022")
    reply = render_question(form, form.question("TC3"), {}, texts, "vi", invitation_id=42)
    assert reply.text.startswith("Câu 3/33 · I. Tiếp cận dịch vụ")
    answers = [o for o in reply.options if o.value.startswith("a:")]
    assert [o.label for o in answers] == [
        "Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"
    ]  # fmt: skip
    assert [o.number for o in answers] == [1, 2, 3, 4, 5]
    assert [o.label for o in reply.options[5:]] == ["Bỏ qua", "Quay lại"]
    assert all(len(o.value.encode()) <= 64 for o in reply.options)
    assert reply.thread == "survey:42"
    assert reply.hint is not None
    assert "0" in reply.hint


def test_the_first_question_offers_no_back_and_a_required_one_no_skip(catalog: Catalog, texts: Texts) -> None:
    form = catalog.get("danh-gia-ho-so")
    reply = render_question(form, form.question("HL"), {}, texts, "en", invitation_id=1)
    assert [o.label for o in reply.options] == ["Dissatisfied", "Satisfied", "Very satisfied"]
    assert reply.text.startswith("Question 1/2")


@pytest.mark.parametrize("typed", ["²", "1²", "⑤", "9" * 5000, "1, " + "9" * 4400, "0" * 7 + "1"])
def test_digits_that_are_not_a_number_of_an_option_are_not_understood(catalog: Catalog, typed: str) -> None:
    # "²" passed str.isdigit() and then int() raised ValueError; 4300+ digits are past int()'s limit
    form = catalog.get("sipas-2022")
    for question in form.questions:
        if question.type in ("rating", "choice", "multi_choice"):
            assert interpret(form, question, typed) == NotUnderstood()


def test_digits_of_another_script_are_read_as_numbers(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    question = form.questions[0]
    assert interpret(form, question, "５") == interpret(form, question, "5") == Chosen("5")
