"""The connection folder: files are readable TOML, written atomically, 0600, never with a secret."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from l2tui.config import store as store_module
from l2tui.config.files import file_stamp
from l2tui.config.model import Connection
from l2tui.config.secrets import keyring_get, resolve_secret
from l2tui.config.store import ChangedOnDisk, ConnectionStore
from l2tui.errors import ConfigError

SQL = "Data Source=sqlhost;Initial Catalog=crm;User ID=sa;"


def _conn(title: str = "CRM accounts to SQL") -> Connection:
    conn = Connection(title=title)
    conn.entity1.provider = "odata"
    conn.entity1.connection_string = "URL=https://contoso.crm4.dynamics.com/api/data/v9.2/accounts;Authentication=none;"
    conn.entity2.provider = "sqlserver"
    conn.entity2.connection_string = SQL
    conn.entity2.select = "SELECT * FROM dbo.accounts"
    return conn


def test_saved_file_is_named_from_the_title_and_mode_0600(config_dir: Path) -> None:
    path = ConnectionStore(config_dir).save(_conn())
    assert path == config_dir / "crm-accounts-to-sql.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_connection_folder_a_save_makes_is_private_whatever_the_umask(tmp_path: Path) -> None:
    ConnectionStore(tmp_path / "new" / "connections").save(_conn())
    modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode)
             for name in ("new", "new/connections")}
    assert modes == {"new": 0o700, "new/connections": 0o700}


def test_load_by_title_slug_or_path(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    for name in ("CRM accounts to SQL", "crm-accounts-to-sql", str(path)):
        assert store.load(name).title == "CRM accounts to SQL"


def test_load_by_the_file_name_list_shows_from_any_working_folder(
        config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    monkeypatch.chdir(tmp_path)
    assert store.resolve("crm-accounts-to-sql.toml") == path
    assert store.load("crm-accounts-to-sql.toml").slug == "crm-accounts-to-sql"


def test_a_file_name_list_shows_that_the_working_folder_holds_too_names_neither(
        config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``demo.toml`` run from a folder holding another demo.toml (a copy, the samples) must not
    run that one instead of the connection ``l2tui list`` shows; ./demo.toml or the slug say
    which."""
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / path.name).write_text(path.read_text().replace("CRM accounts", "Another"))
    monkeypatch.chdir(here)
    with pytest.raises(ConfigError, match=f"^'{path.name}' names two files: ./{path.name} here "
                                          f"and {re.escape(str(path))} "):
        store.resolve(path.name)
    assert store.resolve(f"./{path.name}").resolve() == here / path.name
    assert store.resolve(path.stem) == path


def test_a_title_two_files_share_names_neither_but_both(config_dir: Path) -> None:
    """Titles are unique once saved, but a file copied by hand keeps its title: a run by
    title must not pick one of the two by their order in the folder."""
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    path.rename(config_dir / "accounts.toml")
    twin = config_dir / "copy.toml"
    twin.write_text((config_dir / "accounts.toml").read_text())
    twin.chmod(0o600)
    with pytest.raises(ConfigError, match="^'CRM accounts to SQL' is the title of 2 connections: "
                                          "accounts.toml, copy.toml; name one by its file"):
        store.resolve("CRM accounts to SQL")
    assert store.resolve("copy") == twin


def test_a_file_outside_the_folder_has_a_slug_of_its_own_and_one_inside_keeps_its_stem(
        config_dir: Path, tmp_path: Path) -> None:
    store = ConnectionStore(config_dir)
    inside = store.save(_conn("Base"))
    outside = [tmp_path / folder / "base.toml" for folder in ("one", "two")]
    for path in outside:
        path.parent.mkdir()
        path.write_text(inside.read_text())
    assert store.load("base").slug == store.load(str(inside)).slug == "base"
    slugs = {store.load(str(path)).slug for path in outside}
    assert len(slugs) == 2 and all(re.fullmatch(r"base-[0-9a-f]{8}", s) for s in slugs)


