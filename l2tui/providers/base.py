"""The one interface every data provider implements; providers know their protocol, not sync."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import InvalidOperation
from enum import StrEnum
from typing import Any, Protocol

from l2tui.config.model import Entity
from l2tui.errors import ConnectError

Record = dict[str, Any]
"""One item as a provider reads or writes it: column name → Python value."""

Key = tuple[Any, ...]
"""The values of an item's primary-key columns, in ``describe()`` key order."""


class ColumnType(StrEnum):
    """Logical column types shared by all providers, used to map and normalise values."""

    GUID = "guid"
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    BINARY = "binary"
    OTHER = "other"


MICROSECONDS = 6
"""The digits of a second a Python datetime holds: the most a ``Column.fraction_digits`` says."""


@dataclass(frozen=True)
class Column:
    """One column of what the select statement returns."""

    name: str
    type: ColumnType = ColumnType.STRING
    nullable: bool = True
    read_only: bool = False
    key: bool = False
    native_type: str = ""
    max_length: int | None = None
    lookup_target: str | None = None  # OData lookups: the entity set a `_x_value` column points to
    stored_as_double: bool = False  # a DECIMAL column whose values the database keeps as doubles
    #                                 (SQLite: NUMERIC affinity stores a fraction as REAL)
    fraction_digits: int = 0  # a DATETIME column: the digits of a second it holds (0: whole
    #                           seconds, as Dataverse; 6: microseconds, as PostgreSQL TIMESTAMP)
    precision: int | None = None  # a DECIMAL column's digits in all, when known (an INTEGER's
    #                               when beyond a BIGINT's: MySQL's BIGINT UNSIGNED holds 20)
    scale: int | None = None  # a DECIMAL column's digits after the point, when known
    single_float: bool = False  # a FLOAT column of single precision (MySQL FLOAT, REAL): it
    #                             holds 6 significant digits of what it is given
    blank_padded: bool = False  # a CHAR(n) column: its values' trailing blanks are not its own
    #                             (MySQL gives them back without, PostgreSQL and SQL Server padded)
    keeps_text: bool = False  # a column that stores a text not of its type as it is (a plain
    #                           SQLite INTEGER column, by type affinity; not a STRICT table's, nor
    #                           an INTEGER PRIMARY KEY): such a text does not fail its row
    ignores_case: bool = False  # a text column whose collation compares in any case, as a
    #                             key ('abc' is 'ABC'): MySQL/MariaDB `_ci`, SQL Server `_CI_`
    filled_from: str | None = None  # a read-only column the service fills from another (a
    #                                 Dataverse choice's label `statecodename`: "statecode")

    def __post_init__(self) -> None:
        # a plain str: a reflected name is SQLAlchemy's str subclass, and a run's mapping pickled
        # with it would load SQLAlchemy into the process that decodes pages (0.3 s of its start)
        if type(self.name) is not str:
            object.__setattr__(self, "name", str(self.name))


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do with this entity."""

    can_write: bool
    can_delta: bool
    batch_size: int = 500
    read_only_reason: str = ""
    complete: bool = True  # False: a full read stops at a row limit ($top), so an item missing
    #                        from it may have been pushed out, not deleted
    checks_versions: bool = False  # an update given ``Change.version`` is made only if the record
    #                                is still at that version (Dataverse: If-Match with its ETag)
    keys_ignore_case: bool = False  # texts of a key compare in any case, trailing blanks ignored
    #                                 (Dataverse's alternate keys: 'AC-1' and 'ac-1 ' are one)


@dataclass(frozen=True)
class VerifyResult:
    """The answer to "can we connect and read?", in a line a person reads."""

    ok: bool
    message: str
    details: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    in_settings: bool = False  # failed over the entity's settings (a select), not the connection
    setting: str = ""  # the key of the setting it failed over (select, primary_key, …), if known
    table_missing: bool = False  # failed because the entity's table is not there (it can be created)


def shown_value(value: Any, most: int = 60) -> str:
    """A value as an error names it: its ``repr``, cut to ``most`` characters ("...")."""
    shown = repr(value)
    return shown if len(shown) <= most else shown[:most - 3] + "..."


@dataclass(frozen=True)
class Unreadable:
    """A value of a page's record that could not be read as its column's type (the record holds
    it as the database gave it): the record's index in ``Page.records``, the column, and a line
    that names both the column and the value."""

    index: int
    column: str
    message: str


@dataclass
class Page:
    """One page of a read: records, plus the keys of records deleted (delta reads only).

    ``versions``, when the provider has them, holds one token per record that changes whenever
    the item changes (an OData ETag: Dataverse's row version); a run skips comparing the values
    of an item whose version it has seen before. Empty, or None for a record: not known.

    ``unreadable`` names the values a provider could not convert (text in a SQLite date column
    that is no date): a run fails the items whose synced columns hold one, and leaves their pairs
    as they are. Indexes into ``records`` (a read that makes ``items`` does not set it).
    """

    records: list[Record] = field(default_factory=list)
    deleted: list[Key] = field(default_factory=list)
    versions: list[str | None] = field(default_factory=list)
    skipped: int = 0  # records left out, never converted, because the read's ``seen`` said so
    items: list[Any] | None = None  # the read's ``transform`` of each record, in their place
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many records the page stood for: converted (as records or items) or skipped."""
        return len(self.records if self.items is None else self.items) + self.skipped


RecordTransform = Callable[[Record], tuple[Any, ...]]
"""What a run makes of each record it reads (normalised values and a hash), as a tuple of plain
values (str, int, float, bool, None, and lists or tuples of them). Picklable: a provider may run
it in a second process, beside its decoding, while this one writes (``l2tui.offload``). One that
is also an ``EntryTransform`` may be given raw entries instead."""

Converter = Callable[[Any], Any]
"""A provider's conversion of one raw value (not null, as the service sent it) into the value its
record holds. It may raise one of ``CONVERSION_ERRORS``: the record then holds the raw value.

A value already of its column's Python type (``int`` of an INTEGER column, ``Decimal`` of a
DECIMAL, ``float`` of a FLOAT, ``bool`` of a BOOLEAN, ``str`` of a STRING) it returns as it is;
a DATETIME column's UTC text ``YYYY-MM-DDTHH:MM:SSZ`` it reads as the moment it spells (or
raises). ``EntryTransform.over_entries`` may rely on both to leave such values unconverted."""

CONVERSION_ERRORS = (ValueError, TypeError, InvalidOperation)
"""What a ``Converter`` raises for a value it cannot convert."""


class EntryTransform(Protocol):
    """A ``RecordTransform`` that can also take a provider's raw entries: the provider then
    builds no record (a dict a row) only for the transform to read it."""

    def __call__(self, record: Record) -> tuple[Any, ...]:
        """The transform of one record."""

    def over_entries(self, converters: Mapping[str, Converter | None], complete: bool
                     ) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
        """This transform as a function of a raw entry, equal to the transform of the entry's
        record. The record holds, of each column in ``converters`` that the entry has, its value
        converted (None: kept as it is; a null stays null; kept where conversion raises); of
        another name, nothing if ``complete``, else its raw value (but of an annotation, a name
        with '@': nothing)."""


SeenFilter = Callable[[list[Key], list[str | None]], set[int]]
"""Given a full-read page's record keys (as the source sent them, unconverted) and versions,
the positions of the records the reader has already seen: the provider leaves them out of the
page. It is called from the thread that reads."""


class ReadStream(abc.ABC):
    """Pages of a read; ``cursor`` and ``is_delta`` are valid once the pages are exhausted."""

    cursor: str | None = None
    is_delta: bool = False

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Page]: ...


