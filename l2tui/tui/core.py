"""The App's state and the work it hands to threads: the selected connection, workers, errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, TabbedContent
from textual.worker import Worker

from l2tui.config.files import Stamp
from l2tui.config.model import Connection, in_folder
from l2tui.config.store import ConnectionStore
from l2tui.errors import L2Error
from l2tui.paths import Paths
from l2tui.tables import TablePlan
from l2tui.tui import jobs, messages
from l2tui.tui.bridge import Bridge
from l2tui.tui.screens.device_code import DeviceCodeScreen
from l2tui.tui.screens.error import ErrorScreen
from l2tui.tui.widgets.actions import ACTIONS
from l2tui.tui.widgets.connection_form import ConnectionForm
from l2tui.tui.widgets.connection_list import UNSAVED, ConnectionList
from l2tui.tui.widgets.entity_form import EntityForm
from l2tui.tui.widgets.fields import Field
from l2tui.tui.widgets.mapping_editor import MappingEditor
from l2tui.tui.widgets.no_connection import NoConnection
from l2tui.tui.widgets.run_panel import RunPanel, RunView
from l2tui.tui.workspace import Workspace, stamps


class L2Core(App[int]):
    """What every part of the App shares: the folder, the selected connection, the workers."""

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
        self.broken: Path | None = None  # the highlighted file that cannot be read, if any
        self.columns: dict[Path, tuple[list[Any] | None, list[Any] | None]] = {}
        self.cancel_event: threading.Event | None = None
        self.verify_stop: threading.Event | None = None  # set to cancel the verify going (Esc)
        self.verify_job: Worker[None] | None = None  # the verify going, if any
        self.run_view: RunView | None = None  # this app's latest run, as its Run page shows it
        self.bridge = Bridge(self.post_message)
        self.sign_in_screen: DeviceCodeScreen | None = None
        self.focus_before_list: Widget | None = None  # given back when F9 hides the list again
        self.focus_before_keys: Widget | None = None  # given back when F1 hides the keys again
        self.history_seen: tuple[Path, dict[Path, Stamp]] | None = None  # as the history was read
        # Create Table offers made by Verify: (file, entity) → (the settings, jobs.table_key, and
        # the plan); an offer whose settings were edited since is not offered
        self.table_offers: dict[tuple[Path, int], tuple[tuple[str, ...], TablePlan]] = {}
        # tables Verify found there: (file, entity) → the settings verified (jobs.table_key)
        self.tables_found: dict[tuple[Path, int], tuple[str, ...]] = {}
        self.keyring_told: set[Path] = set()  # connections told their password was not kept

    # -- the selected connection -------------------------------------------------------------

    def open(self, path: Path | None) -> None:
        """Show a connection in the pages (None: nothing selected); a file that cannot be read
        has its error shown in their place. A new connection left untouched is removed."""
        for gone in self.workspace.drop_untouched(keep=path):
            self.columns.pop(gone, None)
        conn = error = None
        if path is not None:
            try:
                conn = self.workspace.get(path)
            except L2Error as exc:
                error = exc.message
        self.current = conn
        self.broken = path if error is not None else None
        self.refresh_list()
        self.sync_actions()
        pages = self.query_one("#pages", TabbedContent)
        pages.disabled = conn is None
        pages.display = conn is not None
        closed = self.query_one(NoConnection)
        closed.display = conn is None
        if conn is None:
            if self.broken is not None and error is not None:
                closed.show_error(self.broken, error, self.broken.stem if in_folder(
                    self.broken, self.paths.connections) else str(self.broken))
                self.sub_title = f"⚠ {self.broken.name}"
            else:
                closed.show_none(bool(self.workspace.order))
                self.sub_title = "connection manager"
            return
        self.query_one(ConnectionForm).load(conn)
        for form in self.query(EntityForm):
            form.load(conn, secret_typed=(path, form.index) in self.workspace.secrets)
        left, right = self.columns.get(conn.path, (None, None)) if conn.path else (None, None)
        self.query_one(MappingEditor).load(conn, left, right)
        panel = self.query_one(RunPanel)
        panel.clear()
        if self.run_shown() and self.run_view is not None:
            panel.show_run(self.run_view)  # as it goes, or as it ended while away
        if conn.path is not None:
            self.load_history()
        self._update_title()

    def run_shown(self) -> bool:
        """Whether the open connection is the one this app runs (or ran last): its Run page
        shows that run."""
        view, conn = self.run_view, self.current
        return view is not None and conn is not None and conn.path == view.path

    def run_holder(self, conn: Connection) -> str | None:
        """Who runs ``conn`` now: "in this app", "PID n" (another process, as its lock says),
        or None: nobody."""
        view = self.run_view
        if self.running and view is not None and view.path == conn.path:
            return "in this app"
        pid = jobs.running(conn, self.paths) if conn.path is not None else None
        return None if pid is None else f"PID {pid}"

    def running_here(self) -> bool:
        """Whether this app's run, going now, is of the open connection."""
        return self.running and self.run_shown()

    def show_changes(self, changed: set[Path], kept: set[Path], told: Path | None = None) -> None:
        """Show files changed on disk (read again by ``Workspace.catch_up``): the one open as it
        is now, unless its unsaved edits were kept (said in a notice, but of ``told``: Save
        Changes writes them over it; a deleted one's, that Save Changes writes it back); a removed
        one makes way for the next, as Delete does."""
        for path in changed - kept:  # (the columns loaded for what it read before)
            self.columns.pop(path, None)
        for path in sorted(kept - {told}):
            if path.exists():
                self.notify(f"{path.name} changed on disk; your unsaved changes are kept (Save "
                            "Changes writes them over it)", title="Changed on disk",
                            severity="warning", timeout=10)
            else:  # (still listed, with its unsaved mark)
                self.notify(f"{path.name} was deleted on disk; your unsaved changes are kept and "
                            "it stays listed: Save Changes writes it back", title="Deleted on disk",
                            severity="warning", timeout=10)
        order = self.workspace.order
        shown = self.current.path if self.current is not None else self.broken
        if shown is not None and shown not in order:  # removed: open the next one, as Delete does
            shown = None
        if shown is None:
            self.open(next((p for p in order if p not in self.workspace.errors), None))
        elif shown in changed and shown not in kept:
            self.open(shown)  # as it is on disk now
        else:
            self.refresh_list()

    def load_history(self) -> None:
        """Read the open connection's run history (in a worker), noting the state file's stamp
        so that a later run, by this app or by cron, is noticed (see watch.py)."""
        self.history_seen = self.history_stamp()
        if self.current is not None:
            self.history_worker(jobs.snapshot(self.current))

    def history_stamp(self) -> tuple[Path, dict[Path, Stamp]] | None:
        """The open connection's state file (and its WAL) as it is on disk now."""
        if self.current is None or self.current.path is None:
            return None
        db = self.paths.state_db(self.current.slug)
        return self.current.path, stamps((db, db.with_name(db.name + "-wal")))

    def sync_actions(self) -> None:
        """Enable the Actions pane's buttons (and footer keys) that can act now, disable the rest."""
        for button_id, _, action in ACTIONS:
            allowed = self.can_act(action.removeprefix("app."))
            self.query_one(f"#{button_id}", Button).disabled = not allowed
        self.refresh_bindings()

    def can_act(self, action: str) -> bool:
        """Whether an action does something now (its button, its palette entry): Create Table
        only once Verify found a table missing (its key says why not otherwise)."""
        if action == "create_table":
            return self.table_offer() is not None
        return bool(self.check_action(action, ()))

    def refresh_list(self) -> None:
        """Redraw the connection list (titles, "●" markers)."""
        current = str(self.current.path) if self.current and self.current.path else None
        for shown in self.query(ConnectionList):  # none while the app closes
            shown.show(self.workspace.items(), current)

    def _update_title(self) -> None:
        conn = self.current
        if conn is None or conn.path is None:
            self.sub_title = "connection manager"
            return
        mark = f" {UNSAVED}" if conn.path in self.workspace.dirty else ""
        self.sub_title = f"{conn.title}{mark}"

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
                out[index] = jobs.answer(secret)
        return out

    def page_entity(self) -> int | None:
        """The entity of the page shown (None on the other pages)."""
        active = self.query_one("#pages", TabbedContent).active
        return {"entity1": 1, "entity2": 2}.get(active)

    def table_offer(self) -> TablePlan | None:
        """The Create Table the open connection can do now (of the entity shown first, else of
        either): a SQL entity Verify found without its table, the other entity described."""
        conn = self.current
        if conn is None or conn.path is None or not self.query("#pages"):
            return None
        shown = self.page_entity()
        for index in (shown, 3 - shown) if shown else (2, 1):
            offer = self.table_offers.get((conn.path, index))
            if offer is not None and offer[0] == jobs.table_key(conn, index):
                return offer[1]
        return None

    def take_back(self, message: str) -> None:
        """Remove the notices saying ``message`` (a step whose outcome shows now), before their
        time is up; the others stay."""
        for notification in [n for n in self._notifications if n.message == message]:
            self._unnotify(notification, refresh=False)
        self._refresh_notifications()

    def connstr_status(self, index: int, status: str | None, failed: bool = False) -> None:
        """A status under an entity's connection string (Verify's answer, Create Table's)."""
        form = self.query_one(f"#entity{index}-form", EntityForm)
        form.query_one("#f-connstr", Field).set_status(status, failed=failed)

    def form_problems(self) -> list[str]:
        """Problems shown in place on the connection's pages."""
        out = self.query_one(ConnectionForm).problems()
        for form in self.query(EntityForm):
            out += [f"Data Entity {form.index} {p}" for p in form.problems()]
        return out

    # -- errors, in one place ----------------------------------------------------------------

    def show_error(self, error: BaseException | None, title: str = "Error") -> None:
        """An l2tui error as a notification; anything else in a dialog, one line."""
        if isinstance(error, L2Error):
            self.notify(error_text(error), title=title, severity="error", timeout=8)
        else:
            self.push_screen(ErrorScreen(title, one_line(error)))

    # -- workers -----------------------------------------------------------------------------

    def start_verify(self, conn: Connection, indexes: tuple[int, ...], mapping: bool = False) -> None:
        """Verify Connection String of ``indexes`` in a worker that Esc can stop (a verify
        still going is stopped first)."""
        if self.verify_stop is not None:
            self.verify_stop.set()
        self.verify_stop = stop = threading.Event()
        self.verify_job = self.verify_worker(jobs.snapshot(conn), indexes, self._prompts(), stop,
                                             mapping)
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify", name="Verify")
    def verify_worker(self, conn: Connection, indexes: tuple[int, ...], prompts: dict[int, Any],
                      stop: threading.Event, mapping: bool = False) -> None:
        """Verify Connection String off the UI thread (and the mapping, with ``mapping``)."""
        jobs.verify(conn, indexes, self.paths, self.bridge, prompts, stop, mapping=mapping)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview", name="Preview Data")
    def preview_worker(self, conn: Connection, index: int, prompt: Any) -> None:
        """Preview Data off the UI thread."""
        jobs.preview(conn, index, self.paths, self.bridge, prompt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="describe", name="Load Columns")
    def describe_worker(self, conn: Connection, prompts: dict[int, Any]) -> None:
        """describe() both entities off the UI thread."""
        jobs.describe(conn, self.paths, self.bridge, prompts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="create-table",
          name="Create Table")
    def create_table_worker(self, conn: Connection, plan: TablePlan, prompts: dict[int, Any]) -> None:
        """Create Table off the UI thread."""
        jobs.create_table(conn, plan, self.paths, self.bridge, prompts)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history", name="Run history")
    def history_worker(self, conn: Connection) -> None:
        """Read a connection's run history off the UI thread (it reads the state file)."""
        self.bridge.post(jobs.history(conn, self.paths))

    @work(thread=True, exclusive=True, exit_on_error=False, group="details", name="Run details")
    def run_details_worker(self, conn: Connection, started: float) -> None:
        """Read one run of the history and its conflicts off the UI thread."""
        self.bridge.post(messages.RunDetailsLoaded(conn.path,
                                                   jobs.run_details(conn, self.paths, started)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="run", name="Run")
    def run_worker_(self, conn: Connection, cancel: threading.Event, dry_run: bool, force: bool,
                    prompts: dict[int, Any]) -> None:
        """The sync, off the UI thread; it reports only through the Bridge."""
        jobs.run(conn, self.paths, self.bridge, cancel, dry_run=dry_run, force=force, prompts=prompts)

# a data entity's setting (its key in the file) → its field on the entity page: label, id
ENTITY_FIELDS = {"title": ("Data Entity Title", "#f-title"),
                 "provider": ("Data Provider", "#f-provider"),
                 "connection_string": ("Connection String", "#f-connstr"),
                 "password": ("Password", "#f-password"),
                 "password_env": ("Password variable", "#f-password-env"),
                 "select": ("Select Statement", "#f-select"),
                 "primary_key": ("Primary Key", "#f-primary-key")}


def unfinished(conn: Connection, index: int) -> str | None:
    """What an entity lacks before it can connect, as the app says it (where to fill it in), or
    None: a provider not chosen was "provider: unknown provider ''"."""
    entity, page = conn.entity(index), f"on the Data Entity {index} page (alt+{index + 1})"
    if not entity.provider:
        return f"Data Entity {index} › Data Provider: none chosen yet; pick one {page}"
    if not entity.connection_string.strip():
        return f"Data Entity {index} › Connection String: empty; fill it in {page}"
    return None


def entity_field(error: L2Error) -> tuple[int, str, str] | None:
    """The entity field an error's key names (``entity2.select``): entity, label and id."""
    entity, _, name = (getattr(error, "key", None) or "").partition(".")
    if entity in ("entity1", "entity2") and name in ENTITY_FIELDS:
        return (int(entity[-1]), *ENTITY_FIELDS[name])
    return None


def error_text(error: L2Error) -> str:
    """An l2tui error as the app says it: a data entity's setting by the name of its field, not
    as the connection file's path and key (the run may have used unsaved edits, not the file)."""
    field_ = entity_field(error)
    if field_ is None:
        return error.message
    return f"Data Entity {field_[0]} › {field_[1]}: {getattr(error, 'detail', error.message)}"


def one_line(error: BaseException | None) -> str:
    """An error as one line (never a traceback)."""
    if error is None:
        return "unknown error"
    if isinstance(error, L2Error):
        return error_text(error)
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