def test_a_link_to_a_connection_file_is_that_connection_one_state_one_lock(
        config_dir: Path, tmp_path: Path) -> None:
    """Two runs of one file, one by its name and one through a link, must meet at one lock."""
    store = ConnectionStore(config_dir)
    real = store.save(_conn("Base"))
    (tmp_path / "alias.toml").symlink_to(real)
    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "base.toml"
    outside.write_text(real.read_text())
    (tmp_path / "other.toml").symlink_to(outside)
    assert store.load(str(tmp_path / "alias.toml")).slug == "base"
    assert store.load(str(tmp_path / "other.toml")).slug == store.load(str(outside)).slug


def test_a_connection_saved_through_a_link_writes_the_file_it_links_to(
        config_dir: Path, tmp_path: Path) -> None:
    store = ConnectionStore(config_dir)
    real = store.save(_conn("Base"))
    alias = tmp_path / "alias.toml"
    alias.symlink_to(real)
    conn = store.load(str(alias))
    conn.max_delete_ratio = 0.3
    store.save(conn)
    assert alias.is_symlink() and store.load("base").max_delete_ratio == 0.3
    assert store.load(str(alias)).slug == "base"


def test_a_file_saved_with_a_byte_order_mark_loads(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert store.load("crm-accounts-to-sql").title == "CRM accounts to SQL"


def test_a_file_that_is_not_utf8_says_so_and_where(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    path.write_bytes(path.read_bytes().replace(b'"CRM accounts to SQL"', b'"Caf\xe9 accounts"'))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xE9 at offset \d+\); save "
                                          "the file as UTF-8") as raised:
        store.load(str(path))
    assert str(path) in str(raised.value)


def test_a_connection_folder_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    taken = tmp_path / "connections.toml"
    taken.write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        ConnectionStore(taken).entries()


