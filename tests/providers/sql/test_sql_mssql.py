"""SQL Server without a server: the T-SQL the provider issues, and a clean unreachable error."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from l2tui.config.model import Entity
from l2tui.errors import ConnectError
from l2tui.providers.base import Column, ColumnType, ProviderContext
from l2tui.providers.sql import SqlProvider, create_table_ddl
from l2tui.providers.sql.connstr import odbc_drivers
from l2tui.providers.sql.dialects import dialect_for
from l2tui.providers.sql.upsert import (
    WriteTarget,
    delete_statement,
    merge_statement,
    rows_per_statement,
    update_statement,
)

DIALECT = sa.create_engine("mssql+pyodbc://x/y?driver=ODBC+Driver+18+for+SQL+Server").dialect
TABLE = sa.Table(
    "accounts", sa.MetaData(),
    sa.Column("accountid", mssql.UNIQUEIDENTIFIER, primary_key=True),
    sa.Column("name", sa.Unicode(100)),
    sa.Column("odd ]name", sa.Integer),
    schema="dbo",
)
TARGET = WriteTarget(TABLE, ("accountid",))


def tsql(statement: sa.ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT))


def test_a_page_read_selects_the_columns_with_bracket_quoting() -> None:
    assert tsql(sa.select(*TABLE.c)) == (
        "SELECT dbo.accounts.accountid, dbo.accounts.name, dbo.accounts.[odd ]]name] \n"
        "FROM dbo.accounts"
    )


def test_the_upsert_is_a_merge_with_holdlock_and_one_values_row_per_item() -> None:
    assert tsql(merge_statement(TARGET, ["name", "odd ]name"], DIALECT, 2)) == (
        "MERGE INTO dbo.accounts WITH (HOLDLOCK) AS tgt "
        "USING (VALUES (?, ?, ?), (?, ?, ?)) AS src ([accountid], [name], [odd ]]name]) "
        "ON tgt.[accountid] = src.[accountid] "
        "WHEN MATCHED THEN UPDATE SET [name] = src.[name], [odd ]]name] = src.[odd ]]name] "
        "WHEN NOT MATCHED THEN INSERT ([accountid], [name], [odd ]]name]) "
        "VALUES (src.[accountid], src.[name], src.[odd ]]name]);"
    )


def test_an_upsert_of_only_the_key_inserts_when_missing_and_never_updates() -> None:
    assert tsql(merge_statement(TARGET, [], DIALECT, 1)) == (
        "MERGE INTO dbo.accounts WITH (HOLDLOCK) AS tgt USING (VALUES (?)) AS src ([accountid]) "
        "ON tgt.[accountid] = src.[accountid] "
        "WHEN NOT MATCHED THEN INSERT ([accountid]) VALUES (src.[accountid]);"
    )


def test_deletes_by_a_one_column_key_use_an_expanding_in_list() -> None:
    assert tsql(delete_statement(TARGET)) == (
        "DELETE FROM dbo.accounts WHERE dbo.accounts.accountid IN (__[POSTCOMPILE__keys])"
    )


def test_deletes_by_a_composite_key_match_every_key_column() -> None:
    target = WriteTarget(TABLE, ("accountid", "name"))
    assert tsql(delete_statement(target)) == (
        "DELETE FROM dbo.accounts WHERE dbo.accounts.accountid = ? AND dbo.accounts.name = ?"
    )


def test_an_update_of_an_identity_keyed_row_sets_only_the_changed_columns() -> None:
    assert tsql(update_statement(TARGET, ["name"])) == (
        "UPDATE dbo.accounts SET name=? WHERE dbo.accounts.accountid = ?"
    )


def test_statements_stay_under_the_2100_parameter_limit() -> None:
    assert rows_per_statement(DIALECT, 9) == 222
    assert rows_per_statement(DIALECT, 9) * 9 <= 2000
    assert rows_per_statement(DIALECT, 5000) == 1


def test_create_table_ddl_maps_types_for_sql_server() -> None:
    columns = [
        Column("accountid", ColumnType.GUID, key=True),
        Column("name", ColumnType.STRING, max_length=160),
        Column("revenue", ColumnType.DECIMAL),
        Column("createdon", ColumnType.DATETIME),
        Column("active", ColumnType.BOOLEAN),
        Column("notes", ColumnType.STRING),
    ]
    assert create_table_ddl(columns, "accounts", "sqlserver", schema="dbo") == (
        "CREATE TABLE dbo.accounts (\n"
        "\taccountid UNIQUEIDENTIFIER NOT NULL, \n"
        "\tname NVARCHAR(160) NULL, \n"
        "\trevenue NUMERIC(38, 10) NULL, \n"
        "\tcreatedon DATETIMEOFFSET NULL, \n"
        "\tactive BIT NULL, \n"
        "\tnotes NVARCHAR(max) NULL, \n"
        "\tPRIMARY KEY (accountid)\n"
        ")"
    )


def test_the_compile_dialect_is_the_pyodbc_one() -> None:
    assert dialect_for("sqlserver").driver == "pyodbc"


needs_freetds = pytest.mark.skipif("FreeTDS" not in odbc_drivers(),
                                   reason="the FreeTDS ODBC driver is not installed")


def _unreachable() -> SqlProvider:
    entity = Entity(provider="sqlserver", select="dbo.accounts",
                    connection_string="Driver={FreeTDS};Server=127.0.0.1;Port=1;Database=crm;"
                                      "UID=sa;Connect Timeout=2")
    return SqlProvider(entity, ProviderContext(secret=lambda: "S3cret-pw"))


@needs_freetds
def test_verify_names_server_and_driver_when_sql_server_cannot_be_reached() -> None:
    result = _unreachable().verify()
    assert not result.ok
    assert result.message.startswith(
        "cannot connect to SQL Server at 127.0.0.1,1, database crm (driver FreeTDS): ")
    assert "\n" not in result.message
    assert "Traceback" not in result.message
    assert "S3cret-pw" not in result.message


@needs_freetds
def test_describe_raises_a_one_line_connect_error_when_sql_server_cannot_be_reached() -> None:
    with pytest.raises(ConnectError, match=r"^cannot connect to SQL Server at 127\.0\.0\.1,1"):
        _unreachable().describe()


def test_a_rowversion_column_is_binary_and_set_by_the_server() -> None:
    from l2tui.providers.sql.types import column_type, is_rowversion

    assert column_type(mssql.TIMESTAMP()) == ColumnType.BINARY
    assert is_rowversion(mssql.TIMESTAMP())
    assert not is_rowversion(sa.LargeBinary()) and not is_rowversion(sa.DateTime())
