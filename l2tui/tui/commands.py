"""The command palette (ctrl+p): every action under the seed's names, plus page and pane moves;
only those that can act now are offered (no Cancel Run without a run); and every connection, by
its title, to open (a folder of hundreds is found by typing, not scrolling)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider

from l2tui.tui.widgets.connection_list import ConnectionList

# (palette name, help, app action)
COMMANDS = (
    ("Create New Connection", "add a connection at the bottom of the list", "new_connection"),
    ("Save Changes", "write the selected connection's file", "save"),
    ("Verify Connection String", "check that the data entity can connect and read", "verify"),
    ("Preview Data", "show the first rows of the data entity", "preview"),
    ("Create Table", "create the SQL table Verify found missing, from the other entity's columns",
     "create_table"),
    ("Run Now", "run the selected connection", "run_now"),
    ("Dry Run", "show the plan without writing anything", "dry_run"),
    ("Schedule", "how cron or a systemd timer runs the selected connection", "schedule"),
    ("Cancel Run", "stop the run in progress", "cancel_run"),
    ("Duplicate Connection", "copy the selected connection (secrets are not copied)", "duplicate"),
    ("Delete Connection", "delete the selected connection's file", "delete"),
    ("Load Columns", "describe both entities' columns for the mappings", "describe"),
    ("Go to Connection", "the connection page", "page('connection')"),
    ("Go to Data Entity 1", "the left data entity", "page('entity1')"),
    ("Go to Data Entity 2", "the right data entity", "page('entity2')"),
    ("Go to Mappings", "the column mappings", "page('mappings')"),
    ("Go to Run", "the run log, progress and history", "page('run')"),
    ("Toggle Connection List", "show or hide the connection list", "toggle_pane('connections')"),
    ("Toggle Actions Pane", "show or hide the Actions pane", "toggle_pane('actions')"),
)


class L2Commands(Provider):
    """Finds l2tui's actions by name."""

    def _available(self, action: str) -> bool:
        """Whether the action can act now (as the footer and the Actions pane show it)."""
        return bool(self.app.can_act(action.split("(")[0]))  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        """The commands that can act now, for the empty palette."""
        for name, help_text, action in COMMANDS:
            if not self._available(action):
                continue
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands matching what was typed, of those that can act now."""
        matcher = self.matcher(query)
        for name, help_text, action in COMMANDS:
            if not self._available(action):
                continue
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action),
                          text=name, help=help_text)


class ConnectionsFound(Provider):
    """Finds connections by title (or file name) as they are typed; one chosen opens as a click
    on it in the list does. Nothing while the palette is empty: hundreds would bury the
    commands."""

    async def search(self, query: str) -> Hits:
        """The connections whose title or file name matches what was typed."""
        matcher = self.matcher(query)
        for item in self.app.workspace.items():  # type: ignore[attr-defined]
            name = Path(item.key).name
            score = max(matcher.match(item.title), matcher.match(name))
            if score > 0:
                yield Hit(score, matcher.highlight(item.title),
                          partial(self.app.post_message, ConnectionList.Picked(item.key)),
                          text=item.title, help=f"open this connection ({name})")
