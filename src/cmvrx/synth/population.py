"""Who the synthetic people are: age, sex, weight, height, creatinine and blood counts
drawn from the shapes in ``population.toml`` (test variety, not a real cohort and not a
clinical rule).
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any


@cache
def parameters() -> dict[str, Any]:
    """The parsed ``population.toml``."""
    text = resources.files("cmvrx.synth").joinpath("population.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True, slots=True)
class Person:
    sex: str  # "male" | "female"
    age_years: int
    weight_kg: float
    height_cm: float
    creatinine_mg_dl: float
    child: bool

    def birth_date(self, as_of: datetime, day_of_year: int) -> str:
        """A birth date making the person ``age_years`` old on ``as_of``."""
        year = as_of.year - self.age_years - 1
        born = date.fromordinal(date(year, 1, 1).toordinal() + day_of_year % 365)
        if _age(born, as_of.date()) != self.age_years:
            born = date(as_of.year - self.age_years - 1, as_of.month, 1)
            if _age(born, as_of.date()) != self.age_years:
                born = date(as_of.year - self.age_years, 1, 1)
        return born.isoformat()


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def draw_person(rng: random.Random, child: bool, impaired: bool = False) -> Person:
    p = parameters()
    sex = "female" if rng.random() < p["mix"]["female"] else "male"
    if child:
        c = p["child"]
        age = rng.randint(c["age_min"], c["age_max"])
        years = age - c["age_min"]
        weight = (c["weight_kg_at_2"] + c["weight_kg_per_year"] * years) * rng.uniform(0.85, 1.15)
        height = (c["height_cm_at_2"] + c["height_cm_per_year"] * years) * rng.uniform(0.95, 1.05)
        creat = (c["creatinine_mg_dl_at_2"] + c["creatinine_mg_dl_per_year"] * years) * (
            rng.uniform(0.9, 1.15)
        )
        return Person(sex, age, round(weight, 1), round(height), round(creat, 2), True)
    a = p["adult"]
    age = round(rng.triangular(a["age_min"], a["age_max"], a["age_mode"]))
    weight = rng.gauss(a["weight_kg_mean"][sex], a["weight_kg_sd"])
    weight = min(max(weight, a["weight_kg_min"]), a["weight_kg_max"])
    height = rng.gauss(a["height_cm_mean"][sex], a["height_cm_sd"])
    if impaired:
        low, high = p["treated"]["impaired_creatinine_mg_dl"]
        creat = rng.uniform(low, high)
    else:
        creat = a["creatinine_mg_dl_median"] * math.exp(rng.gauss(0.0, a["creatinine_log_sd"]))
        creat = min(max(creat, a["creatinine_mg_dl_min"]), a["creatinine_mg_dl_max"])
    return Person(sex, age, round(weight, 1), round(height), round(creat, 2), False)


def uniform(rng: random.Random, key: str, digits: int = 1) -> float:
    """A draw from the ``[labs]`` range ``key``."""
    low, high = parameters()["labs"][key]
    return round(rng.uniform(low, high), digits)


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = sorted(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]
