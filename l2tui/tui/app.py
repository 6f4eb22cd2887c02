"""The l2tui App: connection list (left), the selected connection's pages (middle), Actions (right)."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import Notify
from textual.widgets import Header, Static, TabbedContent, TabPane

from l2tui.config.files import make_folder
from l2tui.errors import ConfigError
from l2tui.paths import Paths
from l2tui.tui import messages
from l2tui.tui.commands import ConnectionsFound, L2Commands
from l2tui.tui.handlers import ActionsMixin
from l2tui.tui.keys import read_alt_digits
from l2tui.tui.layout import BREAKPOINTS, width_class
from l2tui.tui.screens.confirm import ChoiceScreen
from l2tui.tui.themes import DEFAULT_THEME, THEMES
from l2tui.tui.watch import WatchMixin
from l2tui.tui.widgets.actions import ActionsPane
from l2tui.tui.widgets.connection_form import ConnectionForm
from l2tui.tui.widgets.connection_list import ConnectionList
from l2tui.tui.widgets.entity_form import EntityForm
from l2tui.tui.widgets.footer import L2Footer
from l2tui.tui.widgets.mapping_editor import MappingEditor
from l2tui.tui.widgets.no_connection import NoConnection
from l2tui.tui.widgets.pages import Pages
from l2tui.tui.widgets.run_panel import RunPanel

PAGES = ("connection", "entity1", "entity2", "mappings", "run")
PAGE_TITLES = {"connection": "Connection", "entity1": "Data Entity 1", "entity2": "Data Entity 2",
               "mappings": "Mappings", "run": "Run"}  # as the tabs (and the palette) name them
SHORT = 20  # below this height dialogs leave out their blank lines
# the footer leaves these out first where its keys do not fit whole (F1 lists every key): New
# (the list's and Actions' buttons offer it too), then the focused widget's own key (x Exclude,
# enter Details), then the F-keys least needed; F1 Keys last of all
FOOTER_LEAST_NEEDED = ("new_connection", "toggle_exclude", "select_cursor", "dry_run", "preview",
                       "verify", "toggle_pane('connections')", "toggle_pane('actions')",
                       "run_now", "save", "cancel_verify", "cancel_run")


class L2App(WatchMixin, ActionsMixin):
    """The connection manager."""

    TITLE = "l2tui"
    SUB_TITLE = "connection manager"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {L2Commands, ConnectionsFound}
    BINDINGS: ClassVar[list[BindingType]] = [
        # first in the footer, so a narrow one still shows it: it lists the keys the footer has
        # no room for (alt+1 …, F4, F7, F8, F12, ctrl+p)
        Binding("f1", "toggle_keys", "Keys", id="keys",
                tooltip="Show or hide every key and what it does"),
        # priority: run at once, so that the keys typed right after it reach the new title
        Binding("ctrl+n", "new_connection", "New", id="new", tooltip="Create New Connection",
                priority=True),
        Binding("ctrl+s", "save", "Save", id="save", tooltip="Save Changes"),
        Binding("f2", "verify", "Verify", id="verify", tooltip="Verify Connection String"),
        Binding("f3", "preview", "Preview", id="preview", tooltip="Preview Data"),
        Binding("f4", "create_table", "Create Table", id="create-table", show=False,
                tooltip="Create Table: make the SQL table Verify found missing"),
        Binding("f5", "run_now", "Run", id="run", tooltip="Run Now"),
        Binding("f6", "dry_run", "Dry", id="dry-run", tooltip="Dry Run: show the plan"),
        Binding("f12", "schedule", "Schedule", id="schedule", show=False,
                tooltip="Schedule: the cron line and systemd timer that run the connection"),
        # first: Escape over the keys panel hides it (and never cancels a run behind it)
        Binding("escape", "hide_keys", "Hide keys", id="hide-keys", show=False),
        # then a verify going (a run's Escape waits for it: one key, one thing stopped)
        Binding("escape", "cancel_verify", "Cancel Verify", id="cancel-verify",
                tooltip="Stop verifying the connection string"),
        Binding("escape", "cancel_run", "Cancel Run", id="cancel", tooltip="Cancel the running sync"),
        Binding("f7", "duplicate", "Duplicate", id="duplicate", show=False,
                tooltip="Duplicate Connection"),
        Binding("f8", "delete", "Delete", id="delete", show=False, tooltip="Delete Connection"),
        Binding("f9", "toggle_pane('connections')", "List", id="toggle-list",
                tooltip="Show or hide the connection list"),
        Binding("f10", "toggle_pane('actions')", "Actions", id="toggle-actions",
                tooltip="Show or hide the Actions pane"),
        # priority: a terminal sends alt+3 as a key with the text "3", which a field would type
        *[Binding(f"alt+{n}", f"page('{page}')", f"Go to {PAGE_TITLES[page]}", id=f"page-{page}",
                  show=False, priority=True)
          for n, page in enumerate(PAGES, start=1)],
        Binding("ctrl+pagedown", "next_page(1)", "Next page", show=False, id="next-page"),
        Binding("ctrl+pageup", "next_page(-1)", "Previous page", show=False, id="prev-page"),
        # priority: the focus moves at once, so that the letters typed right after Tab (a burst
        # over SSH, a paste) reach the next field, not the one left (no field here takes Tab)
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
    ]
    # the screen's width class (-narrow … -wider); app.tcss lays the panes out by it (layout.py)
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS
    # -short: dialogs drop their blank lines (app.tcss)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT, "-tall")]

    def __init__(self, paths: Paths, select: str | None = None, emulator: object | None = None,
                 *, auto_describe: bool = True, cursor_blink: bool = True) -> None:
        super().__init__(paths, select, emulator, auto_describe=auto_describe,
                         cursor_blink=cursor_blink)
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME
        self.signals_replaced: dict[int, Any] = {}  # signal → the handler it had before

    def compose(self) -> ComposeResult:
        """Three panes and a footer."""
        self.screen.add_class(width_class(self.size.width))  # now: one styling pass, not two
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="connections-pane", classes="pane"):
                yield Static("Connections", classes="pane-title")
                yield ConnectionList(id="connections")
            with Pages(id="pages", initial="connection"):
                with TabPane(PAGE_TITLES["connection"], id="connection"):
                    yield ConnectionForm(id="connection-form")
                with TabPane(PAGE_TITLES["entity1"], id="entity1"):
                    yield EntityForm(1, id="entity1-form")
                with TabPane(PAGE_TITLES["entity2"], id="entity2"):
                    yield EntityForm(2, id="entity2-form")
                with TabPane(PAGE_TITLES["mappings"], id="mappings"):
                    yield MappingEditor(id="mapping-editor")
                with TabPane(PAGE_TITLES["run"], id="run"):
                    yield RunPanel(id="run-panel")
            yield NoConnection(id="no-connection", markup=False)
            yield ActionsPane(id="actions-pane", classes="pane")
        yield L2Footer(FOOTER_LEAST_NEEDED, compact=True)

    def on_mount(self) -> None:
        """Read the folder and open the connection asked for (or the first)."""
        make_folder(self.paths.connections)
        if not self.cursor_blink:
            for widget in self.query("Input, TextArea"):
                widget.cursor_blink = False  # type: ignore[attr-defined]
        self.workspace.reload()
        path = None
        if self.initial:
            try:
                path = self.workspace.find(self.initial)
            except ConfigError as exc:
                self.notify(exc.message, severity="warning")
        if path is None:
            path = next((p for p in self.workspace.order if p not in self.workspace.errors), None)
        self.open(path)
        self.start_watching()
        self._catch_stop_signals()
        self.call_after_refresh(self._focus_shown)

    def on_notify(self, event: Notify) -> None:
        """On a short screen, one notification at a time: the newest in place of those before
        it, which would push it off the rows it may take (app.tcss; before Textual shows it)."""
        if self.size.height < SHORT:
            for screen in self.screen_stack:  # (each toast with its holder: clearing alone
                screen.query("ToastRack > *").remove()  # leaves empty holders taking rows)
            self.clear_notifications()

    def _focus_shown(self) -> None:
        """Start on the connection list, unless it is hidden (narrow): then on the page's first
        field, so that keys never move the highlight of a list out of sight."""
        if self.focused is self.query_one(ConnectionList) and \
                not self.query_one("#connections-pane").display:
            if self.current is not None:
                self.action_page(self.query_one("#pages", TabbedContent).active)
            else:
                self.set_focus(None)

    @on(ConnectionList.Picked)
    def _picked(self, event: ConnectionList.Picked) -> None:
        path = Path(event.key)
        if self.current is None or self.current.path != path:
            self.open(path)

    @on(messages.Edited)
    def _edited(self) -> None:
        if self.current is None or self.current.path is None or not self.query("#pages"):
            return  # (no pages: an edit's message arrived while the app closes)
        # (a field showing a problem may hold what the connection did not take: still unsaved)
        self.workspace.mark(self.current, pending=bool(self.form_problems()))
        self.refresh_list()
        self._update_title()
        if self.query_one("#pages", TabbedContent).active == "mappings":
            self.query_one(MappingEditor).refresh_rows()
        if self.table_offers:  # an edit of the settings withdraws Create Table
            self.sync_actions()

    @on(messages.ReadsChanged)
    def _reads_changed(self) -> None:
        """Drop the columns loaded for what an entity read before: the Mappings page loads
        them again when next shown, rather than show pairs of columns no longer read."""
        if self.current is not None and self.current.path is not None and \
                self.columns.pop(self.current.path, None) is not None:
            self.query_one(MappingEditor).set_columns(None, None)

    @on(messages.SecretTyped)
    def _secret(self, event: messages.SecretTyped) -> None:
        if self.current is not None:
            self.workspace.set_secret(self.current, event.index, event.secret)

    @on(TabbedContent.TabActivated, "#pages")
    def _page_shown(self, event: TabbedContent.TabActivated) -> None:
        if self.table_offers:  # Create Table acts on the entity shown
            self.sync_actions()
        if event.pane.id == "mappings" and self.current is not None:
            editor = self.query_one(MappingEditor)
            editor.refresh_rows()
            if self.auto_describe and editor.left is None and self._complete(self.current):
                self.action_describe()

    # -- quitting ----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit, asking first when changes are unsaved, a typed password would be lost or a run
        is going."""
        unsaved = [self.workspace.get(p).title for p in self.workspace.dirty]
        unkept = [f"{self.workspace.get(p).title}: Data Entity {i}"
                  for p, i in self.workspace.unkept_secrets()]
        if not unsaved and not unkept and not self.running:
            self.exit(0)
            return
        question = quit_question(unsaved, unkept, self.running)
        answers = [("quit", "Quit"), ("stay", "Stay")]
        if unsaved:
            answers.insert(0, ("save", "Save and quit"))

        def answer(choice: str | None) -> None:
            if choice == "save" and not self.save_all():
                return  # (the connection that could not be saved says why)
            if choice in ("save", "quit"):
                if self.cancel_event is not None:
                    self.cancel_event.set()
                self.exit(0)

        self.push_screen(ChoiceScreen("Quit l2tui?", question, answers), answer)

    # -- signals -----------------------------------------------------------------------------

    def _catch_stop_signals(self) -> None:
        """SIGTERM (systemctl stop, kill) and SIGHUP (the SSH session dropped) close the app as
        Quit does (``_stopped_by``) rather than kill it mid-run with the terminal left as it was."""
        try:
            loop = asyncio.get_running_loop()
            for signum in stop_signals():
                self.signals_replaced[signum] = signal.getsignal(signum)
                loop.add_signal_handler(signum, self._stopped_by, signum)
        except (RuntimeError, ValueError):  # (not in the main thread: no signals come here)
            pass
        self._resume_only_when_suspended()

    def _resume_only_when_suspended(self) -> None:
        """Textual takes every SIGCONT for the end of a Ctrl+Z and enters the terminal again; a
        hang-up sends one too (the kernel, to the orphaned process group), and entering a
        terminal that is gone, while the app closes, left it waiting for ever on its output
        thread: an l2tui left behind by each dropped SSH session. A SIGCONT resumes the app
        only after a SIGTSTP suspended it."""
        try:
            on_stop, on_continue = signal.getsignal(signal.SIGTSTP), signal.getsignal(signal.SIGCONT)
        except (AttributeError, ValueError):  # (no such signals: not Unix)
            return
        if not (callable(on_stop) and callable(on_continue)):
            return
        suspended = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            suspended.set()
            on_stop(signum, frame)

        def resume(signum: int, frame: Any) -> None:
            if suspended.is_set():
                suspended.clear()
                on_continue(signum, frame)

        try:
            signal.signal(signal.SIGTSTP, stop)
            signal.signal(signal.SIGCONT, resume)
        except ValueError:  # (not in the main thread)
            pass

    def on_unmount(self) -> None:
        """Give the signals back their handlers: a second one, while a cancelled run finishes
        its batch, stops the process at once. A new connection never saved is removed (its
        edits, if any, are lost: its file is still as it was made)."""
        self.workspace.drop_untouched(edits_lost=True)
        loop = asyncio.get_running_loop()
        for signum, handler in self.signals_replaced.items():
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)
        self.signals_replaced.clear()

    def _stopped_by(self, signum: int) -> None:
        """Quit without asking (nobody may be there to answer): a run going is cancelled
        between batches and recorded "cancelled"; the terminal is given back; unsaved changes
        are lost."""
        if self.cancel_event is not None:
            self.cancel_event.set()
        self.exit(0)


def stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that close the app: SIGTERM, and SIGHUP unless ignored (under nohup)."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return (signal.SIGTERM,)
    return signal.SIGTERM, signal.SIGHUP


def quit_question(unsaved: list[str], unkept: list[str], running: bool) -> str:
    """What quitting would lose, as one sentence: "There is a run in progress …", "There are
    unsaved changes in A and a run in progress …" (the verb agrees with what comes first)."""
    what: list[tuple[str, bool]] = []  # (words, plural)
    if unsaved:
        what.append(("unsaved changes in " + ", ".join(unsaved), True))
    if unkept:
        passwords = "typed passwords" if len(unkept) > 1 else "a typed password"
        what.append((f"{passwords} the keyring did not keep, which will be lost ("
                     + "; ".join(unkept) + ")", len(unkept) > 1))
    if running:
        what.append(("a run in progress (it will be cancelled)", False))
    verb = "are" if what[0][1] else "is"
    return f"There {verb} " + " and ".join(words for words, _ in what) + ". Quit anyway?"


def run_app(paths: Paths, select: str | None = None, emulator: object | None = None) -> int:
    """Open the connection manager; returns the exit code."""
    try:
        make_folder(paths.connections)
    except OSError as exc:
        raise ConfigError(f"cannot create the connection folder ({exc.strerror})",
                          file=str(paths.connections)) from None
    read_alt_digits()  # the page keys, as a terminal sends them
    app = L2App(paths, select=select, emulator=emulator)
    result = app.run()
    return int(result or 0)
