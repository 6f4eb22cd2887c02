"""The connections being edited: loaded copies, unsaved changes and typed passwords (no textual)."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from l2tui.config.files import Stamp, file_stamp
from l2tui.config.model import Connection, slugify
from l2tui.config.secrets import NoKeyring, keyring_set
from l2tui.config.store import ConnectionStore, StoreEntry
from l2tui.errors import ConfigError

NEW_TITLE = "New Connection"

Kept = tuple[Connection, dict[int, str]]  # a connection and its typed passwords, as last saved


def _copy(conn: Connection) -> Connection:
    """A copy to compare edits with (without the file's document, which edits do not change)."""
    return copy.deepcopy(replace(conn, document=None))


def stamps(files: Iterable[Path]) -> dict[Path, Stamp]:
    """The stamp of each file that exists (one stat each: cheap enough to poll)."""
    return {path: stamp for path in files if (stamp := file_stamp(path)) is not None}


@dataclass
class Item:
    """One row of the connection list."""

    key: str
    title: str
    dirty: bool = False
    error: str | None = None


@dataclass
class Saved:
    """What Save Changes wrote: the file, and why a typed password could not be kept, if so."""

    path: Path
    secrets_not_kept: dict[int, str] = field(default_factory=dict)  # entity index: reason


@dataclass
class Workspace:
    """The connection folder as the TUI sees it: files plus edits not saved yet."""

    store: ConnectionStore
    order: list[Path] = field(default_factory=list)
    errors: dict[Path, str] = field(default_factory=dict)
    working: dict[Path, Connection] = field(default_factory=dict)
    dirty: set[Path] = field(default_factory=set)
    secrets: dict[tuple[Path, int], str] = field(default_factory=dict)
    seen: dict[Path, Stamp] = field(default_factory=dict)  # the files as last read or written here
    named: set[Path] = field(default_factory=set)  # files named after their title (as last saved)
    kept: dict[Path, Kept] = field(default_factory=dict)  # as last read or written here
    fresh: set[Path] = field(default_factory=set)  # made by create(), not saved since

    def reload(self) -> None:
        """Read the folder; keep the order of files already listed, new ones at the bottom."""
        self.seen = stamps(self.store.files())  # before reading: a write meanwhile shows next time
        entries = {e.path: e for e in self.store.entries()}
        kept = [p for p in self.order if p in entries or p in self.dirty]
        self.order = kept + [p for p in entries if p not in kept]
        self.errors = {p: _error(e) for p, e in entries.items() if e.error is not None}

    def changed_on_disk(self) -> set[Path]:
        """Files added, changed or removed by others since the folder was read or written here."""
        now = stamps(self.store.files())
        return {p for p in now.keys() | self.seen.keys() if now.get(p) != self.seen.get(p)}

    def catch_up(self) -> tuple[set[Path], set[Path]]:
        """Read again what others changed: (files changed, those whose unsaved edits were kept)."""
        changed = self.changed_on_disk()
        if not changed:
            return set(), set()
        for path in changed - self.dirty:
            self.working.pop(path, None)  # read again on next use
        for path in changed:  # (unsaved edits kept over a changed file stay unsaved)
            self.kept.pop(path, None)
        self.fresh -= changed  # (changed by another: theirs now)
        self.reload()
        return changed, changed & self.dirty

    def _wrote(self, *paths: Path) -> None:
        """Note files written or removed here: not changes by others."""
        self.seen.update(stamps(paths))
        for path in paths:
            if not path.exists():
                self.seen.pop(path, None)

    def items(self) -> list[Item]:
        """The list rows, in order, with unsaved markers and load errors."""
        out = []
        for path in self.order:
            conn = self.working.get(path)
            if conn is None and path not in self.errors:
                try:
                    conn = self.get(path)
                except ConfigError as exc:
                    self.errors[path] = exc.message
            title = conn.title if conn else path.name
            out.append(Item(str(path), title, path in self.dirty, self.errors.get(path)))
        return out

    def find(self, name: str) -> Path:
        """The listed file a slug, title or path names, or the start of one slug; ConfigError
        (the command line's message: none, or which ones) if it names none of them."""
        for path in self.order:
            conn = self.working.get(path)
            if name in (path.stem, str(path)) or (conn and conn.title.casefold() == name.casefold()):
                return path
        path = self.store.resolve(name)
        if path not in self.order:
            raise ConfigError(f"no connection named '{name}' in {self.store.folder}")
        return path

    def get(self, path: Path) -> Connection:
        """The working copy of a connection (loaded from its file on first use; a file that
        could not be read is read again, as it may have been fixed since)."""
        if path not in self.working:
            try:
                self.working[path] = self.store.load(str(path))
            except ConfigError as exc:
                self.errors[path] = exc.message
                raise
            self.errors.pop(path, None)
            self._named(path, self.working[path].title)
            self._keep(path)
        return self.working[path]

    def mark(self, conn: Connection, *, pending: bool = False) -> bool:
        """Note an edit: the connection is unsaved while it (or a typed password) differs from
        what was last read or written, or ``pending``: a field holds what the connection could
        not take (a problem shown in place); True when this made it newly unsaved."""
        assert conn.path is not None
        path, new = conn.path, conn.path not in self.dirty
        if not pending and self.kept.get(path) == (conn, self._typed(path)):
            self.dirty.discard(path)  # changed back
            return False
        self.dirty.add(path)
        return new

    def saved(self, path: Path) -> Connection:
        """The connection as last read from or written to its file here (what a run from cron
        would read), else its working copy."""
        kept = self.kept.get(path)
        return kept[0] if kept is not None else self.get(path)

    def _typed(self, path: Path) -> dict[int, str]:
        return {index: secret for (p, index), secret in self.secrets.items() if p == path}

    def _keep(self, path: Path) -> None:
        """Remember a connection as it is now in its file (and its passwords not kept)."""
        self.kept[path] = (_copy(self.working[path]), self._typed(path))

    def set_secret(self, conn: Connection, index: int, secret: str) -> None:
        """Remember a typed password until Save Changes puts it in the keyring."""
        assert conn.path is not None
        if secret:
            self.secrets[(conn.path, index)] = secret
        else:
            self.secrets.pop((conn.path, index), None)

    def save(self, conn: Connection) -> Saved:
        """Write the file and store typed passwords (a password the keyring refuses is kept in
        memory, and said in the result). A file named after its title follows a new title when
        that name is free; one named otherwise (by hand, say) keeps its name: cron runs it by it.
        A file changed on disk since it was read here is not written over (ChangedOnDisk): once
        ``catch_up`` has read it again, it is."""
        old = conn.path
        assert old is not None
        if self.renames(conn):
            path = self.store.rename(conn, conn.title, unchanged_since=self.seen.get(old))
        else:
            path = self.store.save(conn, unchanged_since=self.seen.get(old))
        if path != old:
            self._move(old, path)
        self._wrote(old, path)
        self.fresh.discard(old)
        self._named(path, conn.title)
        self.dirty.discard(path)
        self.errors.pop(path, None)  # (a file broken on disk meanwhile: fixed by this write)
        saved = Saved(path)
        for index in (1, 2):
            secret = self.secrets.get((path, index))
            if secret:
                try:
                    keyring_set(conn.slug, index, secret)
                except NoKeyring as exc:
                    saved.secrets_not_kept[index] = str(exc)
                    continue
                self.secrets.pop((path, index))
        self._keep(path)
        return saved

    def renames(self, conn: Connection) -> bool:
        """Whether saving ``conn`` renames its file (after a new title, when that name is free)."""
        old = conn.path
        return old is not None and old in self.named and slugify(conn.title) != old.stem and \
            not self.store.path_for(conn.title).exists()

    def unkept_secrets(self) -> list[tuple[Path, int]]:
        """Typed passwords of saved connections (the keyring refused them): lost on quit."""
        return sorted(key for key in self.secrets if key[0] not in self.dirty)

    def revert(self, path: Path) -> None:
        """Drop unsaved edits of one connection."""
        self.working.pop(path, None)
        self.kept.pop(path, None)
        self.dirty.discard(path)
        for index in (1, 2):
            self.secrets.pop((path, index), None)

    def create(self, template: Connection | None = None) -> Connection:
        """A new connection at the bottom of the list ("New Connection", or a copy)."""
        if template is not None:
            conn = self.store.duplicate(template)
        else:
            title, n = NEW_TITLE, 2
            while self._taken(title):
                title, n = f"{NEW_TITLE} ({n})", n + 1
            conn = self.store.create(title)
        assert conn.path is not None
        if template is None:
            self.fresh.add(conn.path)
        self._wrote(conn.path)
        self._named(conn.path, conn.title)
        self.order.append(conn.path)
        self.working[conn.path] = conn
        self._keep(conn.path)
        return conn

    def drop_untouched(self, keep: Path | None = None, *, edits_lost: bool = False) -> list[Path]:
        """Remove the new connections left as they were made (never edited, never saved), but
        ``keep``: the ones removed. ``edits_lost`` (quitting): those edited and never saved too,
        whose file is still as it was made."""
        gone = sorted(p for p in self.fresh if p != keep and (edits_lost or p not in self.dirty))
        for path in gone:
            path.unlink(missing_ok=True)
            self._wrote(path)
            self.revert(path)
            self.fresh.discard(path)
            if path in self.order:
                self.order.remove(path)
        return gone

    def delete(self, path: Path) -> None:
        """Remove a connection's file, keyring entries and list row."""
        conn = self.working.get(path) or Connection(title=path.stem, path=path)
        self.store.delete(conn)
        path.unlink(missing_ok=True)
        self._wrote(path)
        self.revert(path)
        self.fresh.discard(path)
        self.errors.pop(path, None)
        if path in self.order:
            self.order.remove(path)

    def _taken(self, title: str) -> bool:
        try:
            self.store.check_title_free(title)
        except ConfigError:
            return True
        return False

    def _named(self, path: Path, title: str) -> None:
        if slugify(title) == path.stem:
            self.named.add(path)
        else:
            self.named.discard(path)

    def _move(self, old: Path, new: Path) -> None:
        self.order = [new if p == old else p for p in self.order]
        self.working[new] = self.working.pop(old)
        self.kept.pop(old, None)  # (kept again once written)
        if old in self.dirty:
            self.dirty.discard(old)
            self.dirty.add(new)
        for index in (1, 2):
            if (old, index) in self.secrets:
                self.secrets[(new, index)] = self.secrets.pop((old, index))


def _error(entry: StoreEntry) -> str:
    return entry.error.message if entry.error else ""
