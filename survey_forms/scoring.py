"""Satisfaction indexes as docs/METHOD.md, the index method defines them, from answer counts.

Criterion index = answers 4–5 ÷ answers 1–5 × 100 (a skip is not an answer). Factor index = mean
of the indexes of its criteria that have answers. Overall = (weighted, by default equal) mean of the
factor indexes that have answers. Every figure carries its ``n``; figures on fewer than
``MIN_N`` answers are suppressed ("chưa đủ dữ liệu"), never shown as numbers, and the overall index
is suppressed too whenever a factor is (else the hidden factor is 5 × overall − the other four).

Indexes are computed exactly (fractions of counts) and rounded once, half-up, to one decimal by
:func:`half_up`: the figure printed and the figure judged against a target are that one value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from survey_forms.schema import Form

MIN_N = 5
Z_95 = 1.959963984540054
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Interval:
    """A confidence interval, in percent."""

    low: float
    high: float


@dataclass(frozen=True)
class CriterionScore:
    """The figures of one rated criterion."""

    code: str
    factor: str | None
    counts: Mapping[int, int]
    n: int
    index: float | None
    mean: float | None
    alarm_rate: float | None
    ci95: Interval | None
    suppressed: bool
    exact: Fraction | None = None  # the index as an exact fraction, for rounding once


@dataclass(frozen=True)
class FactorScore:
    """The figures of one factor; ``n`` is the answers of its most-answered criterion."""

    code: str
    index: float | None
    n: int
    ci95: Interval | None
    suppressed: bool
    criteria: tuple[str, ...]
    exact: Fraction | None = None


@dataclass(frozen=True)
class OverallScore:
    """The overall index; ``n`` is the answers of its most-answered factor (or item)."""

    index: float | None
    n: int
    ci95: Interval | None
    suppressed: bool
    exact: Fraction | None = None


@dataclass(frozen=True)
class PriorityScore:
    """The share of "Rất nhiều" + "Nhiều" among the answers to one priority item."""

    code: str
    index: float | None
    n: int
    ci95: Interval | None
    suppressed: bool
    exact: Fraction | None = None


@dataclass(frozen=True)
class FormScore:
    """Every figure of one form over one set of answers."""

    overall: OverallScore
    factors: tuple[FactorScore, ...]
    criteria: tuple[CriterionScore, ...]
    priorities: tuple[PriorityScore, ...]


def _fraction(value: Fraction | float | int) -> Fraction:
    """A float by its shortest decimal form (so 84.95 is 8495/100), a fraction or an integer as it is."""
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def half_up(value: Fraction | float | int | None, places: int = 1) -> float | None:
    """``value`` rounded once, half-up, to ``places`` decimals (84.95 → 85.0, 84.9499 → 84.9); None stays None.

    Exact for fractions; a float is taken at its shortest decimal form. The one rounding of every
    published figure: the text, the JSON, the workbook, the page and the verdict use its result.
    """
    if value is None:
        return None
    scale = 10**places
    scaled = _fraction(value) * scale
    magnitude = math.floor(abs(scaled) + Fraction(1, 2))
    return float(Fraction(magnitude if scaled >= 0 else -magnitude, scale))


def percent_of(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, rounded once (None when there is nothing to divide)."""
    return half_up(Fraction(100 * part, whole)) if whole else None


