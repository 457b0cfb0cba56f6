"""Valuation features: pure functions from listing-shaped rows to a numeric matrix (no I/O).

Categorical values (manufacturer, type, category, engine type, avionics suite, country) become codes from
a vocabulary learned at training time (the 250 most frequent values; anything else is "missing", which
gradient boosting handles natively). The type is keyed by manufacturer *and* model, so "Citation" under
two makers never merges.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

MAX_CODES = 250  # HistGradientBoosting takes at most 255 categories per feature
CATEGORICAL = ("maker", "type", "category", "engine_type", "avionics", "country")
NUMERIC = (
    "year",
    "age",
    "log_hours",
    "hours_per_year",
    "engine_hours",
    "passengers",
    "range_nm",
    "speed_kts",
    "useful_load_lbs",
    "days_on_market",
    "sold",
    "damage_history",
    "level",
    "type_level",
    "hours_rel",
)
COLUMNS = CATEGORICAL + NUMERIC
CATEGORICAL_INDEXES = list(range(len(CATEGORICAL)))


def key(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def type_of(row: Mapping[str, Any]) -> str:
    return f"{key(row.get('manufacturer'))}|{key(row.get('model'))}"


def _raw(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    specs = row.get("specifications") or {}
    avionics = specs.get("avionics") or []
    created = row.get("created_at") or now
    ended = row.get("updated_at") if row.get("status") == "sold" else now
    listed_year = created.year
    year = int(row["year_manufactured"])
    age = max(0.0, listed_year - year + 0.5)
    hours = max(0, int(row.get("hours_total") or 0))
    return {
        "maker": key(row.get("manufacturer")),
        "type": type_of(row),
        "category": key(specs.get("category")),
        "engine_type": key(specs.get("engineType")),
        "avionics": key(avionics[0]) if avionics else "",
        "country": key(row.get("location_country")),
        "year": year,
        "age": age,
        "log_hours": math.log1p(hours),
        "hours_per_year": hours / max(age, 1.0),
        "engine_hours": specs.get("engineHours"),
        "passengers": specs.get("maxPassengers"),
        "range_nm": specs.get("maxRangeNm"),
        "speed_kts": specs.get("maxSpeedKts"),
        "useful_load_lbs": specs.get("usefulLoadLbs"),
        "days_on_market": max(0.0, ((ended or now) - created).total_seconds() / 86400),
        "sold": 1.0 if row.get("status") == "sold" else 0.0,
        "damage_history": _damage(row),
        "level": None,
        "type_level": None,
        "hours_rel": None,
    }


def _damage(row: Mapping[str, Any]) -> float | None:
    """1 when the listing declares a damage history, 0 when it declares none, unknown otherwise."""
    if row.get("damage_history") is not None:
        return 1.0 if row["damage_history"] else 0.0
    text = (row.get("description") or "").lower()
    if "no damage history" in text:
        return 0.0
    return 1.0 if "damage history" in text else None


WINDOW = 3  # build years either side, as the baseline


def levels(rows: Sequence[Mapping[str, Any]], now: datetime | None = None) -> dict[str, Any]:
    """Market levels learned from training rows: per type and build year, the median log price of the
    same type within ±3 years (the baseline, as a feature and as the base the model corrects); per type,
    its median log price and typical hours per year of age."""
    now = now or datetime.now(UTC)
    by_type: dict[str, list[tuple[int, float, float]]] = {}
    for row in rows:
        raw = _raw(row, now)
        by_type.setdefault(raw["type"], []).append(
            (
                raw["year"],
                math.log(float(row["price_usd"])),
                math.expm1(raw["log_hours"]) / max(raw["age"], 1.0),
            )
        )
    window: dict[str, dict[str, float]] = {}
    type_level: dict[str, float] = {}
    rate: dict[str, float] = {}
    for name, items in by_type.items():
        years = np.array([i[0] for i in items])
        prices = np.array([i[1] for i in items])
        type_level[name] = float(np.median(prices))
        rate[name] = float(np.median([i[2] for i in items]))
        window[name] = {
            str(y): float(np.median(prices[np.abs(years - y) <= WINDOW]))
            for y in range(int(years.min()) - WINDOW, int(years.max()) + WINDOW + 1)
            if np.any(np.abs(years - y) <= WINDOW)
        }
    every = [p for items in by_type.values() for _, p, _ in items]
    return {
        "window": window,
        "type": type_level,
        "rate": rate,
        "global": float(np.median(every)) if every else 0.0,
    }


def _with_levels(raw: dict[str, Any], stats: Mapping[str, Any]) -> dict[str, Any]:
    name = raw["type"]
    raw["level"] = stats["window"].get(name, {}).get(str(raw["year"]))
    raw["type_level"] = stats["type"].get(name)
    typical = stats["rate"].get(name)
    if typical is not None:
        hours = math.expm1(raw["log_hours"])
        raw["hours_rel"] = math.log((hours + 300) / (typical * raw["age"] + 300))
    return raw


def base(
    rows: Sequence[Mapping[str, Any]], stats: Mapping[str, Any], now: datetime | None = None
) -> np.ndarray:
    """The log price the model corrects: the ±3-year level, else the type's, else the market's."""
    now = now or datetime.now(UTC)
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        raw = _with_levels(_raw(row, now), stats)
        out[i] = next(v for v in (raw["level"], raw["type_level"], stats["global"]) if v is not None)
    return out


def vocabulary(rows: Iterable[Mapping[str, Any]], now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Codes for the most frequent values of each categorical feature."""
    now = now or datetime.now(UTC)
    counters = {name: Counter() for name in CATEGORICAL}
    for row in rows:
        raw = _raw(row, now)
        for name in CATEGORICAL:
            if raw[name]:
                counters[name][raw[name]] += 1
    return {
        name: {value: code for code, (value, _) in enumerate(counter.most_common(MAX_CODES))}
        for name, counter in counters.items()
    }


def matrix(
    rows: Sequence[Mapping[str, Any]],
    vocab: Mapping[str, Mapping[str, int]],
    now: datetime | None = None,
    stats: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """The feature matrix of `rows` (one row each, COLUMNS order; NaN where unknown)."""
    now = now or datetime.now(UTC)
    out = np.full((len(rows), len(COLUMNS)), np.nan, dtype=np.float64)
    for i, row in enumerate(rows):
        raw = _raw(row, now)
        if stats is not None:
            raw = _with_levels(raw, stats)
        for j, name in enumerate(COLUMNS):
            value = raw[name]
            if name in vocab:
                code = vocab[name].get(value)
                if code is not None:
                    out[i, j] = code
            elif value is not None:
                out[i, j] = float(value)
    return out
