"""The listing lifecycle state machine (pure)."""

import pytest

from app.listings.state import LIVE, Actor, Status, TransitionError, check_transition, targets


def test_owner_can_sell_active_listing():
    check_transition(Status.ACTIVE, Status.SOLD, Actor.OWNER)


@pytest.mark.parametrize(
    ("current", "target", "actor"),
    [
        (Status.ACTIVE, Status.SUSPENDED, Actor.OWNER),
        (Status.SUSPENDED, Status.ACTIVE, Actor.OWNER),
        (Status.ACTIVE, Status.ON_HOLD, Actor.OWNER),
        (Status.SOLD, Status.ACTIVE, Actor.ADMIN),
        (Status.WITHDRAWN, Status.ACTIVE, Actor.OWNER),
        (Status.ACTIVE, Status.ACTIVE, Actor.ADMIN),
    ],
)
def test_forbidden_moves(current, target, actor):
    with pytest.raises(TransitionError):
        check_transition(current, target, actor)


def test_terminal_statuses_have_no_exit():
    for actor in Actor:
        assert targets(Status.SOLD, actor) == set()
        assert targets(Status.WITHDRAWN, actor) == set()


def test_only_system_places_holds():
    assert Status.ON_HOLD in targets(Status.ACTIVE, Actor.SYSTEM)
    assert Status.ON_HOLD not in targets(Status.ACTIVE, Actor.ADMIN)


def test_live_statuses_match_the_tail_number_index():
    assert {s.value for s in LIVE} == {"draft", "active", "on_hold", "under_contract", "suspended"}
