"""The only thing worker threads call: turns engine events and sign-in prompts into Messages.

Every method only posts a Message (thread-safe); nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message

from l2tui.sync.events import Event, Progress, Throttle
from l2tui.tui import messages


class Bridge:
    """An EventSink and device-code callback that post Messages to the App."""

    def __init__(self, post: Callable[[Message], object], interval: float = 0.1) -> None:
        self._post = post
        self.sink = Throttle(self._emit, interval=interval)

    def __call__(self, event: Event) -> None:
        """Take one engine event (throttled progress, everything else as is)."""
        self.sink(event)

    def _emit(self, event: Event) -> None:
        if isinstance(event, Progress):
            self._post(messages.RunProgress(event))
        else:
            self._post(messages.RunEvent(event))

    def device_code(self, info: dict[str, Any]) -> None:
        """Show the device-code URL and code while the worker waits for the sign-in."""
        self._post(messages.DeviceCodeShown(dict(info)))

    def post(self, message: Message) -> None:
        """Post any result message."""
        self._post(message)