def test_comments_and_key_order_survive_a_save(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    path = store.save(_conn())
    text = path.read_text().replace("[entity2]", "# the SQL side, by hand\n[entity2]")
    text = text.replace('deletions = "propagate"', 'deletions = "propagate"  # keep deletes in step')
    path.write_text(text)
    conn = store.load("crm-accounts-to-sql")
    conn.direction = conn.direction.__class__("bidirectional")
    store.save(conn)
    saved = path.read_text()
    assert "# the SQL side, by hand\n[entity2]" in saved
    assert 'deletions = "propagate"  # keep deletes in step' in saved
    assert 'direction = "bidirectional"' in saved
    assert saved.index("title =") < saved.index("direction =") < saved.index("[entity1]")


def test_mapping_exclude_is_saved_and_its_comments_survive(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn = _conn()
    conn.mapping.exclude = ["description"]
    path = store.save(conn)
    assert store.load("crm-accounts-to-sql").mapping.exclude == ["description"]
    path.write_text(path.read_text().replace('exclude = ["description"]',
                                             'exclude = ["description"]  # kept by hand in SQL'))
    conn = store.load("crm-accounts-to-sql")
    conn.direction = conn.direction.__class__("bidirectional")
    store.save(conn)
    assert 'exclude = ["description"]  # kept by hand in SQL' in path.read_text()
    conn.mapping.exclude = ["description", "fax"]
    store.save(conn)
    assert store.load("crm-accounts-to-sql").mapping.exclude == ["description", "fax"]
    conn.mapping.exclude = []
    store.save(conn)
    assert "exclude" not in path.read_text()


def test_titles_are_unique_in_a_folder(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    store.save(_conn("Accounts"))
    with pytest.raises(ConfigError, match="already exists"):
        store.save(_conn("accounts"))


def test_rename_moves_the_file(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn = _conn("Old name")
    store.save(conn)
    new_path = store.rename(conn, "New name")
    assert new_path.name == "new-name.toml" and new_path.is_file()
    assert not (config_dir / "old-name.toml").exists()
    assert store.load("New name").title == "New name"


def _changed_by_another(store: ConnectionStore) -> tuple[Connection, tuple[int, int] | None]:
    """A saved connection, its file's stamp as read, then the file edited by another."""
    conn = _conn()
    path = store.save(conn)
    read_as = file_stamp(path)
    path.write_text(path.read_text() + "# edited elsewhere\n")
    return conn, read_as


def test_a_save_does_not_write_over_a_file_changed_since_it_was_read(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn, read_as = _changed_by_another(store)
    conn.max_delete_ratio = 0.5
    with pytest.raises(ChangedOnDisk, match="changed on disk since it was read"):
        store.save(conn, unchanged_since=read_as)
    assert "# edited elsewhere" in (config_dir / "crm-accounts-to-sql.toml").read_text()


def test_a_rename_does_not_write_over_a_file_changed_since_it_was_read(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn, read_as = _changed_by_another(store)
    with pytest.raises(ChangedOnDisk):
        store.rename(conn, "New name", unchanged_since=read_as)
    assert not (config_dir / "new-name.toml").exists()
    assert "# edited elsewhere" in (config_dir / "crm-accounts-to-sql.toml").read_text()


def test_duplicate_and_delete(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn = _conn("Accounts")
    store.save(conn)
    copy = store.duplicate(conn)
    assert copy.title == "Copy of Accounts"
    assert store.duplicate(conn).title == "Copy of Accounts (2)"
    store.delete(copy)
    assert sorted(p.name for p in store.files()) == ["accounts.toml", "copy-of-accounts-2.toml"]


def test_a_broken_file_is_listed_with_its_line_and_the_others_still_load(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    store.save(_conn("Good one"))
    (config_dir / "broken.toml").write_text('title = "Broken"\ndirection = "sideways"\n')
    entries = {e.path.name: e for e in store.entries()}
    assert entries["good-one.toml"].connection is not None
    error = entries["broken.toml"].error
    assert error is not None and error.line == 2 and "sideways" in str(error)


def test_a_save_that_fails_mid_write_leaves_the_previous_file_intact(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ConnectionStore(config_dir)
    conn = _conn()
    path = store.save(conn)
    before = path.read_bytes()

    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        real_fsync(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "fsync", failing_fsync)
    conn.title = "CRM accounts to SQL"
    conn.entity2.select = "SELECT * FROM dbo.other"
    with pytest.raises(ConfigError, match="cannot write .*: No space left on device"):
        store.save(conn)
    assert path.read_bytes() == before
    assert [p.name for p in config_dir.iterdir()] == [path.name]  # no temp file left behind


def test_password_typed_into_a_connection_string_goes_to_the_keyring_not_the_file(config_dir: Path) -> None:
    store = ConnectionStore(config_dir)
    conn = _conn()
    conn.entity2.connection_string = SQL + "Password='p@ss;word';"
    path = store.save(conn)
    assert "p@ss" not in path.read_text()
    assert keyring_get("crm-accounts-to-sql", 2) == "p@ss;word"
    assert resolve_secret(store.load("crm-accounts-to-sql"), 2) == "p@ss;word"


def test_password_is_refused_when_no_keyring_is_usable(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    conn = _conn()
    conn.entity2.connection_string = SQL + "PWD=hunter2;"
    with pytest.raises(ConfigError, match="password_env") as info:
        ConnectionStore(config_dir).save(conn)
    assert "hunter2" not in str(info.value)
    assert not list(config_dir.glob("*.toml"))


def test_a_password_in_a_sql_urls_options_is_refused_on_save_and_nothing_written(
        config_dir: Path) -> None:
    # (as the TUI's Save Changes and `l2tui new --from` save: a URL's password is not moved)
    conn = _conn()
    conn.entity2.provider = "postgresql"
    conn.entity2.connection_string = "postgresql://sa@sqlhost/crm?password=TOPSECRET"
    with pytest.raises(ConfigError, match="the URL's password") as info:
        ConnectionStore(config_dir).save(conn)
    assert "TOPSECRET" not in str(info.value)
    assert not list(config_dir.glob("*.toml"))


def test_secret_comes_from_the_environment_variable_named_in_the_file(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = _conn()
    conn.entity1.password_env = "CRM_PASSWORD"
    monkeypatch.setenv("CRM_PASSWORD", "from-env")
    assert resolve_secret(conn, 1) == "from-env"


def test_missing_secret_names_the_three_ways_to_give_one(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_secret(_conn(), 1)
    message = str(info.value)
    assert "password_env" in message and "keyring" in message and "terminal" in message
