"""The connection folder: list, load, save, rename, duplicate and delete connection files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from l2tui.config.document import render
from l2tui.config.files import Stamp, file_stamp, write_atomically
from l2tui.config.loader import parse_connection, title_problem
from l2tui.config.model import Connection, file_slug, slugify
from l2tui.config.secrets import NoKeyring, keyring_delete, keyring_get, keyring_set, split_secret
from l2tui.errors import ConfigError

SUFFIX = ".toml"
FOLDER = "a folder, not a connection file"
"""What is said of a folder where a connection file was expected (one named ``x.toml``)."""


class ChangedOnDisk(ConfigError):
    """A connection file was changed (or removed) by another since it was read: not written."""


def check_unchanged(path: Path, stamp: Stamp | None) -> None:
    """ChangedOnDisk unless the file still has the stamp it had when read (None: not checked)."""
    if stamp is not None and file_stamp(path) != stamp:
        raise ChangedOnDisk("changed on disk since it was read; not written over",
                            file=str(path))


@dataclass
class StoreEntry:
    """One file in the folder: its connection, or the error that keeps it from loading."""

    path: Path
    connection: Connection | None = None
    error: ConfigError | None = None

    @property
    def title(self) -> str:
        """The connection's title, or the file name for a broken file."""
        return self.connection.title if self.connection else self.path.name


def connection_text(data: bytes) -> str:
    """A connection file's bytes as text (without a Windows editor's byte-order mark);
    ConfigError if they are not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02X} at offset "
                          f"{exc.start}); save the file as UTF-8") from None


def read_connection_text(path: Path) -> str:
    """The text of a connection file; ConfigError naming the file if it cannot be read as text."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such connection file", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError(FOLDER, file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror or exc.__class__.__name__})",
                          file=str(path)) from None
    try:
        return connection_text(data)
    except ConfigError as exc:
        raise exc.at(str(path)) from None


def read_connection_file(path: Path, folder: Path | None = None) -> Connection:
    """Load and validate one connection file (of the connection folder ``folder``, if known)."""
    conn = parse_connection(read_connection_text(path), path)
    conn.path, conn.folder = path, folder
    return conn


def _listed(path: Path) -> bool:
    """Whether the connection folder lists ``path`` (a file, or a folder named as one)."""
    return path.is_file() or path.is_dir()


