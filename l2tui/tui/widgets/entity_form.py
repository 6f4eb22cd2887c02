"""A Data Entity page: title, data provider, connection string, password, select and key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Select, TextArea

from l2tui.config.connstr import ConnectionStringError
from l2tui.config.model import Connection, Entity
from l2tui.config.specs import ProviderSpec, SelectError, all_specs, find_spec, looks_like_url
from l2tui.tui.messages import Edited, ReadsChanged, SecretTyped
from l2tui.tui.widgets.fields import Field, SearchSelect, TextEditor, TextInput

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SQL_PROVIDERS = ("sqlserver", "postgresql", "mysql", "sqlite")


class StatementArea(TextEditor):
    """The select statement's editor. F6 and F7 go on to the app (Dry Run, Duplicate), as in
    every other field, instead of selecting the line or all text. Its keys are an Input's:
    ctrl+a goes to the start (of the line), as ctrl+e goes to its end, and ctrl+shift+a selects
    all (where the terminal tells it from ctrl+a)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # in place of TextArea's own F6 and F7, disabled (``check_action``): the footer shows
        # the app's F6 in its own place (shown here, it came first; hidden, it hid the app's)
        Binding("f6", "pass_on", show=False),
        Binding("f7", "pass_on", show=False),
        Binding("ctrl+shift+a", "select_all", "Select all", show=False)]

    to_end_on_focus = False  # set when a select is loaded (its cursor then at its start)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``pass_on`` is never this field's: its key goes on to the app's binding."""
        return False if action == "pass_on" else super().check_action(action, parameters)

    def on_focus(self) -> None:
        """The first focus after a load puts the cursor at the end, as in the one-line fields:
        at the start, a word typed after Tab went before the select ("xaccounts"). Shown
        unfocused, it still begins at its start (a click places the cursor after this)."""
        if self.to_end_on_focus:
            self.to_end_on_focus = False
            self.move_cursor(self.document.end)


def connection_string_problem(spec: ProviderSpec | None, text: str) -> str | None:
    """Why a connection string does not suit the provider, or None. An empty one is not a
    problem yet (its hint says it is required): a half-filled connection can be saved, and a
    run says what is missing."""
    if spec is None or not text.strip():
        return None
    if spec.accepts_url and looks_like_url(text):
        return None
    try:
        spec.parse(text)
    except (ConnectionStringError, ValueError) as exc:
        return str(exc)
    return None


def readable(connection_string: str) -> str:
    """A connection string with a space after each ';', so a hint wraps between its keys rather
    than mid-word (the parser ignores the spaces, so it still works when copied)."""
    return re.sub(r";(?=\S)", "; ", connection_string)


def relative_file(spec: ProviderSpec | None, text: str) -> str | None:
    """A SQLite ``Data Source`` given as a relative path (taken from the working folder), or
    None: for any other provider, an absolute or home path (``~/``), or a string not valid."""
    if spec is None or spec.name != "sqlite" or looks_like_url(text):
        return None
    key = spec.key("Data Source")
    try:
        source = spec.parse(text).first(*key.names()) if key is not None else None
    except (ConnectionStringError, ValueError):
        return None
    if source is None or source == ":memory:" or source.startswith("~") or \
            Path(source).is_absolute():
        return None
    return source


def connection_string_hint(spec: ProviderSpec | None, text: str = "") -> str:
    """The neutral help line under the connection string: while it is empty, that it is required
    and an example; a relative SQLite file, where it is taken from (cron and systemd start in
    another folder: the README says to give it whole); else the provider's keys."""
    if spec is None:
        return ""
    if not text.strip():
        return "required: " + readable(spec.example_connection_string)
    if relative_file(spec, text) is not None:
        return (f"a relative Data Source is taken from the folder l2tui starts in (now "
                f"{Path.cwd()}; cron and systemd start in another): give an absolute path")
    if spec.used_keys:
        return "keys: " + ", ".join(spec.used_keys)
    return "keys: " + ", ".join(k.name for k in spec.keys[:6]) + ", …"


def select_problem(spec: ProviderSpec | None, text: str) -> str | None:
    """Why a select statement does not suit the provider, or None."""
    if spec is None or (not text.strip() and spec.name == "odata"):
        return None
    try:
        spec.validate_select(text)
    except SelectError as exc:
        return str(exc)
    return None


