"""Commands that look at a connection's data entities: verify and preview."""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import shutil
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from l2tui.commands.common import load_complete, open_for_terminal, opened_for_terminal
from l2tui.config.model import Connection
from l2tui.errors import ConfigError
from l2tui.paths import Paths
from l2tui.preview import cell_text, column_names, json_text, write_csv
from l2tui.providers import VERIFY_OPTIONS, entity_errors
from l2tui.providers.base import Provider, Record
from l2tui.sync.engine import plan_mapping, repeated_match_keys, verify_entity
from l2tui.widths import fitted_widths


def verify_command(args: argparse.Namespace, paths: Paths) -> int:
    """Check each entity (or the one asked for) can connect and read, and (both asked for) the
    mapping against both, as a run checks it before it writes; exit 3 when one cannot connect,
    2 when the failures are all in the settings (a select naming a missing table)."""
    conn = load_complete(paths, args.name, (args.entity,) if args.entity else (1, 2))
    failed = False
    unreachable = False
    verified: dict[int, Provider] = {}
    with contextlib.ExitStack() as opened:
        for index in (args.entity,) if args.entity else (1, 2):
            entity = conn.entity(index)
            label = f"Entity {index} ({entity.title or entity.provider})"
            with entity_errors(conn, index):
                provider = opened.enter_context(open_for_terminal(conn, index, paths,
                                                                  VERIFY_OPTIONS))
                result = verify_entity(conn, index, provider)
            mark = "ok" if result.ok else "FAILED"
            print(f"{label}: {mark} — {result.message}")
            for line in (*result.details, *(f"warning: {w}" for w in result.warnings)):
                print(f"  {line}")
            if result.table_missing:
                print(f"  l2tui create-table {shlex.quote(args.name)} --entity {index} makes it "
                      f"from entity {3 - index}'s columns")
            failed = failed or not result.ok
            unreachable = unreachable or not (result.ok or result.in_settings)
            if result.ok:
                verified[index] = provider
        if len(verified) == 2:
            failed = not _verify_mapping(conn, verified[1], verified[2]) or failed
    return 3 if unreachable else 2 if failed else 0


def _verify_mapping(conn: Connection, left: Provider, right: Provider) -> bool:
    """Print whether the mapping holds against both entities, as a run checks it, and the
    match-key values that more than one item of a side holds (a run fails their items)."""
    try:
        plan = plan_mapping(conn, left, right)
    except ConfigError as exc:
        print(f"Mapping: FAILED — {exc}")
        return False
    match = ", ".join(p.label for p in plan.match)
    print(f"Mapping: ok — {len(plan.pairs)} column pair{'s' if len(plan.pairs) != 1 else ''}, "
          f"matched by {match}")
    for warning in (*plan.warnings, *repeated_match_keys(conn, plan, left, right)):
        print(f"  warning: {warning}")
    return True


def preview_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print the first rows of an entity as a table, CSV or JSON."""
    conn = load_complete(paths, args.name, (args.entity,))
    with entity_errors(conn, args.entity), \
            opened_for_terminal(conn, args.entity, paths) as provider:
        columns, rows = provider.preview(args.rows)
    names = column_names(columns, rows)
    if args.format == "json":
        sys.stdout.write(_json_rows(names, rows) + "\n")
    elif args.format == "csv":
        write_csv(sys.stdout, names, rows)
    else:
        # cut to a terminal's width; piped to a file or a script, the cells stay whole (as
        # history's lines do)
        print(format_table(names, [[cell_text(r.get(n)) for n in names] for r in rows],
                           table_width()))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)
    return 0


def table_width() -> int:
    """The width a table printed on stdout fits: a terminal's (120 where it gives none); piped
    to a file or a script, none (its cells stay whole)."""
    return shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else sys.maxsize


def natural_widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width with none of its cells cut."""
    return [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]


def format_table(header: list[str], rows: Sequence[Sequence[str]], width: int | None = None, *,
                 floors: Sequence[int] | None = None,
                 order: Sequence[Sequence[int]] | None = None, rule: bool = True) -> str:
    """A plain-text table that fits ``width`` (default: the terminal's): long cells are cut with
    '…'. ``floors``: how narrow each column may be cut (default 8); ``order``: the groups of
    columns that give up width in turn (default: all at once, the widest first); ``rule``: a
    line of dashes under the header."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    widths = natural_widths(header, rows)
    budget = max(width - 2 * (len(header) - 1), len(header) * 4)
    widths = fitted_widths(widths, [min(w, f) for w, f in zip(widths, floors or [8] * len(widths),
                                                                strict=True)],
                           budget, order or [range(len(widths))])

    def cut(text: str, w: int) -> str:
        return text if len(text) <= w else text[: max(w - 1, 0)] + "…"

    lines = ["  ".join(cut(h, widths[i]).ljust(widths[i]) for i, h in enumerate(header)).rstrip()]
    if rule:
        lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(cut(c, widths[i]).ljust(widths[i]) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def _json_rows(names: list[str], rows: list[Record]) -> str:
    """Rows as a JSON array of objects (indented by two), decimals as numbers with their exact
    digits: ``json.dumps`` would turn a Decimal into a float's, or take a string."""
    objects = []
    for row in rows:
        fields = [f"    {json.dumps(n, ensure_ascii=False)}: {_json_value(row.get(n))}"
                  for n in names]
        objects.append("  {\n" + ",\n".join(fields) + "\n  }" if fields else "  {}")
    return "[\n" + ",\n".join(objects) + "\n]" if objects else "[]"


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)  # (JSON's number grammar reads it: 10.50, -0, 1E+3)
    return json_text(value)
