"""Runs and plans in one line of text: the same words in the TUI and on the command line."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal
from typing import Any
from uuid import UUID

from l2tui.providers.base import shown_value
from l2tui.sync.events import PlanCounts, RunReport
from l2tui.sync.side import match_values
from l2tui.sync.state import UNSETTLED, RunRecord


def plan_text(plan: PlanCounts | None) -> str:
    """A plan in one line: what would be created, updated and deleted on each side."""
    if plan is None:
        return "plan: made while the rows are read (its counts come with the summary)"
    parts = []
    for side, c, u, d in (("right", plan.create_right, plan.update_right, plan.delete_right),
                          ("left", plan.create_left, plan.update_left, plan.delete_left)):
        if c or u or d:
            parts.append(f"{side}: {c:,} to create, {u:,} to update, {d:,} to delete")
    if plan.conflicts:
        parts.append(count_text(plan.conflicts, "conflict"))
    parts.append(f"{plan.unchanged:,} unchanged")
    parts.extend(alone_text({"only_left": plan.only_left, "only_right": plan.only_right}))
    return "plan — " + "; ".join(parts)


def count_text(count: int, noun: str) -> str:
    """A count and its noun, in the plural but for one: "1 error", "2 errors", "1,200 errors"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def alone_text(counts: Mapping[str, Any]) -> list[str]:
    """Items on one side alone that the run leaves alone, per side: those a one-way run found
    only on its target (never synced), and those whose partner was deleted while deletions are
    ignored; none in a history row from before they were counted apart."""
    return [f"{int(counts.get(f'only_{side}') or 0):,} only on the {side}, left alone"
            for side in ("left", "right") if counts.get(f"only_{side}")]


COUNTS = ("created_left", "updated_left", "deleted_left", "created_right", "updated_right",
          "deleted_right", "conflicts", "errors_left", "errors_right", "only_left", "only_right")


def counts_text(counts: Mapping[str, Any]) -> str:
    """What a run wrote on each side, Data Entity 1 (left) first; conflicts and errors if any."""
    def n(key: str) -> int:
        return int(counts.get(key) or 0)

    parts = [f"{side} {n(f'created_{side}'):,} created, {n(f'updated_{side}'):,} updated, "
             f"{n(f'deleted_{side}'):,} deleted" for side in ("left", "right")]
    if n("conflicts"):
        parts.append(count_text(n("conflicts"), "conflict"))
    if n("errors_left") + n("errors_right"):
        parts.append(count_text(n("errors_left") + n("errors_right"), "error"))
    return "; ".join(parts)


def planned(counts: Mapping[str, Any]) -> PlanCounts:
    """The plan a dry run recorded, from its counts (created_left: what it would create, …)."""
    fields = {f"{verb}_{side}": int(counts.get(f"{done}_{side}") or 0)
              for verb, done in (("create", "created"), ("update", "updated"), ("delete", "deleted"))
              for side in ("left", "right")}
    return PlanCounts(**fields, conflicts=int(counts.get("conflicts") or 0),
                      unchanged=int(counts.get("unchanged") or 0),
                      only_left=int(counts.get("only_left") or 0),
                      only_right=int(counts.get("only_right") or 0))


def seconds_text(seconds: float) -> str:
    """A run's duration as people read it: tenths of a second, or hundredths under 0.05 s (a
    small run took "0.0s" before, which reads as if it did nothing)."""
    return f"{seconds:.2f}s" if round(seconds, 1) == 0 else f"{seconds:.1f}s"


def run_text(outcome: str, counts: Mapping[str, Any], seconds: float, message: str) -> str:
    """A finished run in one line, without its outcome (the history's Summary column); a dry run
    as the plan it showed (it wrote nothing); a failed run why first (a terminal's width cuts
    the column's end)."""
    if outcome == "dry_run":
        text = changed_text(counts) + plan_text(planned(counts)) + plan_errors_text(counts)
        if counts.get("refused_deletes") and message:  # the deletion guard's refusal
            text += f" — {message}"
        return text
    text = "; ".join([f"{changed_text(counts)}{counts_text(counts)} in {seconds_text(seconds)}",
                      *alone_text(counts)])
    if outcome == "failed" and message:  # otherwise the message is the engine's counts again
        text = f"{message} — {text}"
    return text


def plan_errors_text(counts: Mapping[str, Any]) -> str:
    """The item errors a dry run's plan holds (rows it could not read), after its plan text;
    none: nothing."""
    errors = int(counts.get("errors_left") or 0) + int(counts.get("errors_right") or 0)
    return f"; {count_text(errors, 'error')}" if errors else ""


