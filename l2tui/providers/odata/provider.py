"""The OData provider: Dynamics 365 (Dataverse) Web API and any OData v4 service.

``ProviderContext.options`` keys it reads (all optional):

* ``msal_http_client``: a requests.Session MSAL sends sign-in requests through (tests, emulator);
* ``retry_max``, ``retry_base_delay``, ``retry_max_delay``, ``retry_max_throttled``,
  ``retry_max_retry_after``, ``retry_jitter``: the retry policy (see ``http.RetryPolicy``);
* ``page_size``, ``batch_size``, ``parallel``: override the PageSize/BatchSize/Parallel keys.

The environment variable ``L2TUI_AUTHORITY_REWRITE=https://login.fake.test=http://127.0.0.1:PORT``
sends MSAL's requests for the first prefix to the second: a testing/emulator aid.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence

from l2tui.config.model import Entity
from l2tui.config.names import names_hint
from l2tui.config.specs import SelectError
from l2tui.errors import ConfigError, ConnectError, L2Error
from l2tui.providers.base import (
    Capabilities,
    Change,
    Column,
    Key,
    Page,
    Provider,
    ProviderContext,
    ReadStream,
    Record,
    RecordTransform,
    SeenFilter,
    VerifyResult,
    WriteOutcome,
)
from l2tui.providers.odata import keys_first
from l2tui.providers.odata.auth import make_authenticator, request_timeout
from l2tui.providers.odata.connstr import ODataSettings, parse_settings
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.http import HttpClient, RetryPolicy, sleep_until
from l2tui.providers.odata.pages import PageDecoder
from l2tui.providers.odata.read import ODataReadStream, ReadPlan, build_query
from l2tui.providers.odata.schema import UnknownEntitySet, load_schema
from l2tui.providers.odata.spec import declaration
from l2tui.providers.odata.write import Writer

__all__ = ["ODataProvider"]


class ODataProvider(Provider):
    """Reads and writes one entity set of an OData service."""

    name = "odata"

    def __init__(self, entity: Entity, context: ProviderContext) -> None:
        super().__init__(entity, context)
        self.settings: ODataSettings = parse_settings(entity.connection_string)
        try:
            declaration().SPEC.validate_select(entity.select or "")
        except SelectError as exc:
            raise ConfigError(str(exc), key="select") from None
        self.options = declaration().parse_options(entity.select or "")
        self._http: HttpClient | None = None
        self._schema: EntitySchema | None = None
        self._lock = threading.Lock()
        self._schema_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------

    def _option(self, name: str, default: int) -> int:
        return int(self.context.options.get(name, default))

    @property
    def http(self) -> HttpClient:
        """The HTTP client, signed in on first use."""
        with self._lock:
            if self._http is None:
                self._http = HttpClient(
                    make_authenticator(self.settings, self.context),
                    timeout=request_timeout(self.settings.timeout, self.context.options),
                    ca_bundle=self.settings.ca_bundle,
                    policy=RetryPolicy.from_options(self.context.options),
                    log=self._log,
                    pool_size=self._option("parallel", self.settings.parallel) + 4,
                    **({"sleep": sleep_until(self.context.stop)} if self.context.stop else {}),
                    stop=self.context.stop,
                    service=self.settings.service_root,
                )
            return self._http

    def _log(self, message: str) -> None:
        http = self._http
        self.context.log(http.redact(message) if http is not None else message)

    def schema(self) -> EntitySchema:
        """The entity set's schema, loaded once (a read stream may ask from its own thread)."""
        with self._schema_lock:
            return self._load_schema()

    def _load_schema(self) -> EntitySchema:
        if self._schema is None:
            try:
                self._schema = load_schema(
                    self.http, self.settings.service_root, self.settings.entity_set, self._log,
                    self._selected(),
                )
            except UnknownEntitySet as exc:  # (the service answered: URL names the wrong set)
                raise ConfigError(f"the service at {self.settings.host} has no entity set "
                                  f"'{exc.entity_set}' ({exc.hint})",
                                  key="connection_string") from None
            except ValueError as exc:
                raise ConnectError(f"{self.settings.host}: {exc}") from None
        return self._schema

    def _selected(self) -> list[str] | None:
        return declaration().selected_columns(self.entity.select or "")  # type: ignore[no-any-return]

    def _tracking_possible(self) -> bool:
        names = {name for name, _ in self.options}
        return not names.intersection(declaration().NO_CHANGE_TRACKING)

    def _plan(self, page_size: int | None = None) -> ReadPlan:
        has_top = any(name == "$top" for name, _ in self.options)
        size = None if has_top else (page_size or self._option("page_size", self.settings.page_size))
        query = build_query(self.options)
        url = self.settings.entity_url + (f"?{query}" if query else "")
        selected = self._selected()
        keep = None if selected is None else frozenset(selected)
        return ReadPlan(url, size, self._tracking_possible(), keep, self.settings.entity_url,
                        tuple(self.options), self._option("parallel", self.settings.parallel))

    # -- Provider -------------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Sign in, read the schema and one row; say so in a line.

        A person is waiting: a service that does not answer is not tried again, as a
        scheduled run patiently does (``VERIFY_OPTIONS`` make the sign-in as impatient).
        """
        patient = self.http.policy
        self.http.policy = dataclasses.replace(patient, max_retries=0)
        try:
            self.http.auth.check()
            columns = self.describe()
            stream = ODataReadStream(self.http, self.schema, self._plan(page_size=1), None,
                                     self._log)
            next(iter(stream), None)
        except ConfigError as exc:
            return VerifyResult(False, self._redact(str(exc)), in_settings=True,
                                setting=exc.key or "")
        except (L2Error, ValueError, OSError) as exc:
            return VerifyResult(False, self._redact(str(exc)))
        finally:
            self.http.policy = patient
        account = self.http.auth.account
        who = f" as {account}" if account and account != "anonymous" else ""
        if self.http.auth.from_cache:  # (a person may wonder why no password was asked for)
            who += " (signed in from the token cache)"
        schema = self.schema()
        tracked = schema.change_tracking and self._tracking_possible()
        if tracked:
            tracking = "change tracking on"
        elif schema.change_tracking:
            tracking = "change tracking off ($filter/$orderby/$top given)"
        else:
            tracking = "no change tracking"
        if not tracked and keys_first.possible(self.options, schema.key, schema.dataverse):
            tracking += ": a run reads keys and ETags first, then the rows changed"
        message = (
            f"Connected to {self.settings.host}{who} — {self.settings.entity_set}: "
            f"{len(columns)} columns, {tracking}"
        )
        return VerifyResult(True, message)

    def describe(self) -> list[Column]:
        """The columns the select returns: every column, or those $select names plus the key;
        ConfigError for a primary key that is not one of them (as a SQL entity's describe)."""
        schema = self.schema()
        selected = self._selected()
        if selected is None:  # (a `<x>name` column only when named: each costs an annotation)
            columns = [c for c in schema.columns if c.name not in schema.labels]
        else:
            unknown = [name for name in selected if schema.column(name) is None]
            if unknown:
                raise ConfigError(_not_a_column(unknown[0], schema), key="select")
            wanted = set(selected) | set(schema.key)
            columns = [c for c in schema.columns if c.name in wanted]
        _check_primary_key(self.entity.primary_key, columns, schema)
        return columns

    def read(self, cursor: str | None = None, *, seen: SeenFilter | None = None,
             transform: RecordTransform | None = None) -> ReadStream:
        """Every record; with a deltaLink cursor, only the changes since (or all, if refused).
        ``seen`` is asked about each full-read page's keys and ETags; ``transform``, if given, is
        applied to each record (in a second process for a long read)."""
        return ODataReadStream(self.http, self.schema, self._plan(), cursor, self._log,
                               seen=seen, transform=transform)

    def read_keys(self, keys: Sequence[Key]) -> Iterator[Page] | None:
        """The records of these keys the select returns, asked for by key as a keys-first read
        asks (``Microsoft.Dynamics.CRM.In``); None where that read is not possible."""
        schema = self.schema()
        plan = self._plan().with_labels(schema.labels)
        if not keys_first.possible(plan.options, schema.key, schema.dataverse):
            return None
        return self._rows_by_key(plan, schema, [key[0] for key in keys])

    def _rows_by_key(self, plan: ReadPlan, schema: EntitySchema,
                     values: list[object]) -> Iterator[Page]:
        """``read_keys``'s pages, a request per ``KEYS_PER_REQUEST`` keys, the connection's
        Parallel at once, in the keys' order; logged as read."""
        decoder = PageDecoder(schema, plan.columns)
        rows = 0
        for answered in keys_first.pages_by_key(
                self.http, lambda asked: f"{plan.entity_url}?{build_query(asked)}",
                list(plan.options), decoder, {"Prefer": plan.prefer(False)}, values,
                plan.parallel):
            for page in answered:
                rows += page.size
                yield page
        self._log(f"read {rows} of {len(values)} row{'' if len(values) == 1 else 's'} by key "
                  f"from {schema.entity_set}")

    def has_rows(self) -> bool | None:
        """Whether the entity set holds any row (the select's ``$filter`` not applied: one that
        leaves out the rows a run writes must not make the set look emptied): one request with
        ``$top=1``, the key alone selected."""
        key = self.schema().key
        options = [("$select", ",".join(key))] if key else []
        query = build_query([*options, ("$top", "1")])
        body = self.http.get_json(f"{self.settings.entity_url}?{query}")
        return bool(body.get("value")) if isinstance(body, dict) else None

    def preview(self, rows: int = 20) -> tuple[list[Column], list[Record]]:
        """The first rows, asking for one small page."""
        stream = ODataReadStream(self.http, self.schema, self._plan(page_size=max(1, rows)),
                                 None, self._log)
        out: list[Record] = []
        for page in stream:
            out.extend(page.records[: rows - len(out)])
            if len(out) >= rows:
                break
        return self.describe(), out

    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """Creates, updates and deletes in $batch change sets."""
        return self._writer().write(changes)

    def convert(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """Each change's request made as ``write`` makes it (its values as JSON), not sent."""
        return self._writer().convert(changes)

    def _writer(self) -> Writer:
        return Writer(
            self.http, self.settings.service_root, self.schema(),
            batch_size=self._option("batch_size", self.settings.batch_size),
            parallel=self._option("parallel", self.settings.parallel),
            log=self._log, partial=any(name in ("$filter", "$top") for name, _ in self.options),
            stop=self.context.stop,
        )

    def capabilities(self) -> Capabilities:
        """Writable when the entity set has a key; deltas when change tracking can be used."""
        schema = self.schema()
        reason = "" if schema.key else f"{schema.entity_set} declares no key"
        return Capabilities(
            can_write=bool(schema.key),
            can_delta=schema.change_tracking and self._tracking_possible(),
            batch_size=self._option("batch_size", self.settings.batch_size),
            read_only_reason=reason,
            complete=not any(name == "$top" for name, _ in self.options),
            checks_versions=True,
            keys_ignore_case=True,
        )

    def close(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            self._http.close()

    def _redact(self, text: str) -> str:
        return self._http.redact(text) if self._http is not None else text


def _not_a_column(name: str, schema: EntitySchema) -> str:
    """Why a name the select lists is no column: a `<x>name` whose base has none is said so."""
    base = name[:-len("name")] if name.endswith("name") and schema.dataverse else ""
    column = schema.column(base) or schema.column(f"_{base}_value") if base else None
    if column is None:
        return f"'{name}' is not a column of {schema.entity_set} ({_columns_hint(name, schema)})"
    return (f"'{name}' is not a column of {schema.entity_set}: only a choice or a lookup has a "
            f"name column, and {column.name} is neither")


def _check_primary_key(primary_key: list[str], columns: list[Column],
                       schema: EntitySchema) -> None:
    """Each primary-key column must be one the select returns (a run matches items by it)."""
    returned = {c.name.casefold() for c in columns}
    known = {c.name.casefold() for c in schema.columns}
    for key in primary_key:
        if key.casefold() in returned:
            continue
        if key.casefold() in known:
            raise ConfigError(f"column {key!r} is not in the select's $select; add it there",
                              key="primary_key")
        raise ConfigError(f"column {key!r} not found in entity set {schema.entity_set!r} "
                          f"({_columns_hint(key, schema)})", key="primary_key")


def _columns_hint(name: str, schema: EntitySchema) -> str:
    """The column a mistyped name likely meant, else the first of the entity set's."""
    return names_hint(name, [c.name for c in schema.columns])
