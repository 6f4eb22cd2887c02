"""``l2tui create-table``: create a SQL entity's table from the other entity's columns."""

from __future__ import annotations

import argparse
import sys

from l2tui.commands import common
from l2tui.commands.common import load_complete, opened_for_terminal
from l2tui.errors import ConfigError
from l2tui.paths import Paths
from l2tui.tables import TablePlan, create_target_table


def create_table_command(args: argparse.Namespace, paths: Paths) -> int:
    """Show the CREATE TABLE, ask (unless --yes), run it."""
    conn = load_complete(paths, args.name)

    shown: list[TablePlan] = []

    def confirm(plan: TablePlan) -> bool:
        shown.append(plan)
        print(plan.ddl.strip() + ";")
        if args.dry_run:
            return False
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("not creating the table without a terminal to confirm; add --yes")
        return common.confirm(f"Create the table {plan.place} for entity {args.entity}? [y/N] ")

    ddl = create_target_table(conn, args.entity, paths, confirm,
                              opener=opened_for_terminal)
    if ddl is None:
        if not shown:
            print(f"Nothing created: the table of entity {args.entity} "
                  f"({conn.entity(args.entity).select.strip()}) already exists.", file=sys.stderr)
        elif not args.dry_run:
            print(f"Nothing created for entity {args.entity}.", file=sys.stderr)
        return 0
    print(f"Created the table {shown[-1].place} for entity {args.entity}.", file=sys.stderr)
    return 0
