"""The l2tui App: connection list (left), the selected connection's pages (middle), Actions (right)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from l2tui.config.model import Connection
from l2tui.config.store import ConnectionStore
from l2tui.errors import ConfigError, L2Error, RunError
from l2tui.paths import Paths
from l2tui.tui import jobs, messages
from l2tui.tui.bridge import Bridge
from l2tui.tui.commands import L2Commands
from l2tui.tui.handlers import ActionsMixin
from l2tui.tui.screens.confirm import ConfirmScreen
from l2tui.tui.screens.error import ErrorScreen
from l2tui.tui.themes import DEFAULT_THEME, THEMES
from l2tui.tui.widgets.actions import ActionsPane
from l2tui.tui.widgets.connection_form import ConnectionForm
from l2tui.tui.widgets.connection_list import UNSAVED, ConnectionList
from l2tui.tui.widgets.entity_form import EntityForm
from l2tui.tui.widgets.mapping_editor import MappingEditor
from l2tui.tui.widgets.run_panel import RunPanel
from l2tui.tui.workspace import Workspace

PAGES = ("connection", "entity1", "entity2", "mappings", "run")
NARROW = 100  # below this width the side panes give way to the pages
WIDE = 140  # below this width the side panes are slimmer


class L2App(ActionsMixin, App[int]):
    """The connection manager."""

    TITLE = "l2tui"
    SUB_TITLE = "connection manager"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {L2Commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_connection", "New", id="new", tooltip="Create New Connection"),
        Binding("ctrl+s", "save", "Save", id="save", tooltip="Save Changes"),
        Binding("f2", "verify", "Verify", id="verify", tooltip="Verify Connection String"),
        Binding("f3", "preview", "Preview", id="preview", tooltip="Preview Data"),
        Binding("f5", "run_now", "Run", id="run", tooltip="Run Now"),
        Binding("f6", "dry_run", "Dry", id="dry-run", tooltip="Dry Run: show the plan"),
        Binding("escape", "cancel_run", "Cancel Run", id="cancel", tooltip="Cancel the running sync"),
        Binding("f7", "duplicate", "Duplicate", id="duplicate", show=False,
                tooltip="Duplicate Connection"),
        Binding("f8", "delete", "Delete", id="delete", show=False, tooltip="Delete Connection"),
        Binding("f9", "toggle_pane('connections')", "List", id="toggle-list",
                tooltip="Show or hide the connection list"),
        Binding("f10", "toggle_pane('actions')", "Actions", id="toggle-actions",
                tooltip="Show or hide the Actions pane"),
        *[Binding(f"alt+{n}", f"page('{page}')", f"Page {n}", id=f"page-{page}", show=False,
                  tooltip=f"Go to the {page} page") for n, page in enumerate(PAGES, start=1)],
        Binding("ctrl+pagedown", "next_page(1)", "Next page", show=False, id="next-page"),
        Binding("ctrl+pageup", "next_page(-1)", "Previous page", show=False, id="prev-page"),
    ]

    running: reactive[bool] = reactive(False)

    def __init__(self, paths: Paths, select: str | None = None, emulator: object | None = None,
                 *, auto_describe: bool = True, cursor_blink: bool = True) -> None:
        super().__init__()
        self.paths = paths
        self.workspace = Workspace(ConnectionStore(paths.connections))
        self.initial = select
        self.emulator = emulator  # the demo's emulator: kept alive while the app runs
        self.auto_describe = auto_describe
        self.cursor_blink = cursor_blink
        self.current: Connection | None = None
        self.columns: dict[Path, tuple[list[Any] | None, list[Any] | None]] = {}
        self.cancel_event: threading.Event | None = None
        self.bridge = Bridge(self.post_message)
        self.sign_in_screen: Any = None
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME

    def compose(self) -> ComposeResult:
        """Three panes and a footer."""
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="connections-pane", classes="pane"):
                yield Static("Connections", classes="pane-title")
                yield ConnectionList(id="connections")
                yield Static("No connections yet: Create New Connection (ctrl+n)", id="empty-hint")
            with TabbedContent(id="pages", initial="connection"):
                with TabPane("Connection", id="connection"):
                    yield ConnectionForm(id="connection-form")
                with TabPane("Data Entity 1", id="entity1"):
                    yield EntityForm(1, id="entity1-form")
                with TabPane("Data Entity 2", id="entity2"):
                    yield EntityForm(2, id="entity2-form")
                with TabPane("Mappings", id="mappings"):
                    yield MappingEditor(id="mapping-editor")
                with TabPane("Run", id="run"):
                    yield RunPanel(id="run-panel")
            yield ActionsPane(id="actions-pane", classes="pane")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Read the folder and open the connection asked for (or the first)."""
        self.paths.connections.mkdir(parents=True, exist_ok=True)
        if not self.cursor_blink:
            for widget in self.query("Input, TextArea"):
                widget.cursor_blink = False  # type: ignore[attr-defined]
        self.workspace.reload()
        self._narrow(self.size.width)
        path = self.workspace.find(self.initial) if self.initial else None
        if self.initial and path is None:
            self.notify(f"no connection named '{self.initial}'", severity="warning")
        if path is None:
            path = next((p for p in self.workspace.order if p not in self.workspace.errors), None)
        self.open(path)

    def on_resize(self, event: Any) -> None:
        """Collapse the side panes on small terminals."""
        self._narrow(event.size.width)

    def _narrow(self, width: int) -> None:
        narrow, medium = width < NARROW, width < WIDE
        self.screen.set_class(narrow, "-narrow")
        self.screen.set_class(medium and not narrow, "-medium")
        for widget in self.query("Input, Select, Button"):
            widget.compact = narrow  # type: ignore[attr-defined]
        for button in self.query("ActionsPane Button"):
            button.compact = medium  # type: ignore[attr-defined]

    # -- the selected connection -------------------------------------------------------------

    def open(self, path: Path | None) -> None:
        """Show a connection in the pages (None: nothing selected)."""
        conn = None
        if path is not None:
            try:
                conn = self.workspace.get(path)
            except L2Error as exc:
                self.notify(exc.message, title="Cannot open this connection", severity="error")
        self.current = conn
        self.refresh_list()
        self.query_one("#pages", TabbedContent).disabled = conn is None
        self.query_one("#empty-hint").display = not self.workspace.order
        if conn is None:
            return
        self.query_one(ConnectionForm).load(conn)
        for form in self.query(EntityForm):
            form.load(conn, secret_typed=(path, form.index) in self.workspace.secrets)
        left, right = self.columns.get(conn.path, (None, None)) if conn.path else (None, None)
        self.query_one(MappingEditor).load(conn, left, right)
        self.query_one(RunPanel).clear(jobs.history(conn, self.paths) if not self.running else [])
        self._update_title()

    def refresh_list(self) -> None:
        """Redraw the connection list (titles, "●" markers)."""
        current = str(self.current.path) if self.current and self.current.path else None
        self.query_one(ConnectionList).show(self.workspace.items(), current)

    def _update_title(self) -> None:
        conn = self.current
        if conn is None or conn.path is None:
            self.sub_title = "connection manager"
            return
        mark = f" {UNSAVED}" if conn.path in self.workspace.dirty else ""
        self.sub_title = f"{conn.title}{mark}"

    @on(ConnectionList.Picked)
    def _picked(self, event: ConnectionList.Picked) -> None:
        path = Path(event.key)
        if self.current is None or self.current.path != path:
            self.open(path)

    @on(messages.Edited)
    def _edited(self) -> None:
        if self.current is None or self.current.path is None:
            return
        self.workspace.mark(self.current)
        self.refresh_list()
        self._update_title()
        if self.query_one("#pages", TabbedContent).active == "mappings":
            self.query_one(MappingEditor).refresh_rows()

    @on(messages.SecretTyped)
    def _secret(self, event: messages.SecretTyped) -> None:
        if self.current is not None:
            self.workspace.set_secret(self.current, event.index, event.secret)

    @on(TabbedContent.TabActivated, "#pages")
    def _page_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "mappings" and self.current is not None:
            editor = self.query_one(MappingEditor)
            editor.refresh_rows()
            if self.auto_describe and editor.left is None and self._complete(self.current):
                self.action_describe()

    @staticmethod
    def _complete(conn: Connection) -> bool:
        return all(conn.entity(i).provider and conn.entity(i).connection_string for i in (1, 2))

    def _prompts(self) -> dict[int, jobs.Prompt]:
        """Typed (unsaved) passwords, offered to providers as the answer to a prompt."""
        out: dict[int, jobs.Prompt] = {}
        if self.current is None:
            return out
        for index in (1, 2):
            secret = self.workspace.secrets.get((self.current.path, index))  # type: ignore[arg-type]
            if secret:
                out[index] = lambda _text, s=secret: s
        return out

    def page_entity(self) -> int | None:
        """The entity of the page shown (None on the other pages)."""
        active = self.query_one("#pages", TabbedContent).active
        return {"entity1": 1, "entity2": 2}.get(active)

    def form_problems(self) -> list[str]:
        """Problems shown in place on the connection's pages."""
        out = self.query_one(ConnectionForm).problems()
        for form in self.query(EntityForm):
            out += [f"Data Entity {form.index} {p}" for p in form.problems()]
        return out

    # -- errors, in one place ----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's failure ends here: a notification or dialog, never a traceback."""
        worker = event.worker
        if event.state == WorkerState.ERROR:
            self.show_error(worker.error, title=f"{worker.name or 'work'} failed")
            if worker.group == "run":
                self.query_one(RunPanel).stopped(f"run stopped: {_one_line(worker.error)}")
                if isinstance(worker.error, RunError) and "max_delete_ratio" in worker.error.message:
                    self.offer_force(worker.error.message)
        if worker.group == "run" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                     WorkerState.CANCELLED):
            self.running = False
            self.cancel_event = None

    def show_error(self, error: BaseException | None, title: str = "Error") -> None:
        """An l2tui error as a notification; anything else in a dialog, one line."""
        if isinstance(error, L2Error):
            self.notify(error.message, title=title, severity="error", timeout=8)
        else:
            self.push_screen(ErrorScreen(title, _one_line(error)))

    # -- workers -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", name="Verify")
    def verify_worker(self, conn: Connection, indexes: tuple[int, ...], prompts: dict[int, Any]) -> None:
        """Verify Connection String off the UI thread."""
        jobs.verify(conn, indexes, self.paths, self.bridge, prompts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview", name="Preview Data")
    def preview_worker(self, conn: Connection, index: int, prompt: Any) -> None:
        """Preview Data off the UI thread."""
        jobs.preview(conn, index, self.paths, self.bridge, prompt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="describe", name="Load Columns")
    def describe_worker(self, conn: Connection, prompts: dict[int, Any]) -> None:
        """describe() both entities off the UI thread."""
        jobs.describe(conn, self.paths, self.bridge, prompts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="Run")
    def run_worker_(self, conn: Connection, cancel: threading.Event, dry_run: bool, force: bool,
                    prompts: dict[int, Any]) -> None:
        """The sync, off the UI thread; it reports only through the Bridge."""
        jobs.run(conn, self.paths, self.bridge, cancel, dry_run=dry_run, force=force, prompts=prompts)

    # -- quitting ----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit, asking first when changes are unsaved or a run is going."""
        unsaved = [self.workspace.get(p).title for p in self.workspace.dirty]
        if not unsaved and not self.running:
            self.exit(0)
            return
        what = []
        if unsaved:
            what.append("unsaved changes in " + ", ".join(unsaved))
        if self.running:
            what.append("a run in progress (it will be cancelled)")
        question = "There are " + " and ".join(what) + ". Quit anyway?"

        def answer(yes: bool | None) -> None:
            if yes:
                if self.cancel_event is not None:
                    self.cancel_event.set()
                self.exit(0)

        self.push_screen(ConfirmScreen("Quit l2tui?", question, yes="Quit", no="Stay"), answer)


def _one_line(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, L2Error):
        return error.message
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def run_app(paths: Paths, select: str | None = None, emulator: object | None = None) -> int:
    """Open the connection manager; returns the exit code."""
    try:
        paths.connections.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the connection folder ({exc.strerror})",
                          file=str(paths.connections)) from None
    app = L2App(paths, select=select, emulator=emulator)
    result = app.run()
    return int(result or 0)
