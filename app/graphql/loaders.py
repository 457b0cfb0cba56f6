"""DataLoaders: each batches one field over a whole page into one query (fresh for every operation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.accounts.profiles import PublicProfile, public_profiles
from app.core.errors import NotFound
from app.listings.prices import price_histories
from app.listings.schemas import PricePoint


async def _profiles(keys: Sequence[str]) -> list[PublicProfile | BaseException]:
    found = await public_profiles(uuid.UUID(k) for k in keys)
    return [found.get(uuid.UUID(k)) or NotFound("user not found") for k in keys]


async def _price_histories(keys: Sequence[str]) -> list[list[PricePoint]]:
    # Only listings the caller has already been allowed to read reach this loader.
    found = await price_histories([uuid.UUID(k) for k in keys])
    return [found[uuid.UUID(k)] for k in keys]


class Loaders:
    __slots__ = ("price_histories", "profiles")

    def __init__(self) -> None:
        self.profiles: DataLoader[str, PublicProfile] = DataLoader(_profiles)
        self.price_histories: DataLoader[str, list[PricePoint]] = DataLoader(_price_histories)

    def clear(self) -> None:
        """Forget what was loaded: a subscription's next event must not show the previous one's state."""
        self.profiles.clear_all()
        self.price_histories.clear_all()
