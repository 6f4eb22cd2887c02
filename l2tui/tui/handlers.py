"""The App's actions (buttons, keys, palette) and the handlers of worker results."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from textual.containers import ScrollableContainer
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, KeyPanel, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from l2tui.config.model import Connection
from l2tui.config.store import ChangedOnDisk
from l2tui.errors import AlreadyRunning, GuardRefused, L2Error
from l2tui.sync.summaries import dry_run_warning, outcome_label, plan_text, report_body
from l2tui.tui import jobs, messages
from l2tui.tui.core import L2Core, entity_field, one_line, unfinished
from l2tui.tui.layout import toggle_pane
from l2tui.tui.screens.confirm import ConfirmScreen
from l2tui.tui.screens.create_table import CreateTableScreen
from l2tui.tui.screens.device_code import DeviceCodeScreen
from l2tui.tui.screens.preview import PreviewScreen
from l2tui.tui.screens.run_details import RunDetailsScreen
from l2tui.tui.screens.schedule import ScheduleScreen
from l2tui.tui.widgets.connection_list import ConnectionList
from l2tui.tui.widgets.entity_form import EntityForm
from l2tui.tui.widgets.fields import Field
from l2tui.tui.widgets.keys_panel import KeysHelp
from l2tui.tui.widgets.mapping_editor import MappingEditor
from l2tui.tui.widgets.run_history import RunHistory
from l2tui.tui.widgets.run_panel import RunPanel, RunView

PAGE_ORDER = ("connection", "entity1", "entity2", "mappings", "run")
VERIFYING = "verifying… (Esc to cancel)"


class ActionsMixin(L2Core):
    """Create, save, verify, preview, create table, run, cancel, duplicate and delete."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide actions that make no sense now (no connection; nothing running)."""
        if action == "hide_keys":  # (Escape: the keys panel's while it has the focus)
            return isinstance(self.focused, KeyPanel)
        if action == "cancel_run":  # (on the Run page of the connection running)
            return self.running_here()
        if action == "cancel_verify":  # (while a verify goes)
            return self.verify_stop is not None and not self.verify_stop.is_set()
        if action == "create_table":  # F4 says why it cannot act (see can_act)
            return True if self.current is not None else None
        needs_connection = ("save", "verify", "preview", "run_now", "dry_run", "duplicate",
                            "delete", "describe", "schedule")
        if action == "delete" and self.current is None and self.broken is not None:
            return True  # a file that cannot be read can still be deleted
        if action in needs_connection and self.current is None:
            return None
        if action in ("run_now", "dry_run") and self.running_here():
            return None  # (another connection's: it says which connection runs)
        return True

    def watch_running(self, running: bool) -> None:
        """Buttons and footer follow the run state (the Run page's, where it shows the run)."""
        if self.run_shown():
            self.query_one(RunPanel).set_running(running)
        self.sync_actions()

    # -- connections -------------------------------------------------------------------------

    def action_new_connection(self) -> None:
        """Create New Connection: it appears at the bottom of the list, ready to be named."""
        if isinstance(self.screen, ModalScreen):
            return  # (ctrl+n is a priority key: never behind a dialog)
        try:
            conn = self.workspace.create()
        except L2Error as exc:
            self.show_error(exc, "Cannot create a connection")
            return
        self.open(conn.path)
        self._ready_to_name()
        self.notify(f"created {conn.path.name if conn.path else conn.title}")

    def _ready_to_name(self) -> None:
        """The Connection page, its title focused at once (keys typed right after the key that
        made the connection go there) and selected: typing replaces it."""
        self.action_page("connection")
        title = self.query_one("#conn-title", Input)
        self.set_focus(title)
        title.select_all()

    def action_save(self) -> None:
        """Save Changes, once the edits typed just before the key have reached the model."""
        self.call_after_refresh(self.save_now)

    def save_now(self) -> None:
        """Write the file (refused while a field shows a problem)."""
        if self.current is not None:
            self._save(self.current)

    def save_all(self) -> bool:
        """Save every connection with unsaved changes (Save and quit); at the first that cannot
        be saved, stop and say why (False)."""
        for path in sorted(self.workspace.dirty):
            if not self._save(self.workspace.get(path), told=False):
                return False
        return True

    def _save(self, conn: Connection, *, told: bool = True) -> bool:
        """Write one connection's file; whether it was written (``told``: say so)."""
        shown = conn is self.current  # (its fields are on screen)
        if shown:
            problems = self.form_problems()
            if problems:
                self.notify("; ".join(problems), title="Not saved: fix the marked fields",
                            severity="error", timeout=8)
                return False
        old = conn.path
        if not self._may_rename(conn):
            return False
        try:
            saved = self.workspace.save(conn)
        except ChangedOnDisk:
            self._changed_meanwhile(conn)
            return False
        except L2Error as exc:
            if shown:
                self._place_error(exc)
            self.show_error(exc, "Not saved" if shown else f"{conn.title}: not saved")
            return False
        finally:
            self.refresh_list()
            self._update_title()
        if shown:
            for form in self.query(EntityForm):
                form.show_saved()
        if old is not None and saved.path != old:
            if old in self.keyring_told:
                self.keyring_told.add(saved.path)
            self._follow_state(lambda: jobs.move_state(conn, old.stem, self.paths), "Save Changes")
        if saved.secrets_not_kept:
            self._password_not_kept(saved.secrets_not_kept)
        if saved.secrets_not_kept and saved.path not in self.keyring_told:
            self.keyring_told.add(saved.path)  # said once a session: then just "saved"
            self._say_password_not_kept(saved.secrets_not_kept)
        elif told:
            self.notify(f"saved {saved.path.name}", title="Save Changes")
        return True

    def _may_rename(self, conn: Connection) -> bool:
        """A new title renames the file, and its sync state and history follow: not while the
        connection runs (here or by ``l2tui run``); then nothing is saved, and it says so."""
        holder = self.run_holder(conn) if self.workspace.renames(conn) else None
        if holder is None:
            return True
        assert conn.path is not None
        self.notify(f"{conn.path.name} is running ({holder}): a new title renames the file (its "
                    "sync state and history follow it), which waits until the run has ended; "
                    "Save Changes again then", title="Not saved: it is running",
                    severity="warning", timeout=10)
        return False

    def _changed_meanwhile(self, conn: Connection) -> None:
        """Save Changes found the file changed (or deleted) on disk by another since it was read
        here: read the folder again (unsaved edits are kept), and say that Save Changes again
        writes over it (writes it back)."""
        path = conn.path
        assert path is not None
        changed, kept = self.workspace.catch_up()
        self.show_changes(changed, kept, told=path)
        how = "changed" if path.exists() else "deleted"
        if path in kept and how == "deleted":
            text = (f"{path.name} was deleted on disk since it was read here; your unsaved "
                    "changes are kept and it stays listed: Save Changes again writes it back")
        elif path in kept:
            text = (f"{path.name} was changed on disk since it was read here; your unsaved "
                    "changes are kept: Save Changes again writes them over it")
        elif how == "deleted":
            text = f"{path.name} was deleted on disk since it was read here; it is no longer listed"
        else:
            text = f"{path.name} was changed on disk since it was read here; it is shown as it is now"
        self.notify(text, title=f"Not saved: {how} on disk", severity="warning", timeout=10)

    def _follow_state(self, change: Callable[[], None], title: str) -> None:
        """Move a connection's sync state after its file was renamed; a run of it that began
        meanwhile keeps the state where it is, and says so."""
        try:
            change()
        except L2Error as exc:
            self.notify(f"{exc}; its sync state and history were left as they are", title=title,
                        severity="warning", timeout=10)

    def _running_not_deleted(self, conn: Connection, name: str) -> bool:
        """Whether ``conn`` runs now (here or by ``l2tui run``): then it is not deleted (its run
        writes its sync state and history, which go with it), and it says so."""
        holder = self.run_holder(conn)
        if holder is None:
            return False
        self.notify(f"{name} is running ({holder}): delete it once the run has ended",
                    title="Not deleted", severity="warning", timeout=10)
        return True

    def _password_not_kept(self, reasons: dict[int, str]) -> None:
        """The file was written but the keyring refused a typed password: mark it."""
        for index, reason in reasons.items():
            form = self.query_one(f"#entity{index}-form", EntityForm)
            form.query_one("#f-password", Field).set_status(
                f"✗ not kept: {reason}; name an environment variable in Password variable "
                "instead (the typed password is used until l2tui quits)", failed=True)

    def _say_password_not_kept(self, reasons: dict[int, str]) -> None:
        """Say that the file was written but the keyring refused a typed password."""
        which = " and ".join(f"Data Entity {i}" for i in reasons)
        reason = "; ".join(dict.fromkeys(reasons.values()))
        self.notify(f"Saved, except the password of {which}: {reason}; name an environment "
                    "variable in Password variable instead", title="Save Changes",
                    severity="warning", timeout=10)

    def _place_error(self, exc: L2Error) -> None:
        """Show a save error next to the field its key names."""
        field_ = entity_field(exc)
        if field_ is not None:
            form = self.query_one(f"#entity{field_[0]}-form", EntityForm)
            form.query_one(field_[2], Field).set_problem(getattr(exc, "detail", exc.message))

    def action_duplicate(self) -> None:
        """Duplicate Connection (secrets are not copied)."""
        if self.current is None:
            return
        try:
            conn = self.workspace.create(template=self.current)
        except L2Error as exc:
            self.show_error(exc, "Cannot duplicate")
            return
        self.open(conn.path)
        self._ready_to_name()  # as a new connection is
        self.notify(f"duplicated as {conn.title}")

    def action_delete(self) -> None:
        """Delete Connection (or the highlighted file that cannot be read), after a confirmation:
        its file, its stored passwords, its sync state, its run logs and its row."""
        if self.current is None and self.broken is not None:
            path, name = self.broken, f"'{self.broken.name}' (it cannot be read)"
        elif self.current is not None and self.current.path is not None:
            path, name = self.current.path, f"'{self.current.title}' ({self.current.path.name})"
        else:
            return
        gone = self.workspace.working.get(path) or Connection(title=path.stem, path=path)
        if self._running_not_deleted(gone, name):
            return

        def answer(yes: bool | None) -> None:
            if not yes or self._running_not_deleted(gone, name):
                return
            index = self.workspace.order.index(path) if path in self.workspace.order else 0
            try:  # first: a run that began meanwhile holds the state, and keeps the file too
                logs_kept = jobs.drop_state(gone, self.paths)
            except AlreadyRunning as exc:
                self.notify(f"{exc}: delete it once the run has ended", title="Not deleted",
                            severity="warning", timeout=10)
                return
            except L2Error as exc:  # (a lock file that cannot be opened: a folder, a link)
                self.notify(str(exc), title="Not deleted", severity="error", timeout=10)
                return
            self.workspace.delete(path)
            self.columns.pop(path, None)
            order = self.workspace.order
            self.open(order[min(index, len(order) - 1)] if order else None)
            self.notify(f"deleted {name}")
            if logs_kept:  # (the rest is deleted all the same)
                self.notify(logs_kept, title="Run logs kept", severity="warning", timeout=10)

        self.push_screen(ConfirmScreen("Delete Connection", f"Delete {name}, its stored "
                                       "passwords, its sync state and its run logs? This cannot "
                                       "be undone.",
                                       yes="Delete"), answer)

    # -- pages and panes ---------------------------------------------------------------------

    def action_page(self, page: str) -> None:
        """Show one of the connection's pages, focus on its first field."""
        if self.current is None:
            return
        self.query_one("#pages", TabbedContent).active = page
        pane = self.query_one(f"#{page}")
        first = next((w for w in pane.query("Input, Select, Switch, Button") if w.focusable), None)
        if first is not None:
            # at once: keys typed before the next refresh go to this page, not the one hidden
            self.screen.set_focus(first, scroll_visible=False)
            self.call_after_refresh(self._focus_at_top, first)

    def _focus_at_top(self, first: Widget) -> None:
        """Keep a page's first field focused with the page at its top: scrolling the field into
        view could leave its label above the page (a new connection's entity page, one line
        down). The focus moved on meanwhile is left where it went: to a field of the page
        (typed ahead, Tab), another page (a page key), the keys panel (F1) or the list (F9)."""
        pages = self.query_one("#pages", TabbedContent)
        pane = next((a for a in first.ancestors if isinstance(a, TabPane)), None)
        if pane is None or pages.active != pane.id:
            return
        focused = self.focused
        if focused is None or (pages in focused.ancestors and pane not in focused.ancestors):
            first.focus(scroll_visible=False)  # (lost, or left on a page hidden)
        scroller = next((a for a in first.ancestors if isinstance(a, ScrollableContainer)), None)
        if scroller is not None:
            scroller.scroll_home(animate=False)

    def action_next_page(self, step: int) -> None:
        """The next (or previous) page."""
        tabs = self.query_one("#pages", TabbedContent)
        index = PAGE_ORDER.index(tabs.active) if tabs.active in PAGE_ORDER else 0
        self.action_page(PAGE_ORDER[(index + step) % len(PAGE_ORDER)])

    def action_toggle_pane(self, pane: str) -> None:
        """Show or hide the connection list or the Actions pane. The list shown takes the focus
        (the keys then move its highlight, in sight); a pane hidden with the focus in it hands
        the focus back to the page. Both at once: keys typed right after F9 (Enter) act where
        the focus is shown, not on the field or button it left (Run Now)."""
        shown = toggle_pane(self.screen, pane)  # (the styles are applied at once: it shows)
        box = self.query_one(f"#{pane}-pane")
        if shown and pane == "connections":
            self.focus_before_list = self.focused
            self.screen.set_focus(self.query_one(ConnectionList))
        elif not shown and self.focused is not None and box in self.focused.ancestors:
            self._focus_page()

    def _focus_page(self) -> None:
        """Focus the page's field that had the focus before the list was shown, else the page's
        first field."""
        before, self.focus_before_list = self.focus_before_list, None
        pages = self.query_one("#pages", TabbedContent)
        page = self.query_one(f"#{pages.active}") if pages.active else None
        if before is not None and before.is_attached and before.focusable and \
                page is not None and page in before.ancestors:
            self.screen.set_focus(before)
        elif self.current is not None:
            self.action_page(pages.active)
        else:
            self.set_focus(None)

    def action_toggle_keys(self) -> None:
        """Show or hide the keys panel (F1)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_show_help_panel(self) -> None:
        """Show the keys panel: every key of the screen with what it does, the ones the footer
        has no room for too (F1, and the palette's "Keys"). The panel takes the focus, so that
        it lists the app's keys first (not the thirty editing keys of the field that had it,
        nor its own scrolling keys) and the arrows and PageDown scroll it."""
        if self.screen.query("HelpPanel"):
            return
        self.focus_before_keys = self.focused
        self.screen.mount(KeysHelp())
        self.call_after_refresh(self._focus_keys)

    def action_hide_help_panel(self) -> None:
        """Hide the keys panel, giving the focus back to the field that had it."""
        before, self.focus_before_keys = self.focus_before_keys, None
        had_focus = isinstance(self.focused, KeyPanel)
        self.screen.query("HelpPanel").remove()
        if had_focus and before is not None and before.is_attached and before.focusable:
            self.screen.set_focus(before)

    def action_hide_keys(self) -> None:
        """Escape over the keys panel: hide it, giving the focus back (as F1 does)."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()

    def _focus_keys(self) -> None:
        """Give the focus to the keys panel just shown."""
        for panel in self.screen.query(KeyPanel):
            panel.can_focus = True
            panel.focus()

    # -- verify, preview, describe -----------------------------------------------------------

    def action_verify(self) -> None:
        """Verify Connection String, once the edits typed just before the key have reached the
        model (a password typed then F2 at once is verified whole)."""
        self.call_after_refresh(self.verify_now)

    def verify_now(self) -> None:
        """Verify Connection String of the entity shown (both from the other pages); while a
        verify goes, cancel it."""
        if self.current is None:
            return
        if self.check_action("cancel_verify", ()):
            self.action_cancel_verify()
            return
        index = self.page_entity()
        asked: tuple[int, ...] = (index,) if index else (1, 2)
        for i in asked:
            lacking = unfinished(self.current, i)
            if lacking is not None:
                self.connstr_status(i, f"✗ {lacking}", failed=True)
                self.notify(lacking, title=f"Data Entity {i}: not verified", severity="error")
        indexes = tuple(i for i in asked if unfinished(self.current, i) is None)
        if not indexes:
            return
        for i in indexes:
            form = self.query_one(f"#entity{i}-form", EntityForm)
            form.query_one("#f-connstr", Field).set_status(VERIFYING)
            form.query_one("#f-select", Field).set_status(None)
        self.notify("verifying " + " and ".join(f"Data Entity {i}" for i in indexes) +
                    "… (Esc to cancel)")
        self.start_verify(self.current, indexes, self._other_verified(indexes))

    def action_cancel_verify(self) -> None:
        """Cancel the verify going (Esc, or F2 again): its wait for an answer ends now."""
        if self.verify_stop is not None and not self.verify_stop.is_set():
            self.verify_stop.set()
            self.refresh_bindings()
            self.notify("cancelling the verify…")

    def _other_verified(self, indexes: tuple[int, ...]) -> bool:
        """Whether verifying ``indexes`` verifies both entities: both asked for, or the other
        one verified ok before with its settings as they are now (then the mapping is checked)."""
        conn = self.current
        if len(indexes) == 2:
            return True
        if conn is None or conn.path is None:
            return False
        other = 3 - indexes[0]
        found = self.tables_found.get((conn.path, other))
        own = len(jobs.table_key(conn, other)) // 2  # (its own settings come first)
        return found is not None and found[:own] == jobs.table_key(conn, other)[:own]

    def action_preview(self) -> None:
        """Preview Data, once the edits typed just before the key have reached the model."""
        self.call_after_refresh(self.preview_now)

    def preview_now(self) -> None:
        """Preview Data of the entity shown (Data Entity 1 from the other pages)."""
        if self.current is None:
            return
        index = self.page_entity() or 1
        lacking = unfinished(self.current, index)
        if lacking is not None:
            self.notify(lacking, title="No preview", severity="error")
            return
        self.notify(reading_notice(index))
        self.preview_worker(jobs.snapshot(self.current), index, self._prompts().get(index))

    def action_describe(self) -> None:
        """Load Columns of both entities for the Mappings page."""
        if self.current is None:
            return
        lacking = unfinished(self.current, 1) or unfinished(self.current, 2)
        if lacking is not None:
            self.notify(lacking, title="Columns not loaded", severity="error")
            return
        self.query_one("#mapping-status").update("loading columns…")  # type: ignore[attr-defined]
        self.describe_worker(jobs.snapshot(self.current), self._prompts())

    def on_verify_done(self, event: messages.VerifyDone) -> None:
        """Show the verify result under the connection string (unless it, the select or the
        primary key was edited since), and as a notification; a SQL entity without its table
        is offered Create Table. A verify cancelled says so, as no failure of the entity's."""
        if event.message == jobs.VERIFY_CANCELLED:
            if self.current is not None and self.current.path == event.path:
                self.connstr_status(event.index, jobs.VERIFY_CANCELLED)
            self.notify(jobs.VERIFY_CANCELLED, title=f"Data Entity {event.index}: not verified")
            return
        text = event.message + "".join(f"; {w}" for w in event.warnings)
        if event.plan is not None:
            text += (f"; Create Table (F4) makes the table from the columns of Data Entity "
                     f"{event.plan.source}")
        elif event.table_missing and event.why_not:
            text += f"; Create Table cannot make it: {event.why_not}"
        if event.path is not None:
            if event.plan is not None:
                self.table_offers[(event.path, event.index)] = (event.key, event.plan)
            else:
                self.table_offers.pop((event.path, event.index), None)
            if event.ok and not event.table_missing:
                self.tables_found[(event.path, event.index)] = event.key
            else:
                self.tables_found.pop((event.path, event.index), None)
            self.sync_actions()
        conn = self.current
        if conn is not None and conn.path == event.path and verified_as_shown(conn, event):
            # information: it never blocks Save. A select refused (not a missing table: Create
            # Table's offer goes with the connection) is said under the select; another
            # setting (a primary key, the entity set the URL names) under the connection string
            if not event.ok and event.in_settings and not event.table_missing and \
                    event.setting in ("select", ""):
                self.connstr_status(event.index, "the Select Statement was refused (below)")
                form = self.query_one(f"#entity{event.index}-form", EntityForm)
                form.query_one("#f-select", Field).set_status(f"✗ {text}", failed=True)
            else:
                self.connstr_status(event.index, f"✓ {text}" if event.ok else f"✗ {text}",
                                    failed=not event.ok)
        self.notify(text, title=f"Data Entity {event.index}: " + ("verified" if event.ok else "failed"),
                    severity="information" if event.ok else "error")

    def on_mapping_checked(self, event: messages.MappingChecked) -> None:
        """Say whether the mapping holds against both entities verified (as a run checks it):
        a failure with its key and message."""
        if self.current is None or self.current.path != event.path:
            return
        if event.message == jobs.VERIFY_CANCELLED:
            self.notify(event.message, title="Mapping: not checked")
            return
        text = event.message + "".join(f"; {w}" for w in event.warnings)
        self.notify(text, title="Mapping: " + ("verified" if event.ok else "failed"),
                    severity="information" if event.ok else "error",
                    timeout=8 if not event.ok else self.NOTIFICATION_TIMEOUT)

    def action_create_table(self) -> None:
        """Create Table: show the CREATE TABLE that Verify planned; Create runs it in a worker."""
        conn, plan = self.current, self.table_offer()
        if conn is None or isinstance(self.screen, CreateTableScreen):
            return
        if plan is None:
            self._no_table_to_create(conn)
            return

        def name(index: int) -> str:
            """The entity, and its title unless it is only that again (a new connection's)."""
            title, entity = conn.entity(index).title.strip(), f"Data Entity {index}"
            return entity if title.casefold() in ("", entity.casefold()) else f"{entity} ({title})"

        def answer(create: bool | None) -> None:
            if not create:  # (Cancel has the focus: Enter must not pass silently)
                self.notify("no table was created", title="Create Table")
                return
            if conn.path is not None:  # asked once: Verify offers it again if it is still missing
                self.table_offers.pop((conn.path, plan.index), None)
            self.sync_actions()
            self.connstr_status(plan.index, "creating the table…")
            self.notify(f"creating the table of Data Entity {plan.index}…")
            self.create_table_worker(jobs.snapshot(conn), plan, self._prompts())

        question = (f"Create the table {plan.place} for {name(plan.index)}, from the columns "
                    f"of {name(plan.source)}? This runs:")
        self.push_screen(CreateTableScreen(question, plan.ddl), answer)

    def _no_table_to_create(self, conn: Connection) -> None:
        """Create Table with nothing to create: say that the table exists, or what to do first."""
        shown = self.page_entity()
        found = [i for i in ((shown,) if shown else (2, 1)) if conn.path is not None and
                 self.tables_found.get((conn.path, i)) == jobs.table_key(conn, i)]
        if found:
            text = (f"the table of Data Entity {found[0]} exists (Verify found it): there is "
                    "nothing to create")
        else:
            text = ("Create Table makes a SQL table that Verify found missing: Verify Connection "
                    "String (F2) first")
        self.notify(text, title="Create Table")

    def on_table_created(self, event: messages.TableCreated) -> None:
        """Create Table ended: say how, then verify the entity again (and reload the columns of
        the Mappings page, if they were loaded)."""
        where = f"Data Entity {event.index}"
        if event.ok:
            self.notify(f"created the table {event.place} for {where}", title="Create Table")
        else:
            self.notify(event.message, title=f"Create Table failed: {where}", severity="error",
                        timeout=10)
        conn = self.current
        if conn is None or conn.path is None or conn.path != event.path:
            return
        self.connstr_status(event.index, f"table created; {VERIFYING}" if event.ok
                            else f"✗ not created: {event.message}", failed=not event.ok)
        self.start_verify(conn, (event.index,))
        if self.columns.pop(conn.path, None) is not None:
            self.action_describe()

    def on_preview_ready(self, event: messages.PreviewReady) -> None:
        """Show the first rows in a pop-up, taking back the notice that they were being read
        (it stayed over the table for its 5 seconds)."""
        self.take_back(reading_notice(event.index))
        self.push_screen(PreviewScreen(event.title, event.columns, event.records,
                                       event.file_name))

    def on_columns_described(self, event: messages.ColumnsDescribed) -> None:
        """Both sides' columns arrived: fill the Mappings page."""
        if self.current is None or self.current.path is None:
            return
        self.columns[self.current.path] = (event.left, event.right)
        self.query_one(MappingEditor).set_columns(event.left, event.right)
        for error in event.errors:
            self.notify(error, title="Load Columns", severity="error")

    def on_device_code_shown(self, event: messages.DeviceCodeShown) -> None:
        """A sign-in waits: show the URL and the code."""
        self.sign_in_screen = DeviceCodeScreen(event.info)
        self.push_screen(self.sign_in_screen)

    def on_history_loaded(self, event: messages.HistoryLoaded) -> None:
        """The run history read by a worker, shown unless another connection is open now; its
        latest run's log too, where the Run page shows no run of this app."""
        if self.current is not None and self.current.path == event.path:
            for panel in self.query(RunPanel):  # none while the app closes
                panel.show_history(event.rows)
                if not self.run_shown():
                    panel.show_last(event.last)

    def on_run_history_chosen(self, event: RunHistory.Chosen) -> None:
        """A run chosen in the history: read it (and its conflicts) to show it."""
        if self.current is not None and self.current.path is not None:
            self.run_details_worker(jobs.snapshot(self.current), event.started)

    def on_run_details_loaded(self, event: messages.RunDetailsLoaded) -> None:
        """Show the chosen run, unless another connection is open now (or it is gone)."""
        if event.details is None:
            self.notify("that run is no longer in the history", title="Run details")
        elif self.current is not None and self.current.path == event.path:
            self.push_screen(RunDetailsScreen(event.details))

    def on_sign_in_ended(self) -> None:
        """The work that could ask for a sign-in ended: close its dialog."""
        screen, self.sign_in_screen = self.sign_in_screen, None
        if screen is not None and screen.is_attached:
            screen.dismiss(None)

    # -- runs --------------------------------------------------------------------------------

    def action_run_now(self) -> None:
        """Run Now: the sync in a worker; the Run page shows it. Once the edits typed just
        before the key have reached the model (the run uses what the fields show)."""
        self.call_after_refresh(self._start_run, False)

    def action_dry_run(self) -> None:
        """Dry Run: plan only, then offer to run (with the edits typed just before the key)."""
        self.call_after_refresh(self._start_run, True)

    def _start_run(self, dry_run: bool, force: bool = False, path: Path | None = None) -> None:
        """Run the open connection (or the one at ``path``, opened first); one run at a time:
        while one goes, say which. A key pressed again at once (a double press, a key repeat)
        is dropped quietly: it was queued before the run it started disabled the key
        (as Run Now is while the connection shown runs), and means that run."""
        if self.running and self._running_this(path):
            return
        if self.running:
            title = self.run_view.title if self.run_view is not None else "another connection"
            self.notify(f"a run of '{title}' is in progress (its Run page shows it); one run at "
                        "a time", title="Not run", severity="warning")
            return
        if path is not None and (self.current is None or self.current.path != path):
            self.open(path)  # (an answer to a dialog of a run while another was shown)
        conn = self.current
        if conn is None or (path is not None and conn.path != path):
            return
        problems = self.form_problems()
        if problems:  # (a field it did not take: the run would go with the value it had)
            self.notify("; ".join(problems), title="Not run: fix the marked fields",
                        severity="error", timeout=8)
            return
        lacking = unfinished(conn, 1) or unfinished(conn, 2)
        if lacking is not None:
            self.notify(lacking, title="Not run: the connection is not complete",
                        severity="error", timeout=8)
            return
        panel = self.query_one(RunPanel)
        self.run_view = panel.own_run()  # the run's from now on, kept while another is shown
        self.run_view.path = conn.path
        self.running = True  # first: Run Now is disabled, so the Run page focuses Cancel
        self.action_page("run")  # (focus left on a hidden page would switch back to it)
        self.cancel_event = threading.Event()
        panel.start(conn.title, dry_run)
        if conn.path in self.workspace.dirty:
            panel.add("(unsaved changes are used for this run)")
        self.run_worker_(jobs.snapshot(conn), self.cancel_event, dry_run, force, self._prompts())

    def _running_this(self, path: Path | None) -> bool:
        """Whether the run going is the one of the connection to run (``path``, else the one
        shown)."""
        target = self.current.path if path is None and self.current is not None else path
        return self.run_view is not None and self.run_view.path == target

    def _run_page(self) -> RunPanel | RunView:
        """Where this app's run goes: the Run page while its connection is open, else the view
        kept of it for when it is open again."""
        if self.run_view is not None and not self.run_shown():
            return self.run_view
        return self.query_one(RunPanel)

    def offer_force(self, refusal: GuardRefused) -> None:
        """A guard (deletions, changed settings) refused a run: offer to run anyway."""
        path = self.run_view.path if self.run_view is not None else None

        def answer(yes: bool | None) -> None:
            if yes:
                self._start_run(dry_run=False, force=True, path=path)

        self.push_screen(ConfirmScreen(refusal.guard, refusal.message + "\n\nRun anyway (force)?",
                                       yes="Run anyway", no="Cancel"), answer)

    def action_schedule(self) -> None:
        """Schedule: the command, crontab line and systemd timer that run the connection's
        saved file unattended (unsaved changes are not what they run: it says so)."""
        conn = self.current
        if conn is None or conn.path is None or isinstance(self.screen, ModalScreen):
            return
        saved = self.workspace.saved(conn.path)
        self.push_screen(ScheduleScreen(saved, self.paths,
                                        unsaved=conn.path in self.workspace.dirty))

    def action_cancel_run(self) -> None:
        """Cancel the run: the engine stops at its next check and reports "cancelled"."""
        if self.cancel_event is not None and not self.cancel_event.is_set():
            self.cancel_event.set()
            self._run_page().cancelling()
            self.notify("cancelling the run…")

    def on_run_progress(self, event: messages.RunProgress) -> None:
        """One progress step of the run."""
        self._run_page().progress(event.event)

    def on_run_event(self, event: messages.RunEvent) -> None:
        """One engine event of the run, as a log line."""
        self._run_page().event(event.event)

    def on_run_done(self, event: messages.RunDone) -> None:
        """The run ended: its summary; after a dry run, offer to run."""
        report = event.report
        self._run_page().finish(report)
        path = self.run_view.path if self.run_view is not None else None
        severity: SeverityLevel = "information" if report.ok else (
            "warning" if report.outcome != "failed" else "error")
        which = "" if self.run_shown() else f" of {report.connection}"  # (another is open)
        self.notify(report_body(report), title=f"Run{which}: {outcome_label(report.outcome)}",
                    severity=severity)
        if event.dry_run and report.outcome == "dry_run":
            def answer(yes: bool | None) -> None:
                if yes:
                    self._start_run(dry_run=False, path=path)

            self.push_screen(ConfirmScreen("Dry run: the plan", plan_text(report.plan) +
                                           dry_run_warning(report) + "\n\nRun now?",
                                           yes="Run Now", no="Close"), answer)

    # -- errors, in one place ----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's failure ends here: a notification or dialog, never a traceback."""
        worker = event.worker
        if event.state == WorkerState.ERROR:
            self.show_error(worker.error, title=f"{worker.name or 'work'} failed")
            if worker.group == "run":
                self._run_page().stopped(f"run stopped: {one_line(worker.error)}")
                if isinstance(worker.error, GuardRefused):
                    self.offer_force(worker.error)
        if worker is self.verify_job and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                         WorkerState.CANCELLED):
            self.verify_job = self.verify_stop = None  # (Esc no longer cancels it)
            if self.screen_stack:  # (none left: the app closes)
                self.refresh_bindings()
        if worker.group == "run" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                     WorkerState.CANCELLED):
            self.running = False
            self.cancel_event = None


def reading_notice(index: int) -> str:
    """The notice Preview Data shows while it reads an entity's first rows."""
    return f"reading the first rows of Data Entity {index}…"


def verified_as_shown(conn: Connection, event: messages.VerifyDone) -> bool:
    """Whether the entity still reads what was verified (its connection string, select and
    primary key): a result for other settings is not shown in place."""
    entity = conn.entity(event.index)
    return (entity.connection_string, entity.select, tuple(entity.primary_key)) == \
        (event.connection_string, event.select, event.primary_key)
