"""Name normalization for fuzzy matching: transliterate, casefold, drop punctuation and legal-form suffixes."""

from __future__ import annotations

import re

from anyascii import anyascii

# Legal forms and filler words that say nothing about who a party is ("Mahan Air LLC" is "Mahan Air").
COMPANY_SUFFIXES = frozenset(
    """
    llc l l c ltd limited inc incorporated corp corporation co company plc llp lp gmbh mbh ag sa sas sarl srl
    spa bv nv oy ab as aps kft zrt sp zoo ooo oao zao pao jsc ojsc cjsc pjsc tov fze fzco fzc fzllc pte pty
    bhd sdn kk the of and
    """.split()
)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(value: str) -> str:
    """'  Société Générale, S.A.' → 'societe generale'; Cyrillic and Arabic are transliterated."""
    # Dots join abbreviations ("S.A.", "L.L.C.") before the rest of the punctuation splits words.
    text = _NOT_ALNUM.sub(" ", anyascii(value).casefold().replace(".", ""))
    tokens = text.split()
    kept = [token for token in tokens if token not in COMPANY_SUFFIXES]
    return " ".join(kept or tokens)


def sorted_tokens(normalized: str) -> str:
    """Word order does not matter for names ('ABBAS, Abu' is 'Abu Abbas')."""
    return " ".join(sorted(set(normalized.split())))


def normalize_identifier(value: str) -> str:
    """Tail numbers and serials compare without case, spaces or hyphens ('EP-MNE' is 'EPMNE')."""
    return re.sub(r"[^0-9A-Z]", "", anyascii(value).upper())
