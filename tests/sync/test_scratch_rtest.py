from pathlib import Path
from typing import Any

from l2tui.config.model import ColumnPair, Mapping
from tests.sync.support import sqlite_url
from tests.sync.test_retries import _allow, _pair, _refuse_name, _state


def _by_number(pair):
    with pair.engine.connect() as c:
        return dict(c.exec_driver_sql(f"SELECT accountnumber, name FROM {pair.table.name}").all())


def _setup(emu, tmp_path):
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.conn.mapping = Mapping(auto=False, columns=[ColumnPair("accountid", "accountid"),
                                                     ColumnPair("name", "name")],
                                match_key=ColumnPair("accountnumber", "accountnumber"))
    assert pair.run().outcome == "success"
    return pair


def test_plain_match_key_change(emu: Any, tmp_path: Path) -> None:
    pair = _setup(emu, tmp_path)
    key = sorted(pair.left())[0]
    pair.left_update(key, {"accountnumber": "NEW-1"})
    r = pair.run()
    print("PLAIN", r.message)
    print(_by_number(pair).get("NEW-1"), len(_by_number(pair)), pair.right_count())


def test_failed_then_match_key_change(emu: Any, tmp_path: Path) -> None:
    pair = _setup(emu, tmp_path)
    key = sorted(pair.left())[0]
    _refuse_name(pair, "refused")
    pair.left_update(key, {"name": "refused"})
    r = pair.run()
    print("FAIL1", r.message, _state(pair, "SELECT * FROM retry"))
    pair.left_update(key, {"accountnumber": "NEW-1"})
    r = pair.run()
    print("FAIL2", r.message, _state(pair, "SELECT * FROM retry"))
    _allow(pair)
    r = pair.run()
    print("FAIL3", r.message, _state(pair, "SELECT * FROM retry"))
    print(_by_number(pair).get("NEW-1"), len(_by_number(pair)), pair.right_count())
    r = pair.run(full=True)
    print("FULL", r.message)
