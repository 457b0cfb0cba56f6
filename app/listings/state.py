"""The listing lifecycle as a pure state machine: who may move a listing from which status to which."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    UNDER_CONTRACT = "under_contract"
    SOLD = "sold"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    SYSTEM = "system"  # holds, expiry jobs


# Statuses in which the listing still occupies its tail number (see the partial unique index).
LIVE = frozenset({Status.DRAFT, Status.ACTIVE, Status.ON_HOLD, Status.UNDER_CONTRACT, Status.SUSPENDED})
# Shown in public lists unless a status filter asks otherwise.
PUBLIC = frozenset({Status.ACTIVE, Status.ON_HOLD, Status.UNDER_CONTRACT})

_O, _A, _S = Actor.OWNER, Actor.ADMIN, Actor.SYSTEM
_TRANSITIONS: dict[tuple[Status, Status], frozenset[Actor]] = {
    (Status.DRAFT, Status.ACTIVE): frozenset({_O, _A}),
    (Status.DRAFT, Status.WITHDRAWN): frozenset({_O, _A}),
    (Status.ACTIVE, Status.DRAFT): frozenset({_O, _A}),
    (Status.ACTIVE, Status.ON_HOLD): frozenset({_S}),
    (Status.ACTIVE, Status.UNDER_CONTRACT): frozenset({_O, _A, _S}),
    (Status.ACTIVE, Status.SOLD): frozenset({_O, _A, _S}),
    (Status.ACTIVE, Status.SUSPENDED): frozenset({_A}),
    (Status.ACTIVE, Status.EXPIRED): frozenset({_S, _A}),
    (Status.ACTIVE, Status.WITHDRAWN): frozenset({_O, _A}),
    (Status.ON_HOLD, Status.ACTIVE): frozenset({_S, _A}),
    (Status.ON_HOLD, Status.UNDER_CONTRACT): frozenset({_O, _A, _S}),
    (Status.ON_HOLD, Status.SUSPENDED): frozenset({_A}),
    (Status.ON_HOLD, Status.WITHDRAWN): frozenset({_O, _A}),
    (Status.UNDER_CONTRACT, Status.ACTIVE): frozenset({_O, _A, _S}),
    (Status.UNDER_CONTRACT, Status.SOLD): frozenset({_O, _A, _S}),
    (Status.UNDER_CONTRACT, Status.SUSPENDED): frozenset({_A}),
    (Status.UNDER_CONTRACT, Status.WITHDRAWN): frozenset({_O, _A}),
    (Status.SUSPENDED, Status.ACTIVE): frozenset({_A}),
    (Status.SUSPENDED, Status.WITHDRAWN): frozenset({_A}),
    (Status.EXPIRED, Status.ACTIVE): frozenset({_O, _A}),
    (Status.EXPIRED, Status.WITHDRAWN): frozenset({_O, _A}),
}


class TransitionError(Exception):
    """The move is not allowed; `reason` says whether the path or the actor is wrong."""

    def __init__(self, current: Status, target: Status, reason: str) -> None:
        super().__init__(f"cannot move a listing from '{current}' to '{target}': {reason}")
        self.current, self.target, self.reason = current, target, reason


def check_transition(current: Status, target: Status, actor: Actor) -> None:
    """Raise TransitionError unless `actor` may move a listing from `current` to `target`."""
    if current == target:
        raise TransitionError(current, target, "already in that status")
    allowed = _TRANSITIONS.get((current, target))
    if allowed is None:
        raise TransitionError(current, target, "no such transition")
    if actor not in allowed:
        raise TransitionError(current, target, f"not allowed for {actor}")


def targets(current: Status, actor: Actor) -> set[Status]:
    """Every status `actor` may move a listing in `current` to."""
    return {t for (c, t), actors in _TRANSITIONS.items() if c == current and actor in actors}
