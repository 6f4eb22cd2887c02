"""The three-way decision for one item: what each side did since the last run, and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from l2tui.config.model import ConflictResolution, Deletions, Direction


class Status(Enum):
    """What one side did to an item since the last synced state."""

    ABSENT = "absent"  # not there, and never synced
    NEW = "new"        # there, never synced
    SAME = "same"      # as last synced (or not read: assumed so)
    EDIT = "edit"      # differs from the last synced state
    GONE = "gone"      # synced before, now missing


class Action(Enum):
    """What a run does with one item."""

    NOTHING = "nothing"
    BASE = "base"            # both sides agree: remember as synced, write nothing
    COPY_LR = "copy_lr"      # create or update on the right from the left
    COPY_RL = "copy_rl"
    DELETE_L = "delete_l"
    DELETE_R = "delete_r"
    FORGET = "forget"        # drop the pair (gone on both sides)
    DETACH_L = "detach_l"    # gone on the left, deletion ignored: keep the right as it is
    DETACH_R = "detach_r"
    KEEP = "keep"            # unresolved conflict (skip): both kept, reported again next run


@dataclass(frozen=True)
class Decision:
    """An action, and for a conflict how it was settled."""

    action: Action
    conflict: str | None = None  # "left_wins" | "right_wins" | "skipped"


NOTHING = Decision(Action.NOTHING)
PRESENT = (Status.NEW, Status.SAME, Status.EDIT)


@dataclass(frozen=True)
class Policy:
    """The connection settings the decision depends on."""

    direction: Direction
    resolution: ConflictResolution
    deletions: Deletions


def decide(policy: Policy, left: Status, right: Status, equal: bool,
           left_newer: bool | None = None) -> Decision:
    """Decide one item; ``equal``: both present with equal values; ``left_newer`` for latest_wins."""
    if policy.direction == Direction.LEFT_TO_RIGHT:
        return _one_way(policy, left, right, equal, Action.COPY_LR, Action.DELETE_R,
                        Action.DETACH_L)
    if policy.direction == Direction.RIGHT_TO_LEFT:
        return _one_way(policy, right, left, equal, Action.COPY_RL, Action.DELETE_L,
                        Action.DETACH_R)
    return _two_way(policy, left, right, equal, left_newer)


def _one_way(policy: Policy, src: Status, dst: Status, equal: bool, copy: Action,
             delete: Action, detach: Action) -> Decision:
    """Only the source's column of the table: the target is repaired, never read back."""
    if src in PRESENT:
        if dst in PRESENT and equal:
            return Decision(Action.BASE) if (src, dst) != (Status.SAME, Status.SAME) else NOTHING
        if src == Status.SAME and dst == Status.SAME:
            return NOTHING
        return Decision(copy)
    if src == Status.GONE:
        if dst in PRESENT:
            return Decision(delete if policy.deletions == Deletions.PROPAGATE else detach)
        return Decision(Action.FORGET)
    return NOTHING  # source absent: a target item never synced is not ours to touch


def _winner(policy: Policy, left_newer: bool | None) -> str:
    res = policy.resolution
    if res == ConflictResolution.LEFT_WINS:
        return "left"
    if res == ConflictResolution.RIGHT_WINS:
        return "right"
    if res == ConflictResolution.LATEST_WINS:
        return "right" if left_newer is False else "left"
    return "skip"


def _two_way(policy: Policy, left: Status, right: Status, equal: bool,
             left_newer: bool | None) -> Decision:
    propagate = policy.deletions == Deletions.PROPAGATE
    if left in PRESENT and right in PRESENT:
        if equal:
            return NOTHING if (left, right) == (Status.SAME, Status.SAME) else Decision(Action.BASE)
        if left == Status.SAME and right == Status.SAME:
            return NOTHING
        if right == Status.SAME:
            return Decision(Action.COPY_LR)
        if left == Status.SAME:
            return Decision(Action.COPY_RL)
        winner = _winner(policy, left_newer)
        if winner == "left":
            return Decision(Action.COPY_LR, "left_wins")
        if winner == "right":
            return Decision(Action.COPY_RL, "right_wins")
        return Decision(Action.KEEP, "skipped")
    if left in PRESENT and right == Status.ABSENT:
        return Decision(Action.COPY_LR)
    if right in PRESENT and left == Status.ABSENT:
        return Decision(Action.COPY_RL)
    if left == Status.GONE and right == Status.GONE:
        return Decision(Action.FORGET)
    if left == Status.GONE and right in PRESENT:
        return _gone_vs(policy, "left", right, propagate)
    if right == Status.GONE and left in PRESENT:
        return _gone_vs(policy, "right", left, propagate)
    return NOTHING


def _gone_vs(policy: Policy, gone: str, other: Status, propagate: bool) -> Decision:
    """One side deleted the item; the other kept it (as synced, or edited: a conflict)."""
    delete = Action.DELETE_R if gone == "left" else Action.DELETE_L
    detach = Action.DETACH_L if gone == "left" else Action.DETACH_R
    restore = Action.COPY_RL if gone == "left" else Action.COPY_LR
    if other != Status.EDIT:
        return Decision(delete if propagate else detach)
    res = policy.resolution
    if res == ConflictResolution.SKIP:
        return Decision(Action.KEEP, "skipped")
    deleting_side_wins = (res == ConflictResolution.LEFT_WINS and gone == "left") or \
        (res == ConflictResolution.RIGHT_WINS and gone == "right")
    if deleting_side_wins:
        return Decision(delete if propagate else detach, f"{gone}_wins")
    return Decision(restore, f"{'right' if gone == 'left' else 'left'}_wins")
