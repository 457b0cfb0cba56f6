"""Training the valuation model: gradient boosting on log price with quantile losses (10 %, 50 %, 90 %),
measured on a held-out 20 % beside the baseline "median price of the same type within ±3 years".

A catalogue too small to learn from stores a `comparables_median` version instead: estimates then use
the median of the comparables with a low confidence (never a failure, never a made-up precision).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import pickle
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np

from app.analytics import features
from app.core import db

log = logging.getLogger("atp.analytics.training")

MIN_ROWS = 200  # below this a model would only memorise; comparables do better
QUANTILES = (0.1, 0.5, 0.9)
MODEL_KIND = "hist_gradient_boosting_quantile"
FALLBACK_KIND = "comparables_median"

TRAINING_SQL = """
SELECT id, manufacturer, model, year_manufactured, hours_total, location_country, specifications, status,
       created_at, updated_at, description ILIKE '%damage history:%' AS damage_history,
       analytics_to_usd(price, currency, (updated_at AT TIME ZONE 'UTC')::date) AS price_usd
FROM listings
WHERE status IN ('active', 'on_hold', 'under_contract', 'sold', 'expired') AND price > 0
"""


class Fitted(msgspec.Struct):
    """What a stored model version holds besides the estimators."""

    vocab: dict[str, dict[str, int]]
    levels: dict[str, Any]
    widen: float
    quantiles: tuple[float, ...]
    columns: tuple[str, ...]


def _decode_specs(rows: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        row = dict(r)
        specs = row.get("specifications")
        row["specifications"] = (
            msgspec.json.decode(specs) if isinstance(specs, str | bytes) else (specs or {})
        )
        out.append(row)
    return out


def baseline(train: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """The plain baseline: median USD price of the same type built within ±3 years (None when none)."""
    by_type: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in train:
        by_type[features.type_of(r)].append((r["year_manufactured"], float(r["price_usd"])))
    out = []
    for r in rows:
        near = [p for y, p in by_type.get(features.type_of(r), []) if abs(y - r["year_manufactured"]) <= 3]
        out.append(statistics.median(near) if near else None)
    return out


def _mdape(actual: Sequence[float], predicted: Sequence[float | None]) -> float:
    errors = [abs(p - a) / a for a, p in zip(actual, predicted, strict=True) if p is not None and a > 0]
    return float(statistics.median(errors)) if errors else float("nan")


def fit(
    rows: Sequence[Mapping[str, Any]], *, max_iter: int = 300, seed: int = 15, now: datetime | None = None
):
    """Fit on 80 %, measure on 20 %; returns (estimators, Fitted, metrics). CPU-bound: run in a thread."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    now = now or datetime.now(UTC)
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    cut = int(len(rows) * 0.8)
    train, test = rows[:cut], rows[cut:]
    vocab = features.vocabulary(train, now)
    stats = features.levels(train, now)
    x_train, x_test = features.matrix(train, vocab, now, stats), features.matrix(test, vocab, now, stats)
    # The model corrects the market level (same type, ±3 years): the target is the log ratio to it.
    base_train, base_test = features.base(train, stats, now), features.base(test, stats, now)
    y_train = np.log(np.array([float(r["price_usd"]) for r in train])) - base_train
    started = time.monotonic()
    estimators = []
    for q in QUANTILES:
        model = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=q,
            max_iter=max_iter,
            learning_rate=0.1,
            max_leaf_nodes=31,
            min_samples_leaf=10,
            categorical_features=features.CATEGORICAL_INDEXES,
            early_stopping=False,
            random_state=seed,
        )
        estimators.append(model.fit(x_train, y_train))
    fit_s = time.monotonic() - started
    actual = [float(r["price_usd"]) for r in test]
    low, mid, high = (np.exp(base_test + m.predict(x_test)) for m in estimators) if test else ([], [], [])
    base = baseline(train, test)
    answered = [i for i, b in enumerate(base) if b is not None]
    base_filled = [b if b is not None else p for b, p in zip(base, mid, strict=True)]
    # Conformal widening of the 10-90 % band (CQR): quantile fits under-cover on small data. The first
    # half of the held-out rows sets the widening; the second half measures the coverage it gives.
    half = len(test) // 2
    log_actual = np.log(np.array(actual)) if test else np.array([])
    scores = np.maximum(np.log(low[:half]) - log_actual[:half], log_actual[:half] - np.log(high[:half]))
    widen = float(max(0.0, np.quantile(scores, 0.8))) if half else 0.0
    low, high = low * np.exp(-widen), high * np.exp(widen)
    covered = sum(
        1 for a, lo, hi in zip(actual[half:], low[half:], high[half:], strict=True) if lo <= a <= hi
    )
    metrics = {
        "trainRows": len(train),
        "testRows": len(test),
        "mdape": round(_mdape(actual, list(mid)), 4),
        # On the rows the baseline can answer at all, so that both are measured on the same aircraft.
        "mdapeWhereBaseline": round(_mdape([actual[i] for i in answered], [mid[i] for i in answered]), 4),
        "baselineMdape": round(_mdape(actual, base), 4),
        "baselineMdapeFilled": round(_mdape(actual, base_filled), 4),
        "baselineCoverage": round(sum(1 for b in base if b is not None) / max(1, len(base)), 4),
        "bandCoverage": round(covered / max(1, len(test) - half), 4),
        "bandWidening": round(widen, 4),
        "fitSeconds": round(fit_s, 2),
        "maxIter": max_iter,
    }
    fitted = Fitted(vocab=vocab, levels=stats, widen=widen, quantiles=QUANTILES, columns=features.COLUMNS)
    return estimators, fitted, metrics


