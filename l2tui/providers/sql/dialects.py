"""SQLAlchemy dialects by provider name, for compiling statements without a connection."""

from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

URLS = {
    "mssql": "mssql+pyodbc://compile/only?driver=ODBC+Driver+18+for+SQL+Server",
    "postgresql": "postgresql+psycopg://compile/only",
    "mysql": "mysql+pymysql://compile/only",
    "mariadb": "mariadb+pymysql://compile/only",
    "sqlite": "sqlite+pysqlite://",
}
ALIASES = {"sqlserver": "mssql", "postgres": "postgresql", "sqlite3": "sqlite"}


def dialect_name(name: str) -> str:
    """SQLAlchemy's backend name for a provider or dialect name (sqlserver → mssql)."""
    folded = name.strip().lower()
    return ALIASES.get(folded, folded)


@cache
def _dialect(name: str) -> Dialect:
    return sa.create_engine(URLS[name]).dialect


def dialect_for(dialect: str | Dialect) -> Dialect:
    """A Dialect object: given one, or made (once) from an engine for the named database."""
    if isinstance(dialect, Dialect):
        return dialect
    name = dialect_name(dialect)
    if name not in URLS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    return _dialect(name)


def quote(dialect: Dialect, name: str) -> str:
    """An identifier quoted the way this database wants."""
    return dialect.identifier_preparer.quote_identifier(name)
