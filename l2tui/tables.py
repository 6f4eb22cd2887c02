"""Create a SQL entity's table from the other entity's columns: the one way the command line
(``l2tui create-table``) and the TUI (Create Table) do it.

Two steps, so that a front end can show the DDL and ask before anything is written: ``plan_table``
describes the other entity and returns the CREATE TABLE it would run; ``create_planned`` runs
it (refusing a table that appeared meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from l2tui.config.model import Connection
from l2tui.errors import ConfigError
from l2tui.paths import Paths
from l2tui.providers import entity_errors, open_entity
from l2tui.providers.base import Column, Provider

# (a provider is its own context manager; the command line's opener names a side out of reach)
Opener = Callable[[Connection, int, Paths], AbstractContextManager[Provider]]


@dataclass(frozen=True)
class TablePlan:
    """The table entity ``index`` would get: the DDL to show and the columns it is made from,
    its full name (``main.accounts``) and, for SQLite, the database file's absolute path."""

    index: int
    ddl: str
    columns: tuple[Column, ...]
    table: str = ""
    file: str | None = None

    @property
    def source(self) -> int:
        """The entity whose columns the table is made from."""
        return 3 - self.index

    @property
    def place(self) -> str:
        """The table and where it goes, as a question or notice names them: ``main.accounts in
        the SQLite file /home/me/crm.db`` (a relative Data Source made absolute)."""
        return self.table + (f" in the SQLite file {self.file}" if self.file else "")


def can_create(provider: Provider) -> bool:
    """Whether the provider's table can be created (a SQL entity)."""
    return hasattr(provider, "create_table_ddl")


def _mapped_names(conn: Connection, source: int, columns: Iterable[Column]) -> list[Column]:
    """The source entity's columns under the names the connection maps them to on the other
    side (``[[mapping.columns]]`` and ``[mapping.match_key]``: ``code`` mapped to ``acct`` is
    made as ``acct``); a column the mapping does not name keeps its own name, as auto mapping
    pairs it by that name."""
    pairs = list(conn.mapping.columns)
    if conn.mapping.match_key is not None:
        pairs.append(conn.mapping.match_key)
    names: dict[str, str] = {}
    for pair in pairs:
        mine, other = (pair.left, pair.right) if source == 1 else (pair.right, pair.left)
        names.setdefault(mine.casefold(), other)
    return [replace(c, name=names.get(c.name.casefold(), c.name)) for c in columns]


def plan_table(conn: Connection, index: int, paths: Paths,
               opener: Opener = open_entity) -> TablePlan | None:
    """The CREATE TABLE for entity ``index``, from the other entity's columns; None when the
    table is already there. Only a SQL entity's table can be created (ConfigError)."""
    with opener(conn, index, paths) as target:
        if not can_create(target):
            raise ConfigError(f"entity{index} is not a SQL table; only SQL tables can be created",
                              file=str(conn.path) if conn.path else None,
                              key=f"entity{index}.provider")
    with entity_errors(conn, index), opener(conn, index, paths) as target:
        if target.table_exists():  # type: ignore[attr-defined]
            return None
        with entity_errors(conn, 3 - index), opener(conn, 3 - index, paths) as source:
            columns = tuple(_mapped_names(conn, 3 - index, source.describe()))
        ddl = target.create_table_ddl(columns)  # type: ignore[attr-defined]
        table, file = target.table_place()  # type: ignore[attr-defined]
    return TablePlan(index, str(ddl), columns, table, file)


def create_planned(conn: Connection, plan: TablePlan, paths: Paths,
                   opener: Opener = open_entity) -> str:
    """Create the planned table; return the DDL that ran (ConfigError when it exists now)."""
    with entity_errors(conn, plan.index), opener(conn, plan.index, paths) as target:
        return str(target.create_table(plan.columns))  # type: ignore[attr-defined]


def create_target_table(conn: Connection, index: int, paths: Paths,
                        confirm: Callable[[TablePlan], bool] = lambda plan: True,
                        opener: Opener = open_entity) -> str | None:
    """Create entity ``index``'s table from the other entity's columns; return the DDL run.

    ``confirm`` sees the plan (its DDL, the table's full name and file) first and may refuse
    (None is returned); an entity whose table is already there is left alone (None).
    """
    plan = plan_table(conn, index, paths, opener)
    if plan is None or not confirm(plan):
        return None
    return create_planned(conn, plan, paths, opener)