def dry_run_warning(report: RunReport) -> str:
    """Why the run a dry run planned would not end cleanly (its item errors, the conflicts it
    leaves unresolved, the deletion guard's refusal), as a paragraph to put after its plan; none
    when it would: nothing."""
    if report.outcome != "dry_run" or report.ok:
        return ""
    reasons = []
    errors = report.errors_left + report.errors_right
    if errors:
        reasons.append(count_text(errors, "item error"))
    unresolved = int(report.details.get("unresolved") or 0)
    if unresolved:
        reasons.append(f"{count_text(unresolved, 'conflict')} left unresolved")
    refused = report.details.get("refused")
    if refused:
        reasons.append(str(refused))
    return "\n\nThe run would not end cleanly: " + "; ".join(reasons) + " (see the run log)."


def changed_text(counts: Mapping[str, Any]) -> str:
    """What begins the line of a run after a change of mapping, select or match key (its
    re-match was planned first, inside the run): both sides were matched by key again."""
    return "settings changed, matched by key again: " if counts.get("rematched") else ""


def report_body(report: RunReport) -> str:
    """A finished run in one line, without its outcome."""
    if report.outcome == "dry_run":
        refused = report.details.get("refused")
        return changed_text(report.details) + plan_text(report.plan) + \
            plan_errors_text({key: getattr(report, key) for key in COUNTS}) + \
            (f" — {refused}" if refused else "")
    counts = {key: getattr(report, key) for key in COUNTS}
    counts["rematched"] = report.details.get("rematched", 0)
    return run_text(report.outcome, counts, report.seconds, report.message)


