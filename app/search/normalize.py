"""Free text → words plus the structured filters hidden in it ("under 3m", "after 2010") (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from app.search.aliases import Resolved, fold, resolve

_MULTIPLIERS = {"": 1, "k": 1_000, "m": 1_000_000, "mm": 1_000_000, "million": 1_000_000, "mil": 1_000_000}
_AMOUNT = r"\$?\s*(\d+(?:[.,]\d+)?)\s*(k|mm|m|million|mil)?\b"
_PRICE_MAX = re.compile(rf"\b(?:under|below|less than|max|up to|<)\s*{_AMOUNT}")
_PRICE_MIN = re.compile(rf"\b(?:over|above|more than|min|from|>)\s*{_AMOUNT}")
_YEAR_MIN = re.compile(r"\b(?:after|since|newer than|from)\s+((?:19|20)\d\d)\b")
_YEAR_MAX = re.compile(r"\b(?:before|older than|until)\s+((?:19|20)\d\d)\b")
# Words that carry no meaning in an aircraft search once phrases are taken out.
_STOPWORDS = frozenset({"a", "an", "the", "for", "sale", "with", "and", "in", "of", "aircraft", "plane"})
_WORD = re.compile(r"[a-z0-9]+(?:[-/+.][a-z0-9]+)*\+?")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A normalized query: free-text words, catalogue matches and phrase filters."""

    text: str
    resolved: Resolved
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    year_min: int | None = None
    year_max: int | None = None

    @property
    def words(self) -> tuple[str, ...]:
        return self.resolved.words


def _amount(number: str, unit: str | None) -> Decimal:
    value = Decimal(number.replace(",", "."))
    return (value * _MULTIPLIERS[unit or ""]).quantize(Decimal("1"))


def parse(q: str) -> ParsedQuery:
    """Fold case and accents, lift price/year phrases out, split and resolve the rest."""
    text = fold(q)
    found: dict[str, object] = {}
    # Years first: "from 2010" is a year, not a price of $2,010.
    for key, pattern in (("year_min", _YEAR_MIN), ("year_max", _YEAR_MAX)):
        if match := pattern.search(text):
            found[key] = int(match.group(1))
            text = text.replace(match.group(0), " ")
    for key, pattern in (("price_max", _PRICE_MAX), ("price_min", _PRICE_MIN)):
        if match := pattern.search(text):
            found[key] = _amount(match.group(1), match.group(2))
            text = text.replace(match.group(0), " ")
    words = [w for w in _WORD.findall(text) if w not in _STOPWORDS]
    resolved = resolve(words)
    return ParsedQuery(text=" ".join(resolved.words), resolved=resolved, **found)  # type: ignore[arg-type]
