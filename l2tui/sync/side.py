"""One side of a run: turns provider records into normalised items and items into Changes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from l2tui.providers.base import (
    CONVERSION_ERRORS,
    ChangeOp,
    Column,
    ColumnType,
    Converter,
    Record,
)
from l2tui.sync.mapping import MappingPlan, Pair
from l2tui.sync.normalize import (
    NUMERIC,
    Normalizer,
    denormalizer,
    digest,
    json_text,
    keeps_value,
    normalizer,
    null_as_empty,
    number_value,
    without_trailing_blanks,
)


def match_values(mkey: str) -> list[Any]:
    """A match key (``key_json`` text) back as its values.

    ``key_json`` writes one plain string as ``["text"]`` with no quote or backslash inside; such
    a key is sliced instead of parsed (JSON text without escapes is its own content).
    """
    if mkey.startswith('["') and mkey.endswith('"]'):
        inner = mkey[2:-2]
        if '"' not in inner and "\\" not in inner:
            return [inner]
    values: list[Any] = json.loads(mkey)
    return values


def key_json(values: list[Any]) -> str:
    """A provider key as stored in the state (JSON list, in key-column order)."""
    if len(values) == 1 and type(values[0]) is str and values[0].isascii() and \
            '"' not in values[0] and "\\" not in values[0] and values[0].isprintable():
        return f'["{values[0]}"]'
    return json.dumps(values, default=str, separators=(",", ":"))


# a normaliser's own fast path, inlined for the common value (``{v}``); any other value takes
# the normaliser ``{f}`` itself, so the result is always the normaliser's
_INLINE = {
    ColumnType.STRING: "({v} or None) if type({v}) is str else {f}({v})",
    ColumnType.GUID: "{v}.lower() if type({v}) is str and len({v}) == 36 and {v}[8] == '-' and "
                     "{v}[23] == '-' else {f}({v})",
    ColumnType.BOOLEAN: "{v} if type({v}) is bool else {f}({v})",
    ColumnType.DATETIME: "{v} if type({v}) is str and len({v}) == 20 and {v}[10] == 'T' and "
                         "{v}[19] == 'Z' else {f}({v})",
    **{kind: "str({v}) if type({v}) is int else {f}({v})" for kind in NUMERIC},
}


# a raw value that a provider's converter returns as it is (``Converter``), by the column's type
_UNCONVERTED = {
    ColumnType.INTEGER: "type({v}) is int",
    ColumnType.DECIMAL: "type({v}) is Decimal",
    ColumnType.FLOAT: "type({v}) is float",
    ColumnType.BOOLEAN: "type({v}) is bool",
    ColumnType.STRING: "type({v}) is str",
}
# a DATETIME column's UTC text, which its converter reads as the moment it spells (or refuses,
# leaving the text): either way it normalises, as a DATETIME pair, to this very text
_CANONICAL_MOMENT = "type({v}) is str and len({v}) == 20 and moment({v}) is not None"
_MOMENT_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z").fullmatch


@dataclass(frozen=True)
class RawEntries:
    """How a provider's raw entries become records (``EntryTransform.over_entries``): each
    column's converter (None: kept as it is), and whether those are every name a record holds."""

    converters: Mapping[str, Converter | None]
    complete: bool


def compile_reader(read: list[tuple[str, Normalizer]],
                   kinds: list[ColumnType]) -> Callable[[Callable[[str], Any]], list[Any]]:
    """``lambda get: [fn(get(name)) for name, fn in read]`` as one generated function.

    The common value of each column type is normalised inline (no call per value); the names and
    normalisers are bound as constants, never spelled into the source.
    """
    lines = ["def read(get):"]
    scope: dict[str, Any] = {}
    for i, ((name, fn), kind) in enumerate(zip(read, kinds, strict=True)):
        scope[f"n{i}"], scope[f"f{i}"] = name, fn
        lines += [f"    v{i} = get(n{i})", _normalised(i, fn, kind)]
    lines.append("    return [" + ", ".join(f"v{i}" for i in range(len(read))) + "]")
    exec(compile("\n".join(lines), "<l2tui reader>", "exec"), scope)  # noqa: S102
    reader: Callable[[Callable[[str], Any]], list[Any]] = scope["read"]
    return reader


