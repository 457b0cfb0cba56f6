"""The relevance table: what a buyer types → the models that must fill the top of the results.

Each model appears twice in the test catalogue; every listing of an expected model must come before
any other listing in the results. Shared by the PostgreSQL and Meilisearch runs.
"""

from __future__ import annotations

from db.fixtures.catalogue import MODELS

CASES: list[tuple[str, dict, set[str]]] = [
    # plain names, numbers inside model names
    ("cessna 172", {}, {"172 Skyhawk"}),
    ("Cessna 182", {}, {"182 Skylane"}),
    ("king air 350", {}, {"King Air 350"}),
    ("king air", {}, {"King Air C90", "King Air B200", "King Air 250", "King Air 350"}),
    ("phenom 300", {}, {"Phenom 300"}),
    ("challenger 350", {}, {"Challenger 350"}),
    ("global 7500", {}, {"Global 7500"}),
    ("bell 407", {}, {"407"}),
    ("falcon 7x", {}, {"Falcon 7X"}),
    ("grand caravan", {}, {"208B Grand Caravan", "208B Grand Caravan EX"}),
    # typos
    ("cesna 172", {}, {"172 Skyhawk"}),
    ("gulfstrem g650", {}, {"G650ER"}),
    ("pilatos pc-12 ngx", {}, {"PC-12 NGX"}),
    ("bonanzza", {}, {"Bonanza A36", "Bonanza G36"}),
    ("cirus sr22t", {}, {"SR22T"}),
    # formats
    ("pc12", {}, {"PC-12/45", "PC-12 NG", "PC-12 NGX"}),
    ("PC-12", {}, {"PC-12/45", "PC-12 NG", "PC-12 NGX"}),
    ("TBM940", {}, {"TBM 940"}),
    ("tbm 940", {}, {"TBM 940"}),
    ("robinson r-44", {}, {"R44 Raven II"}),
    ("da42", {}, {"DA42 Twin Star"}),
    ("pc 24", {}, {"PC-24"}),
    # aliases and designators
    ("skyhawk", {}, {"172 Skyhawk"}),
    ("c172", {}, {"172 Skyhawk"}),
    ("citation cj3", {}, {"Citation CJ3", "Citation CJ3+"}),
    ("525b", {}, {"Citation CJ3", "Citation CJ3+"}),
    ("g650", {}, {"G650ER"}),
    ("GVI", {}, {"G650ER"}),
    ("Gulfstream G-VI", {}, {"G650ER"}),
    ("vision jet", {}, {"Vision SF50"}),
    ("hondajet", {}, {"HondaJet Elite"}),
    ("dassault 7x", {}, {"Falcon 7X"}),
    ("lear 45", {}, {"45XR"}),
    # manufacturer nicknames
    ("beech baron", {}, {"Baron 58", "Baron G58"}),
    ("Beechcraft Bonanza", {}, {"Bonanza A36", "Bonanza G36"}),
    ("eurocopter ec135", {}, {"H135"}),
    ("agusta aw139", {}, {"AW139"}),
    # accents and case
    ("FALCÓN 8X", {}, {"Falcon 8X"}),
    # words beyond the model
    ("cessna 172 g1000", {}, {"172 Skyhawk"}),
    # phrases and filters
    ("king air 350 under 3m", {}, {"King Air 350"}),
    ("pc12", {"yearMin": 2020}, {"PC-12 NGX"}),
    (
        "cessna",
        {"engineType": "jet"},
        {m.model for m in MODELS if m.manufacturer == "Cessna" and m.engine_type == "jet"},
    ),
    ("citation", {"seatsMin": 9}, {m.model for m in MODELS if "Citation" in m.model and m.passengers >= 9}),
]
