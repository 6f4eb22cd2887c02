"""Events to the front ends: progress is throttled, yet the count a phase ends on is shown."""

from __future__ import annotations

from l2tui.sync.events import Event, LogLine, Progress, Throttle
from tests.sync.support import Pair


def seen(events: list[Event]) -> list[tuple[str, object]]:
    """What a front end shows of each event: a phase's count, or a log line's text."""
    return [(e.phase, e.done) if isinstance(e, Progress) else ("log", getattr(e, "message", ""))
            for e in events]


def test_progress_of_a_phase_passes_at_most_once_an_interval() -> None:
    shown: list[Event] = []
    throttle = Throttle(shown.append, interval=60)
    for done in (5000, 10000, 15000):
        throttle(Progress(phase="read left", done=done))
    assert seen(shown) == [("read left", 5000)]


def test_the_last_count_held_back_is_shown_before_the_next_log_line() -> None:
    shown: list[Event] = []
    throttle = Throttle(shown.append, interval=60)
    for done in (5000, 10000, 20000):
        throttle(Progress(phase="read left", done=done))
    throttle(LogLine(message="read 20000 rows"))
    assert seen(shown) == [("read left", 5000), ("read left", 20000), ("log", "read 20000 rows")]


def test_a_final_count_passes_at_once() -> None:
    shown: list[Event] = []
    throttle = Throttle(shown.append, interval=60)
    throttle(Progress(phase="write right", done=1, total=2))
    throttle(Progress(phase="write right", done=2, total=2))
    assert seen(shown) == [("write right", 1), ("write right", 2)]


def test_the_read_log_line_counts_one_page_in_the_singular(pair: Pair) -> None:
    pair.run()
    lines = [e.message for e in pair.events if isinstance(e, LogLine)]
    assert "read 20 rows in 1 page from accounts" in lines