class ChangeOp(StrEnum):
    """What a write does to one item."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(slots=True)
class Change:
    """One item to write: its key (primary-key column → value) and, for create/update, values.

    Creates carry their key (an OData create carries a client-made GUID so a retried create never
    duplicates); updates carry only the columns that changed. Writes are upserts by key, so
    applying the same Change twice leaves the same result. Slotted, not frozen: a run makes one
    per item written, and a frozen dataclass costs five times as much to build.
    """

    op: ChangeOp
    key: Record
    values: Record = field(default_factory=dict)
    version: str | None = None  # an update: the record's version as the run knows it, where the
    #                             provider checks versions (``Capabilities.checks_versions``)


@dataclass(slots=True)
class WriteOutcome:
    """What happened to one Change, in the order the changes were given."""

    change: Change
    ok: bool
    error: str = ""
    key: Record | None = None  # the item's key after the write (e.g. a generated identity)
    # failed, but the service may have carried it out (a create answered 5xx after every retry):
    # the item may exist on the side without its pair in the state
    unsure: bool = False
    # not written: the record changed since the run read it (``Change.version``); no error, the
    # next run compares it again
    changed: bool = False
    # failed: another row holds a value of a unique index it sets (a write after it may free
    # that value: values swapped between rows written in different batches)
    collided: bool = False
    # failed: an update whose record or row is not there (deleted since it was synced)
    gone: bool = False


class WriteStopped(ConnectError):
    """A write that could not go on (the side stopped answering, or refuses the sign-in).

    ``outcomes`` holds one per change, in order: those written before it stopped are ok (their
    state is worth keeping: a create's key may have been made for this write alone), the others
    failed with this error."""

    def __init__(self, message: str, outcomes: list[WriteOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


@dataclass(slots=True)
class RowBatch:
    """Many creates of one form as positional rows: the values of ``keys``, then of ``columns``.

    What a run's new items become: a first sync creates every item, and a dict pair and a Change
    per row would cost more than the write itself.
    """

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def change(self, index: int) -> Change:
        """Row ``index`` as a CREATE Change."""
        row, split = self.rows[index], len(self.keys)
        return Change(ChangeOp.CREATE, dict(zip(self.keys, row[:split], strict=True)),
                      dict(zip(self.columns, row[split:], strict=True)))


class Provider(abc.ABC):
    """A data entity's source: verify, describe, read and write through one protocol."""

    name: str = ""

    def __init__(self, entity: Entity, context: ProviderContext) -> None:
        self.entity = entity
        self.context = context

    @abc.abstractmethod
    def verify(self) -> VerifyResult:
        """Can we connect and read? Never raises for a connection problem: says it."""

    @abc.abstractmethod
    def describe(self) -> list[Column]:
        """The columns the select statement returns (name, type, nullable, read-only, key)."""

    @abc.abstractmethod
    def read(self, cursor: str | None = None, *, seen: SeenFilter | None = None,
             transform: RecordTransform | None = None) -> ReadStream:
        """Stream every record, or with a cursor only what changed since (deletions included).

        A provider with versions asks ``seen`` about every page of a full read before it converts
        the records, and leaves out those it names (counted in ``Page.skipped``): an incremental
        run without change tracking then spends nothing on the items it has seen. A provider
        without versions never calls it.

        A provider may apply ``transform`` to each record itself, in another process, and hand
        the results on in ``Page.items`` instead of ``records``; one that does not ignores it.
        """

    @abc.abstractmethod
    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """Apply creates, updates and deletes in batches; one outcome per change, in order."""

    def create_rows(self, batch: RowBatch) -> dict[int, WriteOutcome]:
        """Create (upsert by key) every row of a batch, as ``write`` would their Changes.

        Returns the outcomes a caller must look at, by row index: failures, and any row whose
        key after the write is not the one given. A row not in the result was written under its
        given key. This default writes the rows as Changes and returns every outcome.
        """
        changes = [batch.change(i) for i in range(len(batch.rows))]
        return dict(enumerate(self.write(changes)))

    def convert(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """What ``write`` would make of each change before it reaches the target, without
        writing it (a dry run): a failed outcome, with the message ``write`` gives, for a value
        the provider's own conversion refuses (no number, no date, no GUID, …), else success.
        What only the target finds (a constraint, a unique index, a row its select hides) is
        not foreseen. This default converts nothing: every change succeeds."""
        return [WriteOutcome(change, True) for change in changes]

    def read_keys(self, keys: Sequence[Key]) -> Iterator[Page] | None:
        """The records of these provider keys that the select returns now, in pages (a key it
        does not return: the record is gone, or out of the select); None when the provider
        cannot read by key (a run then keeps its change-tracking cursor past a failed item:
        its delta names the item again); ``read_keys([])`` asks which. This default cannot."""
        return None

    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """Whether it can write, deliver deltas, and its best batch size."""

    def asks_nobody(self) -> bool:
        """Whether describing it cannot stop to ask a person anything (a password, a sign-in):
        such a describe may run beside the other side's without two prompts meeting."""
        return False

    def key_columns(self) -> list[str]:
        """Primary-key columns: the entity's ``primary_key``, else those ``describe()`` marks."""
        if self.entity.primary_key:
            return list(self.entity.primary_key)
        return [c.name for c in self.describe() if c.key]

    def repeated_keys(self, columns: Sequence[str], folded: Collection[str] = ()
                      ) -> list[tuple[list[Record], int]]:
        """The values of ``columns`` that more than one record of a full read holds (none null),
        each with how many hold it; asked once a run. A value comes as the records of those
        columns its records hold, each once: more than one where the side takes values that
        differ for one (a SQL key column's collation that ignores case: 'abc' and 'ABC'), or
        the sync does (``folded``: text columns it takes as GUIDs, in any case).
        Empty where they are unique, as a Dataverse key is, or the provider cannot tell."""
        return []

    def repeated_warnings(self, columns: Sequence[str], folded: Collection[str] = ()
                          ) -> list[str]:
        """Verify's warning naming the values of ``columns`` that more than one record holds
        (``repeated_keys``), if any, or why they could not be looked for."""
        return []

    def has_rows(self) -> bool | None:
        """Whether the table or entity set the select reads holds any row, its filter not
        applied (a one-way run's target found so is taken as emptied by hand: a filter that
        leaves out the rows written must not make it look so), asked for one row at most (after
        ``describe``); None where the provider cannot ask that cheaply. A ConfigError when the
        side refuses the question. This default cannot ask."""
        return None

    def preview(self, rows: int = 20) -> tuple[list[Column], list[Record]]:
        """The first rows of a full read, for Preview Data."""
        out: list[Record] = []
        for page in self.read():
            out.extend(page.records[: rows - len(out)])
            if len(out) >= rows:
                break
        return self.describe(), out

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections and sessions."""

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SecretGetter = Callable[[], str | None]
"""Returns the entity's password / client secret, resolved lazily (keyring, env var, prompt)."""


@dataclass
class ProviderContext:
    """What a provider may need from outside: its secret, where to cache tokens, how to tell the user.

    ``notify`` carries short human messages (e.g. a device-code sign-in prompt) to the front end;
    providers never print.
    """

    secret: SecretGetter = lambda: None
    token_cache_path: Any = None  # pathlib.Path of the MSAL token cache, mode 0600
    # shows a device code's verification_uri and user_code to a person; None where nobody would
    # see it (cron, systemd): a device-code sign-in then fails at once instead of waiting 15 min
    device_code: Callable[[dict[str, Any]], None] | None = None
    log: Callable[[str], None] = lambda message: None
    options: dict[str, Any] = field(default_factory=dict)
    # how to give the secret when none is found (said after "no password"); asked only then
    secret_hint: Callable[[], str] = lambda: ""
    # which secret ``secret`` gave ("the password in $VAR", "… in the keyring", "the password
    # typed"; "" not known): named when the other side refuses it
    secret_source: Callable[[], str] = lambda: ""
    sign_in_hint: str = ""  # where a person can sign in once, e.g. "l2tui verify NAME"
    stop: threading.Event | None = None  # set when the run is asked to stop: no retry waits on
    # the connection's other entity (its config Entity), if known: a SQLite read learns from it
    # whether the run writes the file it reads (two tables of one file)
    peer: Any = None