def compile_entry_reader(read: list[tuple[str, Normalizer, ColumnType]], kinds: list[ColumnType],
                         also: list[tuple[str, ColumnType]], raw: RawEntries
                         ) -> Callable[[Callable[[str], Any]], tuple[list[Any], dict[str, Any]]]:
    """``compile_reader`` over a provider's raw entry (``get`` reads the entry), with the values
    of the names in ``also`` as the entry's record holds them, unnormalised (by name).

    ``read`` adds each column's type. A value is converted as the record would hold it, except
    where the conversion cannot change what it normalises to (``Converter``): a value of its
    column's Python type, and a DATETIME column's UTC text normalised as a DATETIME.
    """
    lines = ["def read(get):"]
    scope: dict[str, Any] = {"E": CONVERSION_ERRORS, "Decimal": Decimal, "moment": _MOMENT_TEXT}
    for i, ((name, fn, column), kind) in enumerate(zip(read, kinds, strict=True)):
        scope[f"n{i}"], scope[f"f{i}"] = name, fn
        canonical = column == kind == ColumnType.DATETIME
        lines += _raw_value(f"v{i}", f"n{i}", name, column, canonical, raw, scope)
        lines.append(_normalised(i, fn, kind))
    for j, (name, column) in enumerate(also):
        scope[f"m{j}"] = name
        lines += _raw_value(f"w{j}", f"m{j}", name, column, False, raw, scope)
    values = ", ".join(f"v{i}" for i in range(len(read)))
    named = ", ".join(f"m{j}: w{j}" for j in range(len(also)))
    lines.append(f"    return [{values}], {{{named}}}")
    exec(compile("\n".join(lines), "<l2tui entry reader>", "exec"), scope)  # noqa: S102
    reader: Callable[[Callable[[str], Any]], tuple[list[Any], dict[str, Any]]] = scope["read"]
    return reader


def _normalised(i: int, fn: Normalizer, kind: ColumnType) -> str:
    """The line that normalises ``v{i}`` by ``f{i}`` (``fn``), its common value inline."""
    # inlined only for the normaliser whose fast path _INLINE copies (same code object)
    if kind in _INLINE and getattr(fn, "__code__", None) is \
            getattr(normalizer(kind), "__code__", False):
        return f"    v{i} = " + _INLINE[kind].format(v=f"v{i}", f=f"f{i}")
    return f"    v{i} = f{i}(v{i})"


def _raw_value(var: str, name_var: str, name: str, column: ColumnType, canonical: bool,
               raw: RawEntries, scope: dict[str, Any]) -> list[str]:
    """The lines that set ``var`` to a raw entry's value of ``name`` as its record holds it
    (``canonical``: a DATETIME column's UTC text may stay text, see ``compile_entry_reader``)."""
    if name not in raw.converters:
        absent = raw.complete or "@" in name
        return [f"    {var} = None"] if absent else [f"    {var} = get({name_var})"]
    convert = raw.converters[name]
    if convert is None:
        return [f"    {var} = get({name_var})"]
    scope[f"c_{var}"] = convert
    left = _UNCONVERTED.get(column) or (_CANONICAL_MOMENT if canonical else None)
    # (the usual value, of the column's type, fails the first test)
    test = (f"not ({left.format(v=var)}) and " if left else "") + f"{var} is not None"
    return [f"    {var} = get({name_var})", f"    if {test}:", "        try:",
            f"            {var} = c_{var}({var})", "        except E:", "            pass"]


def _normalizer(pair: Pair, match: bool = False) -> Normalizer:
    """The normaliser of both columns of a pair: by its type and what its columns hold (a text
    paired with a column of documents or arrays, such as PostgreSQL jsonb: ``json_text``); a
    value's number at the digits after the point both hold, a match key's whole."""
    made = normalizer(pair.kind, pair.numbers, pair.fraction_digits,
                      None if match else pair.scale)
    if pair.kind == ColumnType.STRING and ColumnType.OTHER in (pair.left.type, pair.right.type):
        return json_text(made)
    if pair.kind == ColumnType.STRING and not match \
            and (pair.left.blank_padded or pair.right.blank_padded):
        return without_trailing_blanks(made)
    return made


@dataclass(slots=True)
class Item:
    """One record of one side, normalised: match key, provider key, values, hash, modified-on."""

    mkey: str | None
    kid: str
    values: list[Any]
    hash: str
    modified: str | None = None
    version: str | None = None  # the provider's version of the record (Page.versions)