class EntityForm(VerticalScroll):
    """Edits Data Entity 1 (left) or Data Entity 2 (right) of the selected connection."""

    BINDING_GROUP_TITLE = "Data Entity"

    def __init__(self, index: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = index
        self.conn: Connection | None = None

    @property
    def entity(self) -> Entity | None:
        """The entity this page edits."""
        return self.conn.entity(self.index) if self.conn else None

    def compose(self) -> ComposeResult:
        """The fields in the order of the guide."""
        yield Field("Data Entity Title", TextInput(id="title", placeholder="e.g. Dynamics accounts"),
                    "a meaningful name for this side", id="f-title")
        providers = [(spec.title, spec.name) for spec in all_specs()]
        yield Field("Data Provider", SearchSelect(providers, prompt="Select a data provider (type to search)",
                                                  type_to_search=True, id="provider"),
                    "open it and type to search, e.g. OData or SQL", id="f-provider")
        yield Field("Connection String", TextInput(id="connstr"), "", id="f-connstr")
        with Horizontal(classes="page-buttons"):
            yield Button("Verify Connection String", id="page-verify", action="app.verify")
            yield Button("Preview Data", id="page-preview", action="app.preview")
        yield Field("Password", TextInput(id="password", password=True,
                                      placeholder="kept in the keyring, never in the file"),
                    "masked; stored in the OS keyring on Save Changes", id="f-password")
        yield Field("Password variable", TextInput(id="password-env", placeholder="e.g. CRM_PASSWORD"),
                    "or read the password from this environment variable", id="f-password-env")
        yield Field("Select Statement", StatementArea(id="select", soft_wrap=True, show_line_numbers=False),
                    "", id="f-select")
        yield Field("Primary Key", TextInput(id="primary-key", placeholder="e.g. accountid"),
                    "column name(s), comma-separated; empty: the provider's key", id="f-primary-key")

    def load(self, conn: Connection, secret_typed: bool = False) -> None:
        """Show a connection's entity (without marking it edited)."""
        self.conn = conn
        entity = conn.entity(self.index)
        spec = find_spec(entity.provider) if entity.provider else None
        with self.prevent(Input.Changed, Select.Changed, TextArea.Changed):
            self.query_one("#title", Input).value = entity.title
            self.query_one("#provider", Select).value = spec.name if spec else Select.NULL
            self.query_one("#connstr", Input).value = entity.connection_string
            password = self.query_one("#password", Input)
            password.value = ""
            password.placeholder = ("typed, saved to the keyring on Save Changes" if secret_typed
                                    else "kept in the keyring, never in the file")
            self.query_one("#password-env", Input).value = entity.password_env or ""
            self.query_one("#select", TextArea).load_text(entity.select)
            self.query_one("#primary-key", Input).value = ", ".join(entity.primary_key)
        self._apply_spec(spec)
        self.query_one("#select", StatementArea).to_end_on_focus = True
        for field_ in self.query(Field):
            field_.set_problem(None)
            field_.set_status(None)
        if entity.connection_string:
            self.query_one("#f-connstr", Field).set_problem(
                connection_string_problem(spec, entity.connection_string))

    def show_saved(self) -> None:
        """After Save Changes: the connection string as the file has it (a password typed into it
        went to the keyring, and leaves the screen too)."""
        if self.entity is None:
            return
        box = self.query_one("#connstr", Input)
        if box.value.strip() != self.entity.connection_string:
            with self.prevent(Input.Changed):
                box.value = self.entity.connection_string

    def problems(self) -> list[str]:
        """Problems shown on this page."""
        return [f"{f.label}: {f.problem}" for f in self.query(Field) if f.problem]

    def _apply_spec(self, spec: ProviderSpec | None) -> None:
        """Placeholders, hints and highlighting for the chosen provider."""
        connstr = self.query_one("#connstr", Input)
        connstr.placeholder = spec.example_connection_string if spec else "pick a data provider first"
        text = self.entity.connection_string if self.entity is not None else ""
        self.query_one("#f-connstr", Field).set_hint(connection_string_hint(spec, text))
        self.query_one("#f-select", Field).set_hint(
            f"{spec.select_help} — e.g. {spec.example_select}" if spec else "")
        for ident in ("#f-password", "#f-password-env"):  # (a SQLite file has no sign-in)
            self.query_one(ident, Field).display = spec is None or spec.takes_password
        area = self.query_one("#select", TextArea)
        language = "sql" if spec and spec.name in SQL_PROVIDERS else None
        language = language if language in area.available_languages else None
        if area.language != language:  # (a new language loads the text again: keep the cursor)
            cursor = area.cursor_location
            area.language = language
            area.move_cursor(cursor)

    @on(Input.Changed, "#title")
    def _title(self, event: Input.Changed) -> None:
        if self.entity is not None:
            self.entity.title = event.value
            self.post_message(Edited())

    @on(Select.Changed, "#provider")
    def _provider(self, event: Select.Changed) -> None:
        if self.entity is None:
            return
        self.entity.provider = "" if event.value is Select.NULL else str(event.value)
        spec = find_spec(self.entity.provider) if self.entity.provider else None
        if spec is not None and not spec.takes_password:
            self._drop_password()
        self._apply_spec(spec)
        self._check_connstr()
        self._check_select()
        self.post_message(ReadsChanged())
        self.post_message(Edited())

    def _drop_password(self) -> None:
        """Empty the (now hidden) password fields: a password typed for the provider before is
        not this one's, and must not go to the keyring on Save Changes (nor one typed before
        the connection was shown again, which the field no longer shows); nor its variable to
        the file, and Schedule ask for it."""
        password = self.query_one("#password", Input)
        with self.prevent(Input.Changed):
            password.value = ""
            self.query_one("#password-env", Input).value = ""
        self.query_one("#f-password-env", Field).set_problem(None)
        if self.entity is not None:
            self.entity.password_env = None
        password.placeholder = "kept in the keyring, never in the file"
        self.query_one("#f-password", Field).set_status(None)
        self.post_message(SecretTyped(self.index, ""))

    @on(Input.Changed, "#connstr")
    def _connstr(self, event: Input.Changed) -> None:
        if self.entity is not None:
            self.entity.connection_string = event.value.strip()
            self._check_connstr()
            self.post_message(ReadsChanged())
            self.post_message(Edited())

    @on(Input.Changed, "#password")
    def _password(self, event: Input.Changed) -> None:
        if self.conn is not None:
            self.query_one("#f-password", Field).set_status(None)
            if event.input.has_focus:  # (typed: a verify result was for another password)
                self.query_one("#f-connstr", Field).set_status(None)
            self.post_message(SecretTyped(self.index, event.value))
            self.post_message(Edited())

    @on(Input.Changed, "#password-env")
    def _password_env(self, event: Input.Changed) -> None:
        if self.entity is None:
            return
        name = event.value.strip()
        valid = not name or ENV_NAME.fullmatch(name) is not None
        self.query_one("#f-password-env", Field).set_problem(
            None if valid else "an environment variable name: letters, digits and _")
        if valid:
            self.entity.password_env = name or None
        self.post_message(Edited())

    @on(TextArea.Changed, "#select")
    def _select(self, event: TextArea.Changed) -> None:
        if self.entity is not None:
            self.entity.select = event.text_area.text
            self._check_select()
            self.post_message(ReadsChanged())
            self.post_message(Edited())

    @on(Input.Changed, "#primary-key")
    def _primary_key(self, event: Input.Changed) -> None:
        if self.entity is not None:
            self.entity.primary_key = [k.strip() for k in event.value.split(",") if k.strip()]
            self._withdraw_verify()
            self.post_message(Edited())

    def _check_connstr(self) -> None:
        """Check the string as typed; a verify result (or "verifying…") was for another one."""
        assert self.entity is not None
        spec = find_spec(self.entity.provider) if self.entity.provider else None
        field_ = self.query_one("#f-connstr", Field)
        field_.set_status(None)
        field_.set_hint(connection_string_hint(spec, self.entity.connection_string))
        field_.set_problem(connection_string_problem(spec, self.entity.connection_string))

    def _check_select(self) -> None:
        """Check the select as typed; a verify result was for another one."""
        assert self.entity is not None
        spec = find_spec(self.entity.provider) if self.entity.provider else None
        field_ = self.query_one("#f-select", Field)
        field_.set_status(None)
        field_.set_problem(select_problem(spec, self.entity.select))
        self._withdraw_verify()

    def _withdraw_verify(self) -> None:
        """Take back the verify result under the connection string: it was for the select and
        primary key as they were ("accounts: 4 columns", "the Select Statement was refused
        (below)" with nothing below any more)."""
        self.query_one("#f-connstr", Field).set_status(None)

