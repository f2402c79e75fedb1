"""The index method of docs/METHOD.md, the index method, including its worked example."""

from __future__ import annotations

from fractions import Fraction

import pytest

from survey_forms.catalog import Catalog
from survey_forms.scoring import (
    MIN_N,
    FactorScore,
    criterion_score,
    factor_score,
    half_up,
    overall_from_factors,
    percent_of,
    priority_score,
    score_form,
    wilson,
)


def counts(*answers: int) -> dict[int, int]:
    result: dict[int, int] = {}
    for answer in answers:
        result[answer] = result.get(answer, 0) + 1
    return result


def test_the_worked_example_of_domain_section_4() -> None:
    first = criterion_score("A1", counts(5, 4, 4, 3), "A")
    second = criterion_score("A2", counts(4, 4, 2, 1), "A")
    assert first.index == 75
    assert second.index == 50
    factor = factor_score("A", [first, second])
    assert factor.index == 62.5
    others = [
        FactorScore(code, index, 10, None, False, ()) for code, index in zip("BCDE", (80, 90, 100, 70), strict=True)
    ]
    assert overall_from_factors([factor, *others]).index == 80.5


def test_criterion_index_is_the_top_two_boxes_over_all_answers() -> None:
    score = criterion_score("X", counts(1, 2, 3, 4, 5, 5))
    assert score.n == 6
    assert score.index == pytest.approx(50.0)
    assert score.mean == pytest.approx(20 / 6)
    assert score.alarm_rate == pytest.approx(100 / 3)


def test_a_criterion_without_answers_has_no_index_and_is_left_out_of_its_factor() -> None:
    empty = criterion_score("A3", {})
    assert (empty.index, empty.n, empty.suppressed) == (None, 0, True)
    answered = criterion_score("A1", counts(5, 5, 5, 5, 1))
    assert factor_score("A", [answered, empty]).index == 80
    assert factor_score("A", [empty]).index is None


def test_overall_leaves_out_factors_without_answers_and_honours_weights() -> None:
    factors = [
        FactorScore("A", 60.0, 9, None, False, ()),
        FactorScore("B", None, 0, None, True, ()),
        FactorScore("C", 90.0, 9, None, False, ()),
    ]
    assert overall_from_factors(factors).index == 75
    assert overall_from_factors(factors, {"A": 2.0, "C": 1.0}).index == 70


def test_figures_on_fewer_than_five_answers_are_suppressed() -> None:
    assert MIN_N == 5
    assert criterion_score("X", counts(5, 5, 5, 5)).suppressed
    assert not criterion_score("X", counts(5, 5, 5, 5, 5)).suppressed


def test_wilson_interval_matches_published_values() -> None:
    interval = wilson(8, 10)
    assert interval is not None
    assert interval.low == pytest.approx(49.02, abs=0.01)
    assert interval.high == pytest.approx(94.33, abs=0.01)
    full = wilson(5, 5)
    assert full is not None
    assert full.high == 100
    assert full.low == pytest.approx(56.55, abs=0.01)
    assert wilson(0, 0) is None


def test_priority_index_is_the_share_of_very_much_and_much() -> None:
    score = priority_score("UT1", {"rat-nhieu": 3, "nhieu": 1, "it": 4}, ["rat-nhieu", "nhieu"])
    assert score.index == 50
    assert score.n == 8


def test_score_form_on_sipas_2022(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    answers: dict[str, dict[str, int]] = {q.code: {"4": 3, "2": 2} for q in form.rating_questions()}
    answers["TC1"] = {"5": 5}
    answers["UT1"] = {"rat-nhieu": 5}
    score = score_form(form, answers)
    tc = next(f for f in score.factors if f.code == "TC")
    assert tc.index == pytest.approx((100 + 60 + 60 + 60) / 4)
    assert score.overall.index == pytest.approx((70 + 60 + 60 + 60 + 60) / 5)
    assert score.overall.n == 5
    assert score.priorities[0].index == 100


def test_the_dossier_rating_scores_its_three_levels_on_the_sipas_scale(catalog: Catalog) -> None:
    form = catalog.get("danh-gia-ho-so")
    score = score_form(form, {"HL": {"2": 1, "4": 3, "5": 2}})
    assert score.overall.index == pytest.approx(500 / 6)
    assert score.criteria[0].alarm_rate == pytest.approx(100 / 6)


def test_the_overall_is_suppressed_whenever_a_factor_is() -> None:
    """Else the hidden factor is 5 × overall − the other four (docs/METHOD.md, the index method)."""
    shown = [FactorScore(code, 80.0, 9, None, False, ()) for code in "ABCD"]
    hidden = FactorScore("E", 50.0, 2, None, True, ())
    overall = overall_from_factors([*shown, hidden])
    assert overall.suppressed
    assert overall.n == 9
    unanswered = FactorScore("E", None, 0, None, True, ())
    assert overall_from_factors([*shown, unanswered]).suppressed
    assert not overall_from_factors(shown).suppressed


def test_rounding_is_once_half_up_from_the_exact_value() -> None:
    assert half_up(Fraction(8495, 100)) == 85.0  # a tie goes up
    assert half_up(Fraction(849499, 10000)) == 84.9  # never 84.95 first, then 85.0
    assert half_up(Fraction(1784, 21)) == 85.0
    assert half_up(80.25) == 80.3  # a float at its decimal form, not its binary one
    assert half_up(Fraction(2, 3), 2) == 0.67
    assert half_up(None) is None
    assert percent_of(2, 3) == 66.7
    assert percent_of(0, 0) is None


def test_indexes_keep_their_exact_value(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    answers: dict[str, dict[str, int]] = {q.code: {"5": 7} for q in form.rating_questions()}
    for code in ("CC1", "KQ1"):
        answers[code] = {"5": 4, "3": 3}
    answers["PA1"] = {"3": 7}
    answers["PA2"] = {"5": 3, "3": 4}
    overall = score_form(form, answers).overall
    assert overall.exact == Fraction(1784, 21)
    assert half_up(overall.exact) == 85.0