def wilson(successes: int, n: int, z: float = Z_95) -> Interval | None:
    """The Wilson score interval of ``successes`` out of ``n``, in percent (None when n = 0)."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(low=max(0.0, centre - half) * 100, high=min(1.0, centre + half) * 100)


def _interval_at(index: float | None, n: int) -> Interval | None:
    """Wilson interval around a derived index, treating it as a proportion over ``n`` people."""
    if index is None or n <= 0:
        return None
    return wilson(round(index / 100 * n), n)


def criterion_score(
    code: str,
    counts: Mapping[int, int],
    factor: str | None = None,
    satisfied_min: int = 4,
    alarm_max: int = 2,
) -> CriterionScore:
    """Index, mean, alarm rate and interval of one criterion from its counts per score 1–5."""
    clean = {score: int(counts.get(score, 0)) for score in SCORES}
    n = sum(clean.values())
    if n == 0:
        return CriterionScore(code, factor, clean, 0, None, None, None, None, True)
    satisfied = sum(c for s, c in clean.items() if s >= satisfied_min)
    alarmed = sum(c for s, c in clean.items() if s <= alarm_max)
    exact = Fraction(100 * satisfied, n)
    return CriterionScore(
        code=code,
        factor=factor,
        counts=clean,
        n=n,
        index=float(exact),
        mean=float(Fraction(sum(s * c for s, c in clean.items()), n)),
        alarm_rate=float(Fraction(100 * alarmed, n)),
        ci95=wilson(satisfied, n),
        suppressed=n < MIN_N,
        exact=exact,
    )


def factor_score(code: str, criteria: Iterable[CriterionScore]) -> FactorScore:
    """Mean of the indexes of the factor's criteria that have answers."""
    members = tuple(criteria)
    answered = [c for c in members if c.index is not None]
    n = max((c.n for c in answered), default=0)
    exact = sum((_exact(c.exact, c.index) for c in answered), Fraction(0)) / len(answered) if answered else None
    index = None if exact is None else float(exact)
    return FactorScore(
        code=code,
        index=index,
        n=n,
        ci95=_interval_at(index, n),
        suppressed=n < MIN_N,
        criteria=tuple(c.code for c in members),
        exact=exact,
    )


def _exact(exact: Fraction | None, index: float | None) -> Fraction:
    """A figure's exact value: as computed, else its float index taken at its decimal form."""
    if exact is not None:
        return exact
    assert index is not None
    return _fraction(index)


def overall_from_factors(factors: Iterable[FactorScore], weights: Mapping[str, float] | None = None) -> OverallScore:
    """Weighted mean (equal weights by default) of the factor indexes that have answers.

    Suppressed whenever any factor is (fewer than MIN_N answers, or none): the overall index would
    otherwise give the hidden factor away (5 × overall − the other four).
    """
    members = tuple(factors)
    answered = [f for f in members if f.index is not None]
    n = max((f.n for f in answered), default=0)
    if not answered:
        return OverallScore(None, 0, None, True)
    weight = {f.code: _fraction((weights or {}).get(f.code, 1.0)) for f in answered}
    total = sum(weight.values(), Fraction(0))
    exact = sum((_exact(f.exact, f.index) * weight[f.code] for f in answered), Fraction(0)) / total
    index = float(exact)
    suppressed = n < MIN_N or any(f.suppressed for f in members)
    return OverallScore(index=index, n=n, ci95=_interval_at(index, n), suppressed=suppressed, exact=exact)


def priority_score(code: str, counts: Mapping[str, int], top_values: Iterable[str]) -> PriorityScore:
    """Share of the top options ("Rất nhiều", "Nhiều") among the answers to one priority item."""
    tops = set(top_values)
    n = sum(counts.values())
    if n == 0:
        return PriorityScore(code, None, 0, None, True)
    top = sum(c for v, c in counts.items() if v in tops)
    exact = Fraction(100 * top, n)
    return PriorityScore(code, float(exact), n, wilson(top, n), n < MIN_N, exact)


def _rating_counts(counts: Mapping[str, int]) -> dict[int, int]:
    result: dict[int, int] = {}
    for value, count in counts.items():
        if value.isdigit() and 1 <= int(value) <= 5:
            result[int(value)] = result.get(int(value), 0) + count
    return result


def score_form(form: Form, counts: Mapping[str, Mapping[str, int]]) -> FormScore:
    """Every figure of ``form`` from answer counts per question code and value."""
    rules = form.scoring
    criteria = tuple(
        criterion_score(
            q.code,
            _rating_counts(counts.get(q.code, {})),
            q.factor,
            rules.satisfied_min,
            rules.alarm_max,
        )
        for q in form.rating_questions()
    )
    factors = tuple(factor_score(f.code, (c for c in criteria if c.factor == f.code)) for f in form.factors)
    if rules.overall == "factors":
        overall = overall_from_factors(factors, {f.code: f.weight for f in form.factors})
    else:
        item = next(c for c in criteria if c.code == rules.overall)
        overall = OverallScore(item.index, item.n, item.ci95, item.suppressed, item.exact)
    priorities = tuple(
        priority_score(q.code, counts.get(q.code, {}), (o.value for o in form.options_of(q) if o.top))
        for q in form.questions
        if q.priority
    )
    return FormScore(overall=overall, factors=factors, criteria=criteria, priorities=priorities)
