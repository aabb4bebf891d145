"""Training's pure rules: search terms, energy targets, macros, plan dates, progression.

No I/O here; unit-tested without a database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

# ---------------------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------------------

# Gym-floor shorthand → the words the library uses. Applied to whole query words.
SYNONYMS = {
    "db": "dumbbell",
    "dbs": "dumbbell",
    "bb": "barbell",
    "kb": "kettlebell",
    "kbs": "kettlebell",
    "ez": "ez bar",
    "abs": "abdominals",
    "ab": "abdominals",
    "quads": "quadriceps",
    "quad": "quadriceps",
    "hams": "hamstrings",
    "pecs": "chest",
    "pec": "chest",
    "delts": "shoulders",
    "delt": "shoulders",
    "tris": "triceps",
    "bis": "biceps",
    "traps": "traps",
    "glute": "glutes",
    "ohp": "overhead press",
    "rdl": "romanian deadlift",
    "rdls": "romanian deadlift",
}
MAX_QUERY_WORDS = 8
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchTerms:
    """What the search query needs, derived from the user's ``q``.

    ``text``: the normalised words (for trigram similarity); ``tsquery``: the words
    AND-ed, the last one as a prefix (search-as-you-type), for ``to_tsquery('english', …)``;
    ``compact``: the words glued together, to match "benchpress" against "bench press".
    Only ``[a-z0-9]`` reaches the SQL text of a tsquery, so no operator can be injected.
    """

    text: str
    tsquery: str
    compact: str
    words: tuple[str, ...] = ()

    @property
    def contains_pattern(self) -> str | None:
        """``LIKE`` pattern on the glued terms; None when too short for a trigram index."""
        return f"%{self.compact}%" if len(self.compact) >= 3 else None


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def singular(word: str) -> str:
    """A light English singular for words of 5+ letters ("squats", "crunches", "curls").

    Shorter words are kept: they are often a prefix being typed ("pres" → press).
    """
    if len(word) < 5 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def search_terms(q: str) -> SearchTerms | None:
    """Parse a free-text query; None when it holds no searchable word."""
    words: list[str] = []
    for word in _WORD.findall(_fold(q))[:MAX_QUERY_WORDS]:
        words.extend(singular(w) for w in SYNONYMS.get(word, word).split())
    if not words:
        return None
    tsquery = " & ".join([*words[:-1], f"{words[-1]}:*"])
    return SearchTerms(
        text=" ".join(words), tsquery=tsquery, compact="".join(words), words=tuple(words)
    )


# ---------------------------------------------------------------------------------------
# Energy (diet plans)
# ---------------------------------------------------------------------------------------


class Sex(StrEnum):
    female = "female"
    male = "male"


class Activity(StrEnum):
    """Activity levels and their multipliers of the resting rate (TDEE = BMR x factor)."""

    sedentary = "sedentary"  # desk job, little exercise
    light = "light"  # exercise 1-3 days a week
    moderate = "moderate"  # 3-5 days
    active = "active"  # 6-7 days
    very_active = "very_active"  # hard daily training or a physical job

    @property
    def factor(self) -> float:
        return _ACTIVITY_FACTORS[self]


_ACTIVITY_FACTORS = {
    Activity.sedentary: 1.2,
    Activity.light: 1.375,
    Activity.moderate: 1.55,
    Activity.active: 1.725,
    Activity.very_active: 1.9,
}
KCAL_PER_G = {"protein": 4, "carbs": 4, "fat": 9}
MACRO_TOLERANCE = 0.05


def bmr_mifflin_st_jeor(*, sex: Sex, weight_kg: float, height_cm: float, age: int) -> float:
    """Mifflin-St Jeor (1990): 10·kg + 6.25·cm - 5·age + 5 (men) or - 161 (women)."""
    return 10 * weight_kg + 6.25 * height_cm - 5 * age + (5 if sex is Sex.male else -161)


def bmr_katch_mcardle(*, weight_kg: float, body_fat_pct: float) -> float:
    """Katch-McArdle: 370 + 21.6 · lean body mass (kg); needs the body-fat percentage."""
    return 370 + 21.6 * weight_kg * (1 - body_fat_pct / 100)


@dataclass(frozen=True)
class EnergyEstimate:
    method: str
    bmr: int
    tdee: int
    calories: int
    protein_g: int
    carbs_g: int
    fat_g: int


GOAL_ADJUSTMENT = {"lose": -0.20, "maintain": 0.0, "gain": 0.10}


def estimate_energy(
    *,
    sex: Sex,
    weight_kg: float,
    height_cm: float,
    age: int,
    activity: Activity,
    body_fat_pct: float | None = None,
    goal: str = "maintain",
) -> EnergyEstimate:
    """A starting point a trainer may override: BMR → TDEE → goal calories → macros.

    Katch-McArdle when the body fat is known (it uses lean mass), Mifflin-St Jeor
    otherwise. Goal: -20 % to lose, +10 % to gain. Macros: protein 2 g per kg of body
    weight (2.2 when losing, to keep muscle), fat 25 % of the calories, carbohydrates
    the rest.
    """
    if body_fat_pct is not None:
        method, bmr = (
            "katch_mcardle",
            bmr_katch_mcardle(weight_kg=weight_kg, body_fat_pct=body_fat_pct),
        )
    else:
        method, bmr = (
            "mifflin_st_jeor",
            bmr_mifflin_st_jeor(sex=sex, weight_kg=weight_kg, height_cm=height_cm, age=age),
        )
    tdee = bmr * activity.factor
    calories = round(tdee * (1 + GOAL_ADJUSTMENT[goal]))
    protein_g = round(weight_kg * (2.2 if goal == "lose" else 2.0))
    fat_g = round(calories * 0.25 / KCAL_PER_G["fat"])
    carbs_g = max(
        0, round((calories - protein_g * KCAL_PER_G["protein"] - fat_g * KCAL_PER_G["fat"]) / 4)
    )
    return EnergyEstimate(
        method=method,
        bmr=round(bmr),
        tdee=round(tdee),
        calories=calories,
        protein_g=protein_g,
        carbs_g=carbs_g,
        fat_g=fat_g,
    )


def macro_calories(*, protein_g: int, carbs_g: int, fat_g: int) -> int:
    return (
        protein_g * KCAL_PER_G["protein"]
        + carbs_g * KCAL_PER_G["carbs"]
        + fat_g * KCAL_PER_G["fat"]
    )


def macros_disagreement(*, calories: int, protein_g: int, carbs_g: int, fat_g: int) -> str | None:
    """Why the macros do not add up to the calories (beyond 5 %), or None if they do."""
    derived = macro_calories(protein_g=protein_g, carbs_g=carbs_g, fat_g=fat_g)
    if abs(derived - calories) <= MACRO_TOLERANCE * calories:
        return None
    return (
        f"the macros add up to {derived} kcal (4·protein + 4·carbs + 9·fat), which differs from"
        f" the stated {calories} kcal by more than {MACRO_TOLERANCE:.0%}"
    )


# ---------------------------------------------------------------------------------------
# Programs and plans
# ---------------------------------------------------------------------------------------


def session_date(start: date, *, week: int, day: int) -> date:
    """Day ``day`` (1-7) of week ``week`` (1-based) of a program that starts on ``start``."""
    return start + timedelta(days=(week - 1) * 7 + (day - 1))


def end_date(start: date, *, duration_weeks: int) -> date:
    return start + timedelta(days=duration_weeks * 7 - 1)


def progressed_load(
    load_kg: float | None, progression: dict[str, Any] | None, *, week: int
) -> float | None:
    """The planned load of week ``week`` under a per-week progression rule.

    ``{"type": "load_per_week", "increment_kg": 2.5}`` adds a fixed amount each week;
    ``{"type": "percent_per_week", "percent": 5}`` compounds a percentage. Loads are
    rounded to 0.25 kg (the smallest common plate pair). Rules that depend on what the
    client completed (``on_completion``) are applied from the client's logs and leave
    the planned load unchanged here.
    """
    if load_kg is None or not progression or week <= 1:
        return load_kg
    kind = progression.get("type")
    if kind == "load_per_week":
        value = load_kg + float(progression.get("increment_kg", 0)) * (week - 1)
    elif kind == "percent_per_week":
        value = load_kg * (1 + float(progression.get("percent", 0)) / 100) ** (week - 1)
    else:
        return load_kg
    return round(value * 4) / 4