class ConnectionStore:
    """The connection files of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def files(self) -> list[Path]:
        """Connection files, sorted by name (none yet: no folder; a file there is an error)."""
        if not self.folder.is_dir():
            if self.folder.exists():
                raise ConfigError(f"the connection folder {self.folder} is not a folder (see "
                                  "--config-dir and L2TUI_CONFIG_DIR)")
            return []
        return sorted(p for p in self.folder.glob(f"*{SUFFIX}") if not p.name.startswith("."))

    def entries(self) -> list[StoreEntry]:
        """Every file, loaded; a broken file is listed with its error, not dropped."""
        out = []
        for path in self.files():
            try:
                out.append(StoreEntry(path, read_connection_file(path, self.folder)))
            except ConfigError as exc:
                out.append(StoreEntry(path, error=exc))
        return out

    def connections(self) -> Iterator[Connection]:
        """The connections that load."""
        return (e.connection for e in self.entries() if e.connection is not None)

    def resolve(self, name: str) -> Path:
        """The file a NAME means: a path to a .toml file, a file slug, a title, the start of
        one file slug alone (``demo`` for ``demo-dynamics-accounts-to-sqlite``), or the name of
        a file in the folder (``demo-dynamics-accounts-to-sqlite.toml``)."""
        candidate = Path(name).expanduser()
        listed = self.folder / name
        if (candidate.suffix == SUFFIX and os.sep not in name and candidate.is_file()
                and listed.is_file() and not candidate.samefile(listed)):
            raise ConfigError(f"'{name}' names two files: ./{name} here and {listed} (as "
                              f"l2tui list shows it); give ./{name} or {candidate.stem}")
        if candidate.suffix == SUFFIX and (candidate.is_file() or os.sep in name):
            return candidate
        # (what the folder lists: a folder named x.toml too, which does not load, and says so
        # alike whether it was named x.toml or x)
        if candidate.suffix == SUFFIX and _listed(self.folder / name):
            return self.folder / name  # the file name `l2tui list` shows
        by_slug = self.folder / f"{name}{SUFFIX}"
        if _listed(by_slug):
            return by_slug
        slug = slugify(name)
        if _listed(self.folder / f"{slug}{SUFFIX}"):
            return self.folder / f"{slug}{SUFFIX}"
        entries = self.entries()
        titled = [e.path for e in entries
                  if e.connection and e.connection.title.casefold() == name.casefold()]
        if len(titled) == 1:
            return titled[0]
        if titled:  # (files copied by hand: the app and ``new`` keep titles unique)
            raise ConfigError(f"'{name}' is the title of {len(titled)} connections: "
                              f"{', '.join(p.name for p in titled)}; name one by its file")
        starts = [e.path for e in entries if slug and e.path.stem.startswith(slug)]
        if len(starts) == 1:
            return starts[0]
        if starts:
            raise ConfigError(f"'{name}' could name {len(starts)} connections: "
                              f"{', '.join(p.stem for p in starts)}")
        known = ", ".join(e.path.stem for e in entries) or "none yet (l2tui new TITLE)"
        raise ConfigError(f"no connection named '{name}' in {self.folder} (another folder: "
                          f"--config-dir or $L2TUI_CONFIG_DIR); connections: {known}")

    def load(self, name: str) -> Connection:
        """Load the connection NAME means (a file outside the folder has a slug of its own)."""
        return read_connection_file(self.resolve(name), self.folder)

    def load_recorded(self, name: str) -> tuple[Connection, ConfigError | None]:
        """The connection NAME means, for reading what its runs recorded: a file that does not
        load (a slip made while editing it) still names its state, by its file's slug; then a
        stand-in titled by the file's name, and the file's error to show beside the records."""
        path = self.resolve(name)
        try:
            return read_connection_file(path, self.folder), None
        except ConfigError as exc:
            if not path.is_file():
                raise
            return Connection(title=path.stem, path=path, folder=self.folder), exc

    def path_for(self, title: str) -> Path:
        """A free file path for a new title."""
        return self.folder / f"{slugify(title)}{SUFFIX}"

    def check_title_free(self, title: str, own: Path | None = None) -> None:
        """Titles are unique in a folder (case-insensitive), and so are their file slugs."""
        for entry in self.entries():
            if own is not None and entry.path.resolve() == own.resolve():
                continue
            if entry.connection and entry.connection.title.casefold() == title.casefold():
                raise ConfigError(f"a connection titled '{title}' already exists ({entry.path.name})")
            if entry.path.stem == slugify(title):
                raise ConfigError(f"the file {entry.path.name} already exists; choose another title")

    def save(self, conn: Connection, *, unchanged_since: Stamp | None = None) -> Path:
        """Validate and write a connection; move any password typed into a string to the keyring.
        ``unchanged_since``: the stamp its file had when read; a file changed since (by another
        program or person) is not written over (ChangedOnDisk)."""
        path = conn.path or self.path_for(conn.title)
        self.check_title_free(conn.title, own=path if conn.path else None)
        for index in (1, 2):
            entity = conn.entity(index)
            clean, secret = split_secret(entity)
            if secret is not None:
                try:
                    keyring_set(file_slug(path, self.folder), index, secret)
                except NoKeyring as exc:
                    var = entity.password_env or "CRM_PASSWORD"
                    raise ConfigError(
                        f"the connection string holds a password and {exc}; remove it and set "
                        f'password_env = "{var}" (or run on a terminal to be asked)',
                        file=str(path), key=f"entity{index}.connection_string",
                    ) from None
                entity.connection_string = clean
        text = render(conn)
        checked = parse_connection(text, path)  # never write what we could not read back
        check_unchanged(path, unchanged_since)
        try:
            write_atomically(path, text, through_link=True)
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
        conn.path, conn.folder = path, self.folder
        conn.document = checked.document
        return path

    def create(self, title: str, template: Connection | None = None) -> Connection:
        """A new connection file titled ``title`` (from a template's settings, if given)."""
        title = title.strip()
        if not title:
            raise ConfigError("a connection needs a title")
        if (problem := title_problem(title)) is not None:
            raise ConfigError(f"the title {problem}")
        if template is None:
            conn = Connection(title=title)
            conn.entity1.title, conn.entity2.title = "Data Entity 1", "Data Entity 2"
        else:
            conn = parse_connection(render(template))  # (its comments kept: a copy's notes)
            conn.title = title
            conn.path = None
        self.save(conn)
        return conn

    def rename(self, conn: Connection, title: str, *, unchanged_since: Stamp | None = None) -> Path:
        """Change a connection's title and file name; its stored secrets move with it
        (``unchanged_since``: as ``save``, of the file it had)."""
        old = conn.path
        new_path = self.path_for(title)
        self.check_title_free(title, own=old)
        conn.title = title
        if old is not None and old.resolve() != new_path.resolve():
            check_unchanged(old, unchanged_since)
            conn.path = new_path
            self.save(conn)
            for index in (1, 2):
                secret = keyring_get(file_slug(old, self.folder), index)
                if secret:
                    with contextlib.suppress(NoKeyring):
                        keyring_set(file_slug(new_path, self.folder), index, secret)
                    keyring_delete(file_slug(old, self.folder), index)
            old.unlink(missing_ok=True)
            return new_path
        return self.save(conn, unchanged_since=unchanged_since)

    def duplicate(self, conn: Connection, title: str | None = None) -> Connection:
        """A copy under a new title ("Copy of …" by default); secrets are not copied."""
        base = title or f"Copy of {conn.title}"
        candidate, n = base, 2
        while True:
            try:
                self.check_title_free(candidate)
                break
            except ConfigError:
                if title:
                    raise
                candidate, n = f"{base} ({n})", n + 1
        return self.create(candidate, template=conn)

    def delete(self, conn: Connection) -> None:
        """Remove a connection's file and its keyring entries."""
        if conn.path is not None:
            conn.path.unlink(missing_ok=True)
            for index in (1, 2):
                keyring_delete(file_slug(conn.path, self.folder), index)