def local_time(stamp: float) -> str:
    """A timestamp as local date and time, to the second (as the history shows a run's)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def iso_time(stamp: float) -> str:
    """A timestamp as ISO 8601 with its UTC offset, to the second (as JSON gives a run's)."""
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def run_outcome(record: RunRecord, holder: str | None) -> str:
    """How a run ended; one without an end is running (its lock is held by ``holder``, a PID)
    or did not finish (killed, the machine down)."""
    if record.outcome:
        return record.outcome
    return f"running (PID {holder})" if holder else "unfinished"


def outcome_label(outcome: str) -> str:
    """How a run ended, as people read it ("dry run"; JSON keeps "dry_run")."""
    return outcome.replace("_", " ")


def report_text(report: RunReport) -> str:
    """A finished run in one line."""
    return f"{outcome_label(report.outcome)}: {report_body(report)}"


def record_text(record: RunRecord) -> str:
    """A run of the history in one line, without its outcome; an unfinished run's message."""
    if record.outcome and record.finished is not None:
        return run_text(record.outcome, record.counts, record.finished - record.started,
                        record.message)
    return record.message or ""


VALUE_CHARS = 60  # the most of a value a conflict's line shows


def key_text(values: list[Any]) -> str:
    """A match key's values as people read them: ``AC-001``, or ``AC-001, 2`` for two."""
    return ", ".join(str(v) for v in values)


ITEM_ERROR = "error on the "  # begins an item error's line (then its side: ``item_error_text``)


def item_error_text(side: str, key: str, message: str) -> str:
    """An item error in one line, alike in the app's run log, the run's log file and on stderr:
    its side, its key as a conflict shows it and what went wrong, e.g. ``error on the right for
    AC-001: CHECK constraint failed: …`` (a message's line breaks become spaces)."""
    return f"{ITEM_ERROR}{side} for {key_text(shown_key(key))}: " + \
        re.sub(r"\s*[\r\n]+\s*", " ", message.strip())


def shown_key(key: str) -> list[Any]:
    """A match key (or a row's own key) as the values a line shows; one that is not stored key
    text (``key_json``) as it is."""
    try:
        values = match_values(key)
    except ValueError:
        return [key]
    return values if isinstance(values, list) else [key]


def differences(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The mapped pairs whose values differ in a conflict: (column, left value, right value).

    Both sides' values come in the mapping's pair order, so they are paired by position; a pair
    of two names is shown as ``left / right``."""
    return [(lname if lname.casefold() == rname.casefold() else f"{lname} / {rname}",
             lvalue, rvalue)
            for (lname, lvalue), (rname, rvalue) in zip(left.items(), right.items(), strict=False)
            if lvalue != rvalue]


RULES = {"left_wins": "left wins", "right_wins": "right wins", "latest_wins": "latest wins"}
"""A ``conflict_resolution`` rule as a conflict's line words it (``skip``: the line says
"skipped")."""


def conflict_text(key: str, resolution: str, left: Mapping[str, Any] | None,
                  right: Mapping[str, Any] | None, most: int = 3,
                  settled_by: int | None = None, policy: str | None = None) -> str:
    """A conflict in one line: its key (stored key text, shown as its values, as an item
    error's), how it was settled (``outcome_words``) and what differs, e.g. ``name: 'A' (left)
    ≠ 'B' (right)``, or the side it is gone from; ``settled_by``: the later run that settled one
    recorded as not settled; ``policy``: the rule that settled it."""
    text = f"conflict {key_text(shown_key(key))}: " + \
        outcome_words(resolution, left, right, settled_by, policy)
    if left is None or right is None:
        return f"{text} — gone on the {'left' if left is None else 'right'}"
    differ = [f"{name}: {value_text(lvalue)} (left) ≠ {value_text(rvalue)} (right)"
              for name, lvalue, rvalue in differences(left, right)]
    if not differ:
        return text
    more = f"; {len(differ) - most} more" if len(differ) > most else ""
    return f"{text} — " + "; ".join(differ[:most]) + more


def outcome_words(resolution: str, left: Mapping[str, Any] | None,
                  right: Mapping[str, Any] | None, settled_by: int | None = None,
                  policy: str | None = None) -> str:
    """How a conflict was settled, in words rather than its stored code: ``latest wins, the
    right's values kept`` (the rule first when known; ``deletion``: the winner deleted the item),
    ``skipped``; a winning write that failed (``UNSETTLED``) says so."""
    code = resolution.removesuffix(UNSETTLED)
    failed = code != resolution
    side = code.removesuffix("_wins") if code in ("left_wins", "right_wins") else None
    if side is None:
        text = code
    else:
        kept = "deletion" if (left if side == "left" else right) is None else "values"
        text = f"the {side}'s {kept} {'won' if failed else 'kept'}"
        if policy in RULES:
            text = f"{RULES[policy]}, {text}"
    if failed:  # (its winning write failed: said so, not as a code)
        text += ", its write not made" + ("" if settled_by else ": not settled")
    if settled_by:
        text += f"; settled by run {settled_by}"
    return text


def value_text(value: Any, most: int = VALUE_CHARS) -> str:
    """A value as a line shows it: text quoted, a number or time as it reads (``12.5``), cut
    to ``most`` characters ("...": a long text is whole in ``l2tui conflicts``)."""
    if isinstance(value, Decimal | date | dt_time | UUID):  # (as it reads: 12.5, 2026-11-28…)
        text = value.isoformat() if isinstance(value, date | dt_time) else str(value)
        return text if len(text) <= most else text[:most - 3] + "..."
    return shown_value(value, most)


SIDE_LABELS = (("left", "Data Entity 1 (left)"), ("right", "Data Entity 2 (right)"))
WRITES = (("create", "created"), ("update", "updated"), ("delete", "deleted"))


PLANNED_COLUMNS = 4
"""Columns a dry run's line of an update shows of those it would set (then how many more)."""


def planned_lines(report: RunReport) -> list[str]:
    """A dry run's writes, each kind on each side: how many, the first ones by match key (an
    update with the values it would set), and how many more."""
    planned = report.details.get("planned")
    if not planned:
        return []
    updates = report.details.get("planned_updates") or {}
    lines = []
    for side, label in SIDE_LABELS:
        sets = {repr(update["key"]): update["values"] for update in updates.get(side, ())}
        for op, done in WRITES:
            total, keys = getattr(report, f"{done}_{side}"), planned[side][op]
            if total:
                lines.append(f"To {op} on {label}: {total:,}")
                lines.extend(f"  {planned_text(values)}" + sets_text(sets.get(repr(values)))
                             for values in keys)
                if total > len(keys):
                    lines.append(f"  … and {total - len(keys):,} more")
    return lines


def sets_text(values: Mapping[str, Any] | None, most: int = PLANNED_COLUMNS) -> str:
    """What a planned update writes, after its key: ``: name = 'A', revenue = 12.5`` (a text cut
    as a conflict's value is), the first ``most`` columns and how many more; "" if unknown. Only
    the columns that changed where the run compared both sides (bidirectional, ``--full``); else
    every mapped one, as the update writes them all."""
    if not values:
        return ""
    shown = [f"{name} = {value_text(value)}" for name, value in list(values.items())[:most]]
    more = f", and {len(values) - most} more" if len(values) > most else ""
    return ": " + ", ".join(shown) + more


def planned_text(values: list[Any] | dict[str, Any]) -> str:
    """A planned write's match key; a new item whose key the run would make (a SQL row without
    a GUID) by the row's own key: ``new (id = 1)``."""
    if isinstance(values, dict):
        return "new (" + ", ".join(f"{name} = {value}" for name, value in values["new"].items()) \
            + ")"
    return key_text(values)