class SideInfo:
    """What a run knows about one side's columns."""

    def __init__(self, name: str, plan: MappingPlan) -> None:
        self.name = name
        self.index = 1 if name == "left" else 2
        self.plan = plan
        self.columns: list[Column] = [p.column(name) for p in plan.pairs]
        self.kinds = [p.kind for p in plan.pairs]
        self.match: list[tuple[Column, ColumnType]] = [(p.column(name), p.kind) for p in plan.match]
        self.keys: list[Column] = plan.keys[name]
        self.modified = plan.modified[name]
        # the columns a run reads of this side (a record's other values are no matter to it)
        self.names = frozenset([*(c.name for c in self.columns),
                                *(c.name for c, _ in self.match), *(c.name for c in self.keys),
                                *([self.modified] if self.modified else [])])
        self.two_way = plan.two_way
        self.extras = plan.has_extras
        self.writable = plan.writable(name)
        # both sides of a pair normalise alike: by its type, and (a number, a datetime) by what
        # its two columns hold (``Pair.numbers``, ``Pair.fraction_digits``)
        self._read = [(p.column(name).name, _normalizer(p)) for p in plan.pairs]
        self._values = compile_reader(self._read, self.kinds)
        self._match = [(p.column(name).name, _normalizer(p, match=True)) for p in plan.match]
        self._modified = normalizer(ColumnType.DATETIME)
        # the modified-on column is usually a mapped pair compared as a datetime: reuse its value
        # (when in whole seconds, as ``_modified`` reads it: the two sides' texts then compare)
        self._modified_at = next((i for i, p in enumerate(plan.pairs)
                                  if p.column(name).name == self.modified and
                                  p.kind == ColumnType.DATETIME and not p.fraction_digits), None)
        self._key_names = [c.name for c in self.keys]
        # a provider key that is the match column itself: its key text is the match key whenever
        # the raw value is already canonical (a lower-case GUID, a plain string)
        self._kid_is_match = len(self._key_names) == 1 and len(self._match) == 1 and \
            self._key_names[0] == self._match[0][0]
        self._write = [(i, self.columns[i].name, denormalizer(self.columns[i].type,
                                                              self.columns[i].nullable))
                       for i in self.writable]
        self._create = self._create_plan()
        self._create_row, self.create_names = self._compile_create()
        # a new item's key is its one match value, unchanged: its key text is the match key
        self.created_kid_is_mkey = self._created_kid_is_mkey()
        # every key column is a mapped column's value (accountid to accountid): the row an
        # item's values name is its row here (``named_kid``)
        self.keyed_by_values = len(self._create[0]) == len(self.keys) > 0 and \
            not any(from_match for _, from_match, *_ in self._create[0])
        # a new item's row carries every key column: creates can go as a RowBatch
        self.creates_as_rows = len(self.create_names[0]) == len(self.keys) and \
            len(set(self.create_names[0]) | set(self.create_names[1])) == \
            len(self.create_names[0]) + len(self.create_names[1])

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as what it is made from: ``fields`` may run in a second process beside a
        # read's decoding (Provider.read's ``transform``), which builds its own from the plan
        return (SideInfo, (self.name, self.plan))

    # -- reading -----------------------------------------------------------------------

    def item(self, record: Record) -> Item:
        """Normalise one record."""
        return Item(*self.fields(record))

    def __call__(self, record: Record) -> tuple[str | None, str, list[Any], str, str | None]:
        """``fields``: a side is the transform its read applies (an ``EntryTransform``)."""
        return self.fields(record)

    def fields(self, record: Record) -> tuple[str | None, str, list[Any], str, str | None]:
        """``item``'s fields as plain values (match key, key, values, hash, modified): what a
        read that makes items in a second process sends back (``Provider.read``'s transform)."""
        get = record.get
        return self._fields(self._values(get), get)

    def over_entries(self, converters: Mapping[str, Converter | None], complete: bool
                     ) -> Callable[[Mapping[str, Any]], tuple[str | None, str, list[Any], str,
                                                          str | None]]:
        """``fields`` of a provider's raw entry, with no record built (``EntryTransform``)."""
        types = {c.name: c.type for c in (*self.columns, *(c for c, _ in self.match),
                                          *self.keys)}
        names = [n for n, _ in self._match] + self._key_names
        if self.modified and self._modified_at is None:
            names.append(self.modified)
        also = [(n, types.get(n, ColumnType.OTHER)) for n in dict.fromkeys(names)]
        read = [(n, fn, c.type) for (n, fn), c in zip(self._read, self.columns, strict=True)]
        reader, made = compile_entry_reader(read, self.kinds, also,
                                            RawEntries(converters, complete)), self._fields

        def fields(entry: Mapping[str, Any]) -> tuple[str | None, str, list[Any], str,
                                                      str | None]:
            values, named = reader(entry.get)
            return made(values, named.get)

        return fields

    def _fields(self, values: list[Any], get: Callable[[str], Any]
                ) -> tuple[str | None, str, list[Any], str, str | None]:
        """``fields`` of a record's normalised values and its ``get``."""
        if len(self._match) == 1:
            name, fn = self._match[0]
            raw = get(name)
            one = fn(raw)
            mkey = None if one is None else key_json([one])
            if self._kid_is_match and mkey is not None and type(raw) is str and raw == one:
                kid = mkey  # key_json([raw]) with raw == one: the same text
            else:
                kid = key_json([get(n) for n in self._key_names])
        else:
            mkey = self._match_key(get)
            kid = key_json([get(n) for n in self._key_names])
        modified = None
        if self.modified:
            at = self._modified_at
            raw = values[at] if at is not None else self._modified(get(self.modified))
            # a moment in UTC (``…T…Z``), which compare as texts; a value that read as none
            # (``03/04/2005``, kept as its text) is no modified-on value
            modified = raw if isinstance(raw, str) and raw[-1:] == "Z" and raw[10:11] == "T" \
                else None
        return mkey, kid, values, self.hash(values), modified

    def match_key(self, record: Record) -> str | None:
        """The match key ``item`` would give the record, alone (None: a value is missing)."""
        return self._match_key(record.get)

    def _match_key(self, get: Callable[[str], Any]) -> str | None:
        if len(self._match) == 1:
            return self._single_match_key(get(self._match[0][0]))
        match = [fn(get(n)) for n, fn in self._match]
        return None if any(v is None for v in match) else key_json(match)

    @property
    def key_is_match(self) -> bool:
        """Whether the provider key is the (one-column) match key: a key gives the match key."""
        return self._kid_is_match

    def match_key_of(self, key: tuple[Any, ...]) -> str | None:
        """The match key of the record whose provider key is ``key`` (when ``key_is_match``)."""
        return self._single_match_key(key[0]) if key else None

    def _single_match_key(self, raw: Any) -> str | None:
        one = self._match[0][1](raw)
        return None if one is None else key_json([one])

    def hash(self, values: list[Any]) -> str:
        """Two-way part, then (if any) the one-way extras, separated by '.'."""
        if not self.extras:
            return digest(values if self.two_way == len(values) else values[: self.two_way])
        return f"{digest(values[: self.two_way])}.{digest(values[self.two_way:])}"

    def same(self, a: str | None, b: str | None) -> bool:
        """Whether two hashes mean equal values for this run's direction."""
        if a is None or b is None:
            return False
        if self.extras:
            return a == b
        return a.split(".", 1)[0] == b.split(".", 1)[0]

    def named(self, values: list[Any] | None) -> dict[str, Any] | None:
        """Values by this side's column names (for conflict records), numbers as numbers; None
        when not read."""
        if not values:
            return None
        return {c.name: number_value(v) if kind in NUMERIC else v
                for c, kind, v in zip(self.columns, self.kinds, values, strict=True)}

    # -- writing -----------------------------------------------------------------------

    def key_dict(self, kid: str) -> dict[str, Any]:
        """A stored provider key (``key_json`` text) back as column → value (a plain string key
        sliced, not parsed: ``match_values``)."""
        return dict(zip(self._key_names, match_values(kid), strict=False))

    def change_values(self, values: list[Any], only: list[int] | None = None) -> dict[str, Any]:
        """The writable mapped columns of this side, as the provider takes them."""
        if only is None:
            return {n: fn(values[i]) for i, n, fn in self._write}
        return {n: fn(values[i]) for i, n, fn in self._write if i in only}

    def _create_plan(self) -> tuple[list[tuple[str, bool, int, Any]], list[tuple[str, int, Any]]]:
        """Where a new item's key columns come from: (name, from the match key?, index, convert),
        and the match-key columns that are not key columns: (name, index, convert)."""
        match_index = {c.name: (j, denormalizer(c.type)) for j, (c, _) in enumerate(self.match)}
        keys: list[tuple[str, bool, int, Any]] = []
        for col in self.keys:
            if col.name in match_index:
                j, fn = match_index[col.name]
                keys.append((col.name, True, j, fn))
                continue
            index = next((i for i, c in enumerate(self.columns) if c.name == col.name), None)
            if index is not None:
                keys.append((col.name, False, index, denormalizer(col.type)))
        taken = {name for name, *_ in keys}
        extra = [(c.name, j, match_index[c.name][1]) for j, (c, _) in enumerate(self.match)
                 if c.name not in taken]
        return keys, extra

    def _created_kid_is_mkey(self) -> bool:
        keys, _ = self._create
        if len(keys) != 1 or len(self.keys) != 1 or len(self.match) != 1:
            return False
        _, from_match, _, _ = keys[0]
        return from_match and keeps_value(self.match[0][1], self.keys[0].type)

    def create_values(self, mkey: str, values: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new item's key and values: ``create_key`` and the writable columns but its key."""
        row, (keys, columns) = self._create_row(mkey, values), self.create_names
        split = len(keys)
        return dict(zip(keys, row[:split], strict=True)), dict(zip(columns, row[split:],
                                                                    strict=True))

    def create_row(self, mkey: str, values: list[Any]) -> tuple[Any, ...]:
        """``create_values`` as one positional row in ``create_names`` order (no dict per item)."""
        return self._create_row(mkey, values)

    def create_key(self, mkey: str, values: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The key of a new item (from the match key where it is a key column) and extra values."""
        match = match_values(mkey)
        keys, extras = self._create
        key = {name: fn(match[i] if from_match else values[i])
               for name, from_match, i, fn in keys}
        extra = {name: fn(match[j]) for name, j, fn in extras}
        return key, extra

    def named_kid(self, mkey: str, values: list[Any]) -> str:
        """The key (as stored) of the row here an item's values name (``keyed_by_values``)."""
        return self.kid_of(self.create_key(mkey, values)[0])

    def key_pairs(self) -> list[int]:
        """The value pairs this side's key columns are written from (``keyed_by_values``)."""
        keys, _ = self._create
        return [i for _, from_match, i, _ in keys if not from_match]

    def names_another_row(self, kid: str, mkey: str, values: list[Any]) -> str | None:
        """The key of the row here an item's values name, where it is not ``kid`` as the pairs
        compare values (``'ABC…'`` is the GUID ``'abc…'``); None where it is ``kid``."""
        named = self.named_kid(mkey, values)
        held = match_values(kid)
        if len(held) != len(self.keys):
            return named
        for (_, from_match, i, _), value in zip(self._create[0], held, strict=True):
            if not from_match and self._read[i][1](value) != values[i]:
                return named
        return None

    def _compile_create(self) -> tuple[Callable[[str, list[Any]], tuple[Any, ...]],
                                       tuple[tuple[str, ...], tuple[str, ...]]]:
        """``create_row`` as one generated function (a tuple display, no loop), and its names.

        The same values as building the key with ``create_key`` and then the values (writable
        columns not in the key, then the match-key extras), because it is that recipe unrolled
        once per run: a value is converted by its column's denormaliser, except where
        ``keeps_value`` proves the conversion returns the value unchanged (``_kept``). The source
        text holds only generated names; converters are bound as default arguments.
        """
        keys, extras = self._create
        taken = {name for name, *_ in keys}
        env: dict[str, Any] = {"match_values": match_values}
        counter = iter(range(1_000_000))

        def call(fn: Any, expr: str) -> str:
            name = f"a{next(counter)}"
            env[name] = fn
            return f"{name}({expr})"

        key_parts = [call(fn, f"m[{i}]" if from_match else f"v[{i}]")
                     for _, from_match, i, fn in keys]
        value_parts = [self._kept(i) if keeps_value(self.kinds[i], self.columns[i].type)
                       else call(fn, f"v[{i}]")
                       for i, name, fn in self._write if name not in taken]
        value_parts += [call(fn, f"m[{j}]") for _, j, fn in extras]
        names = (tuple(name for name, *_ in keys),
                 (*(name for _, name, _ in self._write if name not in taken),
                  *(name for name, _, _ in extras)))
        uses_match = any(from_match for _, from_match, *_ in keys) or bool(extras)
        defaults = "".join(f", {name}={name}" for name in env)
        text = (f"def create(mkey, v{defaults}):\n"
                + ("    m = match_values(mkey)\n" if uses_match else "")
                + f"    return ({''.join(p + ', ' for p in key_parts + value_parts)})\n")
        scope: dict[str, Any] = {}
        exec(text, dict(env), scope)  # noqa: S102  (generated from indices only, see above)
        made: Callable[[str, list[Any]], tuple[Any, ...]] = scope["create"]
        return made, names

    def _kept(self, i: int) -> str:
        """``create_row``'s expression of value ``i``, which its column keeps as it is (a null
        into a NOT NULL text column as '': a canonical text is never '')."""
        column = self.columns[i]
        return f"(v[{i}] or '')" if null_as_empty(column.type, column.nullable) else f"v[{i}]"

    def kid_of(self, key: dict[str, Any]) -> str:
        """A key dict as stored in the state."""
        return key_json([key.get(c.name) for c in self.keys])

    def op_label(self, op: ChangeOp) -> str:
        """For counting: 'created' | 'updated' | 'deleted'."""
        return {ChangeOp.CREATE: "created", ChangeOp.UPDATE: "updated",
                ChangeOp.DELETE: "deleted"}[op]
