"""Catching up with others' changes while the app is open: connection files added, edited or
removed (an editor, a script) and runs made by ``l2tui run`` (cron, systemd).

A cheap poll of file stamps (one stat per connection file, two for the open connection's state)
rather than a file-system watcher: it works the same on every system and over network folders.
"""

from __future__ import annotations

from l2tui.tui.core import L2Core

WATCH_SECONDS = 2.0


class WatchMixin(L2Core):
    """Re-reads the connection folder and the open connection's run history when they change."""

    def start_watching(self) -> None:
        """Poll from now on (the folder has just been read)."""
        self.set_interval(WATCH_SECONDS, self.catch_up, name="catch up")

    def catch_up(self) -> None:
        """Show what changed on disk; unsaved edits are kept (a run uses a copy of its
        connection: it goes on as it began). The history of a connection this app is running
        is read again once the run has ended (the run changes its state all along). Not once
        the app is closing: its widgets are being taken down (a tick then met no Actions pane)."""
        if not self.is_running:
            return
        changed, kept = self.workspace.catch_up()
        if changed:
            self.show_changes(changed, kept)
        if self.history_stamp() != self.history_seen and not self.running_here():
            self.load_history()  # a run since (by cron, say): read the history again
