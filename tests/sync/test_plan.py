"""The three-way table of DESIGN.md, one row per test."""

from __future__ import annotations

import pytest

from l2tui.config.model import ConflictResolution as R
from l2tui.config.model import Deletions as D
from l2tui.config.model import Direction
from l2tui.sync.plan import Action, Policy, Status, decide

S = Status
BI = Direction.BIDIRECTIONAL


def policy(resolution: R = R.LEFT_WINS, deletions: D = D.PROPAGATE,
           direction: Direction = BI) -> Policy:
    return Policy(direction, resolution, deletions)


@pytest.mark.parametrize(("left", "right", "equal", "action"), [
    (S.SAME, S.SAME, True, Action.NOTHING),
    (S.EDIT, S.SAME, False, Action.COPY_LR),
    (S.SAME, S.EDIT, False, Action.COPY_RL),
    (S.EDIT, S.EDIT, True, Action.BASE),
    (S.NEW, S.ABSENT, False, Action.COPY_LR),
    (S.ABSENT, S.NEW, False, Action.COPY_RL),
    (S.NEW, S.NEW, True, Action.BASE),
    (S.GONE, S.SAME, False, Action.DELETE_R),
    (S.GONE, S.GONE, False, Action.FORGET),
])
def test_bidirectional_table(left: Status, right: Status, equal: bool, action: Action) -> None:
    assert decide(policy(), left, right, equal).action == action


@pytest.mark.parametrize(("resolution", "action"), [
    (R.LEFT_WINS, Action.COPY_LR), (R.RIGHT_WINS, Action.COPY_RL), (R.SKIP, Action.KEEP)])
def test_edits_on_both_sides_are_a_conflict_settled_by_policy(resolution: R,
                                                              action: Action) -> None:
    decision = decide(policy(resolution), S.EDIT, S.EDIT, False)
    assert decision.action == action and decision.conflict


def test_latest_wins_takes_the_newer_modified_on() -> None:
    assert decide(policy(R.LATEST_WINS), S.EDIT, S.EDIT, False, left_newer=False).action == \
        Action.COPY_RL
    assert decide(policy(R.LATEST_WINS), S.EDIT, S.EDIT, False, left_newer=True).action == \
        Action.COPY_LR


def test_an_edit_beats_a_delete_unless_the_policy_names_the_deleting_side() -> None:
    assert decide(policy(R.RIGHT_WINS), S.GONE, S.EDIT, False).action == Action.COPY_RL
    assert decide(policy(R.LEFT_WINS), S.GONE, S.EDIT, False).action == Action.DELETE_R


def test_ignored_deletions_forget_instead_of_deleting() -> None:
    assert decide(policy(deletions=D.IGNORE), S.GONE, S.SAME, False).action == Action.DETACH_L


def test_one_way_runs_never_write_the_source() -> None:
    one_way = policy(direction=Direction.LEFT_TO_RIGHT)
    assert decide(one_way, S.SAME, S.EDIT, False).action == Action.COPY_LR  # repair (full)
    assert decide(one_way, S.ABSENT, S.NEW, False).action == Action.NOTHING
    assert decide(one_way, S.GONE, S.SAME, False).action == Action.DELETE_R
