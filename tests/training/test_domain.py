"""Training's pure rules, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from fitsync.training.domain import (
    Activity,
    Sex,
    bmr_katch_mcardle,
    bmr_mifflin_st_jeor,
    estimate_energy,
    macros_disagreement,
    progressed_load,
    search_terms,
    session_date,
    singular,
)


def test_search_terms_prefix_the_last_word() -> None:
    terms = search_terms("Bench  Pres")
    assert terms is not None
    assert terms.tsquery == "bench & pres:*"
    assert terms.compact == "benchpres"


def test_search_terms_fold_accents_expand_shorthand_and_drop_operators() -> None:
    terms = search_terms("DB Squät!!")
    assert terms is not None
    assert terms.text == "dumbbell squat"
    terms = search_terms("a & b | !c:*")
    assert terms is not None
    assert terms.tsquery == "a & b & c:*"
    assert search_terms("!!! ---") is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("squats", "squat"),
        ("crunches", "crunch"),
        ("press", "press"),
        ("pres", "pres"),
        ("curls", "curl"),
        ("biceps", "bicep"),
        ("dips", "dips"),
    ],
)
def test_singular(word: str, expected: str) -> None:
    assert singular(word) == expected


def test_mifflin_st_jeor_and_katch_mcardle() -> None:
    assert bmr_mifflin_st_jeor(sex=Sex.male, weight_kg=80, height_cm=180, age=30) == 1780
    assert bmr_mifflin_st_jeor(sex=Sex.female, weight_kg=60, height_cm=165, age=40) == 1270.25
    assert bmr_katch_mcardle(weight_kg=80, body_fat_pct=15) == pytest.approx(1838.8)


@pytest.mark.parametrize("goal", ["lose", "maintain", "gain"])
@pytest.mark.parametrize("activity", list(Activity))
def test_estimates_have_macros_that_agree(activity: Activity, goal: str) -> None:
    estimate = estimate_energy(
        sex=Sex.female, weight_kg=70, height_cm=170, age=35, activity=activity, goal=goal
    )
    assert (
        macros_disagreement(
            calories=estimate.calories,
            protein_g=estimate.protein_g,
            carbs_g=estimate.carbs_g,
            fat_g=estimate.fat_g,
        )
        is None
    )


def test_macros_within_five_percent() -> None:
    assert macros_disagreement(calories=2000, protein_g=150, carbs_g=200, fat_g=67) is None
    assert macros_disagreement(calories=2000, protein_g=150, carbs_g=300, fat_g=67) is not None


def test_session_dates() -> None:
    start = date(2026, 12, 7)
    assert session_date(start, week=1, day=1) == start
    assert session_date(start, week=2, day=3) == date(2026, 12, 16)


def test_progression() -> None:
    linear = {"type": "load_per_week", "increment_kg": 2.5}
    percent = {"type": "percent_per_week", "percent": 5}
    assert progressed_load(100, linear, week=1) == 100
    assert progressed_load(100, linear, week=4) == 107.5
    assert progressed_load(100, percent, week=3) == 110.25
    assert progressed_load(None, linear, week=3) is None
    assert progressed_load(100, {"type": "on_completion", "increment_kg": 2.5}, week=3) == 100
