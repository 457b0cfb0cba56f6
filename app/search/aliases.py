"""What buyers type → catalogue models: aliases, formats, manufacturer nicknames and typos (pure)."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass

from db.fixtures.catalogue import MODELS

# Names the trade uses for a manufacturer that the catalogue files under another name.
MANUFACTURER_ALIASES: dict[str, str] = {
    "beech": "beechcraft",
    "raytheon": "beechcraft",
    "lear": "learjet",
    "agusta": "leonardo",
    "agustawestland": "leonardo",
    "eurocopter": "airbus",
    "socata": "daher",
    "quest": "daher",
    "honda": "honda aircraft",
    "hondajet": "honda aircraft",
    "epic": "epic aircraft",
    "gulfstream aerospace": "gulfstream",
}

# Kinds of aircraft people type instead of a model: each names every catalogue model of that kind.
# "jet" must find the jets, not the Bell 505 *Jet* Ranger (whose full name still matches first).
CATEGORY_WORDS: dict[str, tuple[str, str]] = {
    # word (compacted) → ("category" | "engine", value)
    "jet": ("engine", "jet"),
    "jets": ("engine", "jet"),
    "bizjet": ("engine", "jet"),
    "businessjet": ("engine", "jet"),
    "privatejet": ("engine", "jet"),
    "lightjet": ("category", "light_jet"),
    "midsizejet": ("category", "midsize_jet"),
    "supermidsizejet": ("category", "super_midsize_jet"),
    "largejet": ("category", "large_jet"),
    "heavyjet": ("category", "large_jet"),
    "helicopter": ("category", "helicopter"),
    "helicopters": ("category", "helicopter"),
    "heli": ("category", "helicopter"),
    "helo": ("category", "helicopter"),
    "chopper": ("category", "helicopter"),
    "rotorcraft": ("category", "helicopter"),
    "turboprop": ("engine", "turboprop"),
    "turboprops": ("engine", "turboprop"),
    "piston": ("engine", "piston"),
    "pistonsingle": ("category", "piston_single"),
    "singleengine": ("category", "piston_single"),
    "pistontwin": ("category", "piston_twin"),
    "twin": ("category", "piston_twin"),
    "multiengine": ("category", "piston_twin"),
}
# The `category` search filter: the catalogue's categories, plus "jet" for every jet.
CATEGORIES: tuple[str, ...] = (
    "jet",
    "light_jet",
    "midsize_jet",
    "super_midsize_jet",
    "large_jet",
    "turboprop",
    "piston_single",
    "piston_twin",
    "helicopter",
)

_MAX_SPAN = 4  # longest run of words that can name one model ("citation cj3 gen 2")


def fold(text: str) -> str:
    """Lower case without accents: 'Dassault Falcon 7X Édition' → 'dassault falcon 7x edition'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def compact(text: str) -> str:
    """The key that makes 'PC-12', 'PC12' and 'pc 12' equal."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


@dataclass(frozen=True, slots=True)
class ModelRef:
    manufacturer: str
    model: str


class _Index:
    """Lookup tables built once from the catalogue."""

    def __init__(self) -> None:
        self.models: dict[str, set[ModelRef]] = {}
        self.manufacturers: dict[str, str] = {}
        self.vocabulary: set[str] = set()
        for entry in MODELS:
            ref = ModelRef(entry.manufacturer, entry.model)
            maker = fold(entry.manufacturer)
            self.manufacturers[compact(maker)] = maker
            names = {entry.model, *entry.aliases}
            # "172 Skyhawk" is asked for as "172"; "King Air B200" as "B200": the leading code counts.
            first = entry.model.split()[0]
            if any(ch.isdigit() for ch in first) and len(compact(first)) >= 2:
                names.add(first)
            for name in names:
                self._add(compact(name), ref)
                self._add(compact(f"{entry.manufacturer} {name}"), ref)
                self.vocabulary.update(re.findall(r"[a-z]+", fold(name)))
            self.vocabulary.update(re.findall(r"[a-z]+", maker))
        for nickname, maker in MANUFACTURER_ALIASES.items():
            self.manufacturers[compact(nickname)] = maker
            self.vocabulary.update(nickname.split())
        self.vocabulary = {word for word in self.vocabulary if len(word) >= 4}
        # Names the trade shortens: "Jet Ranger" for the 505 Jet Ranger X (so "jet" alone can mean jets).
        for short, long in (("jetranger", "bell505jetrangerx"),):
            for ref in self.models.get(long, ()):
                self._add(short, ref)
        self.kinds: dict[tuple[str, str], frozenset[ModelRef]] = {}
        for entry in MODELS:
            ref = ModelRef(entry.manufacturer, entry.model)
            for kind in (("category", entry.category), ("engine", entry.engine_type)):
                self.kinds[kind] = self.kinds.get(kind, frozenset()) | {ref}
        self.vocabulary.update(w for w in CATEGORY_WORDS if w.isalpha() and len(w) >= 5)

    def _add(self, key: str, ref: ModelRef) -> None:
        if key:
            self.models.setdefault(key, set()).add(ref)


@functools.cache
def _index() -> _Index:
    return _Index()


def category_models(category: str) -> frozenset[ModelRef]:
    """Every catalogue model of a category ("helicopter", "light_jet") or, for "jet"/"turboprop"/
    "piston", of that engine type."""
    index = _index()
    if category in ("jet", "piston"):
        return index.kinds.get(("engine", category), frozenset())
    return index.kinds.get(("category", category), frozenset()) | (
        index.kinds.get(("engine", category), frozenset()) if category == "turboprop" else frozenset()
    )


@dataclass(frozen=True, slots=True)
class Resolved:
    """The catalogue models and manufacturers a query names, and the words left over."""

    models: frozenset[ModelRef]
    manufacturers: frozenset[str]
    rest: tuple[str, ...]
    words: tuple[str, ...]  # every word after typo correction, for full-text matching
    kinds: bool = False  # a kind of aircraft was named ("jet"): match its models, not the word


def correct(word: str) -> str:
    """A misspelt catalogue word ('cesna', 'gulfstrem') → the word; anything else unchanged."""
    index = _index()
    if len(word) < 4 or not word.isalpha() or word in index.vocabulary:
        return word
    close = difflib.get_close_matches(word, index.vocabulary, n=1, cutoff=0.8)
    return close[0] if close else word


def resolve(words: list[str]) -> Resolved:
    """Match the longest runs of words to models (and manufacturers), greedily left to right."""
    index = _index()
    words = [correct(w) for w in words]
    models: set[ModelRef] = set()
    manufacturers: set[str] = set()
    rest: list[str] = []
    kinds = False
    i = 0
    while i < len(words):
        for span in range(min(_MAX_SPAN, len(words) - i), 0, -1):
            key = "".join(compact(w) for w in words[i : i + span])
            if key in index.models:
                models |= index.models[key]
                i += span
                break
            if key in CATEGORY_WORDS:
                models |= index.kinds.get(CATEGORY_WORDS[key], frozenset())
                kinds = True
                i += span
                break
            if key in index.manufacturers:
                manufacturers.add(index.manufacturers[key])
                i += span
                break
        else:
            rest.append(words[i])
            i += 1
    if models and manufacturers:
        # "beech baron": the manufacturer narrows the models instead of widening the match.
        narrowed = {m for m in models if fold(m.manufacturer) in manufacturers}
        models, manufacturers = narrowed or models, set()
    return Resolved(frozenset(models), frozenset(manufacturers), tuple(rest), tuple(words), kinds)
