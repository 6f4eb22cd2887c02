"""``l2tui create-table``: create a SQL entity's table from the other entity's columns."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from l2tui.commands import common
from l2tui.commands.common import entity_errors, load_complete, open_for_terminal
from l2tui.config.model import Connection
from l2tui.errors import ConfigError, ConnectError
from l2tui.paths import Paths
from l2tui.providers import open_entity
from l2tui.providers.base import Provider


def table_exists(provider: Provider) -> bool:
    """True when the entity's select can be described (its table is there)."""
    try:
        provider.describe()
    except (ConfigError, ConnectError):
        return False
    return True


def create_target_table(conn: Connection, index: int, paths: Paths,
                        confirm: Callable[[str], bool] = lambda ddl: True,
                        opener: Callable[[Connection, int, Paths], Provider] = open_entity) -> str | None:
    """Create entity ``index``'s table from the other entity's columns; return the DDL run.

    ``confirm`` sees the DDL first and may refuse (None is returned); an entity whose table is
    already there is left alone (None).
    """
    with opener(conn, index, paths) as target:
        if not hasattr(target, "create_table_ddl"):
            raise ConfigError(f"entity{index} is not a SQL table; only SQL tables can be created",
                              key=f"entity{index}.provider")
        if table_exists(target):
            return None
    with entity_errors(conn, 3 - index), opener(conn, 3 - index, paths) as source:
        columns = source.describe()
    with entity_errors(conn, index), opener(conn, index, paths) as target:
        ddl = target.create_table_ddl(columns)  # type: ignore[attr-defined]
        if not confirm(ddl):
            return None
        return str(target.create_table(columns))  # type: ignore[attr-defined]


def create_table_command(args: argparse.Namespace, paths: Paths) -> int:
    """Show the CREATE TABLE, ask (unless --yes), run it."""
    conn = load_complete(paths, args.name)

    shown: list[str] = []

    def confirm(ddl: str) -> bool:
        shown.append(ddl)
        print(ddl.strip() + ";")
        if args.dry_run:
            return False
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("not creating the table without a terminal to confirm; add --yes")
        return common.confirm(f"Create this table for entity {args.entity}? [y/N] ")

    ddl = create_target_table(conn, args.entity, paths, confirm,
                              opener=lambda c, i, p: open_for_terminal(c, i, p))
    if ddl is None:
        if not shown:
            print(f"Nothing created: the table of entity {args.entity} "
                  f"({conn.entity(args.entity).select.strip()}) already exists.", file=sys.stderr)
        elif not args.dry_run:
            print(f"Nothing created for entity {args.entity}.", file=sys.stderr)
        return 0
    print(f"Created the table of entity {args.entity}.", file=sys.stderr)
    return 0
