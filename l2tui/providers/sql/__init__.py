"""The SQL provider: SQL Server, PostgreSQL, MySQL/MariaDB and SQLite through SQLAlchemy Core."""

from __future__ import annotations

from l2tui.providers.sql.ddl import create_table, create_table_ddl
from l2tui.providers.sql.provider import SqlProvider

__all__ = ["SqlProvider", "create_table", "create_table_ddl"]
