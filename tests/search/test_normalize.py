"""Query normalization: typos, formats, aliases and phrases (pure functions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.search.normalize import parse


def models(q: str) -> set[str]:
    return {m.model for m in parse(q).resolved.models}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("cesna 172", {"172 Skyhawk"}),
        ("Skyhawk", {"172 Skyhawk"}),
        ("PC12", {"PC-12/45", "PC-12 NG", "PC-12 NGX"}),
        ("pc 12 ngx", {"PC-12 NGX"}),
        ("citation 525B", {"Citation CJ3", "Citation CJ3+"}),
        ("G-VI", {"G650ER"}),
        ("beech baron", {"Baron 58", "Baron G58"}),
        ("king air 350", {"King Air 350"}),
    ],
)
def test_models(q, expected):
    assert models(q) == expected


@pytest.mark.parametrize(
    ("q", "field", "value"),
    [
        ("king air 350 under 3m", "price_max", Decimal(3_000_000)),
        ("sr22 below $450k", "price_max", Decimal(450_000)),
        ("g650 over 20 million", "price_min", Decimal(20_000_000)),
        ("tbm 940 from 2020", "year_min", 2020),
        ("bonanza before 1990", "year_max", 1990),
    ],
)
def test_phrases(q, field, value):
    parsed = parse(q)
    assert getattr(parsed, field) == value
    # The phrase is lifted out of the text, the model stays.
    assert not {"under", "below", "over", "from", "before"} & set(parsed.text.split())
    assert parsed.resolved.models


def test_manufacturer_only_and_free_words():
    parsed = parse("Cessna with floats")
    assert parsed.resolved.manufacturers == {"cessna"}
    assert parsed.resolved.rest == ("floats",)


def test_accents_and_case():
    assert models("FALCÓN 8X") == {"Falcon 8X"}
