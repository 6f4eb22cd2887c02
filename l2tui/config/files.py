"""Private files and folders: a failed write never leaves a half-written file behind, a folder
l2tui makes is its owner's alone whatever the umask, and no file is opened through a symbolic
link put in its place."""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shlex
import stat
import tempfile
from pathlib import Path

Stamp = tuple[int, int]  # a file's modification time (ns) and size: changed when either is


def file_stamp(path: Path) -> Stamp | None:
    """A file's stamp, or None when it cannot be seen (one stat: cheap enough to poll)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def write_atomically(path: Path, text: str, mode: int = 0o600, *, through_link: bool = False
                     ) -> None:
    """Write a file via a temp file and os.replace, so a failed write leaves the old file intact.
    A symbolic link at ``path`` is replaced, unless ``through_link`` (a connection file a user
    linked: the file it links to is written, the link kept)."""
    if through_link:
        path = Path(os.path.realpath(path))
    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_folder(folder: Path) -> None:
    """Create ``folder`` and each missing folder above it, each mode 0700 whatever the umask
    (a folder already there is left as it is)."""
    for level in reversed(_missing(folder)):
        try:
            level.mkdir(mode=0o700)
        except FileExistsError:  # (made meanwhile, by another process)
            continue
        os.chmod(level, 0o700)


def _missing(folder: Path) -> list[Path]:
    """``folder`` and the folders above it that are not there yet, innermost first."""
    missing = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def shared_folder(folder: Path, group: bool = False) -> str | None:
    """Why other users could change the files in ``folder``, and how to stop them; None when
    they cannot (it is this user's or root's, and others, and with ``group`` its group too, may
    not write to it, or only to their own files: the sticky bit)."""
    info = folder.stat()
    quoted = shlex.quote(str(folder))
    if info.st_uid not in (os.getuid(), 0):
        return (f"the folder {folder} belongs to another user ({_user(info.st_uid)}), who could "
                f"change l2tui's files in it: chown {_user(os.getuid())} {quoted} && "
                f"chmod 700 {quoted}")
    writers = stat.S_IWOTH | (stat.S_IWGRP if group else 0)
    if info.st_mode & writers and not info.st_mode & stat.S_ISVTX:
        return (f"the folder {folder} can be written by other users, who could change l2tui's "
                f"files in it: chmod 700 {quoted}")
    return None


def shared_file(path: Path) -> str | None:
    """Why other users could change the connection file ``path`` (and so send its password to a
    host of theirs), and how to stop them; None when they cannot: it is this user's or root's,
    neither its group nor others may write to it, nor to its folder but for their own files
    (as ssh asks of its config: its group could rename this user's files there)."""
    real = Path(os.path.realpath(path))
    try:
        info = real.stat()
    except OSError:  # (gone since it was read: what was read is the user's to use)
        return None
    quoted = shlex.quote(str(real))
    if info.st_uid not in (os.getuid(), 0):
        return (f"the file {real} belongs to another user ({_user(info.st_uid)}), who could "
                f"change where it connects: chown {_user(os.getuid())} {quoted} && "
                f"chmod 600 {quoted}")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"the file {real} can be written by other users, who could change where it "
                f"connects: chmod 600 {quoted}")
    return shared_folder(real.parent, group=True)


def _user(uid: int) -> str:
    """The name of user ``uid`` (its number when it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def open_unfollowed(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` never through a symbolic link in its place (an OSError saying
    so), not inherited by a child process; a file it creates is mode 0600."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):
            raise OSError(errno.ELOOP, "it is a symbolic link, which l2tui does not follow "
                          "(remove it)", str(path)) from None
        raise


def keep_private(fd: int) -> None:
    """Mode 0600 for the open file ``fd`` when other users may read or write it."""
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)


def create_private(path: Path) -> None:
    """Create ``path`` empty and mode 0600 whatever the umask; anything there is left alone."""
    try:
        fd = open_unfollowed(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