async def load_rows() -> list[dict[str, Any]]:
    rows = await db.fetch(TRAINING_SQL)
    return [r for r in _decode_specs(rows) if r["price_usd"] is not None]


async def train_and_store(*, max_iter: int = 300, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Train on the catalogue (or `rows`) and store a new version; tiny catalogues store the fallback."""
    if rows is None:
        rows = await load_rows()
    if len(rows) < MIN_ROWS:
        version = await _store(
            FALLBACK_KIND, len(rows), {"reason": f"{len(rows)} priced listings < {MIN_ROWS}"}
        )
        return {"version": version, "kind": FALLBACK_KIND, "rows": len(rows)}
    blob, metrics = await _fit_elsewhere(rows, max_iter)
    version = await _store(MODEL_KIND, len(rows), metrics, blob)
    log.info("valuation model %s trained on %d rows: %s", version, len(rows), metrics)
    return {"version": version, "kind": MODEL_KIND, "rows": len(rows), "metrics": metrics}


def _fit_and_pack(rows: list[dict[str, Any]], max_iter: int) -> tuple[bytes, dict[str, Any]]:
    estimators, fitted, metrics = fit(rows, max_iter=max_iter)
    return pickle.dumps({"estimators": estimators, "fitted": msgspec.to_builtins(fitted)}), metrics


async def _fit_elsewhere(rows: list[dict[str, Any]], max_iter: int) -> tuple[bytes, dict[str, Any]]:
    """Fit in a child process: building features for 100k rows holds the GIL for seconds, and the worker's
    event loop (hold expiry, outbox pumps) must not wait for it. ATP_VALUATION_FIT_IN_PROCESS=0 fits in a
    thread instead (where processes cannot be spawned)."""
    if os.environ.get("ATP_VALUATION_FIT_IN_PROCESS", "1") == "0":
        return await asyncio.to_thread(_fit_and_pack, rows, max_iter)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return await loop.run_in_executor(pool, _fit_and_pack, rows, max_iter)


async def _store(kind: str, rows: int, metrics: dict[str, Any], blob: bytes | None = None) -> int:
    digest = hashlib.sha256(blob).hexdigest() if blob else ""
    row = await db.fetchrow(
        """INSERT INTO valuation_models (kind, trained_at, rows, metrics, blob, sha256, active)
           VALUES ($1, now(), $2, $3::jsonb, $4, $5, true) RETURNING version""",
        kind,
        rows,
        msgspec.json.encode(metrics).decode(),
        blob,
        digest,
    )
    return row["version"]


def describe(result: Mapping[str, Any]) -> str:
    m = result.get("metrics") or {}
    text = f"valuation model v{result['version']} ({result['kind']}, {result['rows']:,} rows)"
    if m:
        text += (
            f": held-out MdAPE {m['mdapeWhereBaseline']:.1%} vs baseline {m['baselineMdape']:.1%}"
            f" (all held-out rows {m['mdape']:.1%})"
            f" (baseline answers {m['baselineCoverage']:.0%}); 10-90 % band holds {m['bandCoverage']:.0%};"
            f" fit {m['fitSeconds']}s"
        )
    return text
