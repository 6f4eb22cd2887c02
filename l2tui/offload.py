"""A second Python process for CPU-bound work: byte frames in, a job's answers out, in order.

Why: a run's reading (JSON decoding, converting, normalising, hashing) and its writing share one
interpreter lock. On a machine with two CPUs or more, a child process decodes the next page while
this one writes the last. The child holds nothing but the job: no network, no secret, no state
(its environment is what Python needs alone, not this process's variables); it exits when its
input closes (this process ended, even by SIGKILL).

Frames are an 8-byte little-endian length and a body. The first frame to the child is the pickled
job; each later frame is one input. The job is called with it and yields answers. Each goes back
as ``M`` and its ``marshal`` form when it is made of plain values (several times faster to read
back than a pickle: the parent's time is the scarce one), else as ``P`` and its pickle; an
exception the job raised goes back as ``E`` and its pickle.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not Unix
    fcntl = None  # type: ignore[assignment]

Job = Callable[[bytes], Iterator[Any]]
"""One input frame → its answers (a picklable callable: the child gets a copy)."""

_LENGTH = struct.Struct("<Q")
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
# what the child gets of this process's environment: what Python needs to start and import l2tui
# (a shared libpython's folder too), and what could change how it decodes (locale, time zone);
# never the rest, where the secrets are (a connection's password_env)
_KEPT = frozenset({"PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH",
                   "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
                   "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "PYTHONUTF8", "PYTHONIOENCODING",
                   "PYTHONHASHSEED", "PYTHONMALLOC", "PYTHONWARNINGS"})
_KEPT_PREFIXES = ("LC_",)  # (a password_env named LC_… would be the locale's: not a secret's)


class OffloadError(Exception):
    """The child process stopped, or could not be started."""


def useful() -> bool:
    """Whether a second process can help: this process may use two CPUs or more, there is a
    Python to start, and ``L2TUI_OFFLOAD`` is not ``0``."""
    if os.environ.get("L2TUI_OFFLOAD", "1") == "0" or not sys.executable:
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return cpus >= 2


def _widen(pipe: IO[bytes]) -> None:
    """Make a pipe hold as much as this system lets (Linux; elsewhere it stays as it is).

    Each read of a pipe returns at most what it holds (64 KiB by default), and the thread that
    reads must take the interpreter lock back after each: with another thread busy, each take
    waits up to the switch interval (5 ms). A 5 MB page then took 80 such waits; with 1 MiB, 5.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    try:
        with open("/proc/sys/fs/pipe-max-size") as limit:
            size = int(limit.read())
        fcntl.fcntl(pipe.fileno(), set_size, min(size, 16 << 20))
    except (OSError, ValueError):
        pass


def _read_frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    return body if len(body) == size else None


def _write_frame(stream: IO[bytes], body: bytes, prefix: bytes = b"") -> None:
    stream.write(_LENGTH.pack(len(prefix) + len(body)) + prefix)
    stream.write(body)
    stream.flush()


class Offload:
    """A child process running ``job`` over the frames sent to it.

    Neither side waits on the other's pipe: here, one thread writes the inputs ``send`` queues
    and another reads the answers as they come; in the child, a thread reads the inputs. (A pipe
    holds 1 MiB at most: a 5 MB page written by the thread that fetches pages kept it waiting
    until the child's busy interpreter let its reading thread take each part.) So one thread may
    send the next input before it takes the answers to the last. ``close`` stops the child at
    once: it holds nothing worth finishing.
    """

    def __init__(self, job: Job) -> None:
        env = _child_environment()
        try:
            # its own session: a Ctrl-C at the terminal is this process's to handle, not the
            # child's (it would print a traceback over the screen)
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "l2tui.offload"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                start_new_session=True)
        except OSError as exc:
            raise OffloadError(f"cannot start a second process: {exc.strerror or exc}") from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin, self._proc.stdout
        for pipe in (self._to, self._from):
            _widen(pipe)
        self._answers: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._inputs: queue.SimpleQueue[tuple[bytes, bytes] | None] = queue.SimpleQueue()
        self._failed = False
        threading.Thread(target=_drain, args=(self._from, self._answers), daemon=True,
                         name="l2tui-offload-answers").start()
        threading.Thread(target=self._feed, daemon=True, name="l2tui-offload-inputs").start()
        self.send(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))

    def send(self, data: bytes, prefix: bytes = b"") -> None:
        """Queue one input for the child (``prefix`` + ``data``, without joining them here)."""
        if self._failed:
            raise OffloadError(self._stopped())
        self._inputs.put((prefix, data))

    def _feed(self) -> None:
        while (item := self._inputs.get()) is not None:
            try:
                _write_frame(self._to, item[1], item[0])
            except (ValueError, OSError):  # the child is gone: ``receive`` says so
                self._failed = True
                return
            del item

    def receive(self) -> Any:
        """The next answer; the job's exception raised again; OffloadError if the child ended."""
        body = self._answers.get()
        if body is None:
            self._answers.put(None)  # (for a later call too)
            raise OffloadError(self._stopped())
        kind, data = body[:1], memoryview(body)[1:]
        if kind == b"M":
            return marshal.loads(data)
        answer = pickle.loads(data)  # noqa: S301  (our own child's answer)
        if kind == b"E":
            raise answer
        return answer

    def _stopped(self) -> str:
        code = self._proc.poll()
        return "the second process stopped" + ("" if code is None else f" (exit code {code})")

    def close(self) -> None:
        """Stop the child and wait for it (first: a pipe read in another thread closes only once
        that read returns, at the child's end)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._inputs.put(None)
        for pipe in (self._to, self._from):
            with contextlib.suppress(OSError):
                pipe.close()


def _child_environment() -> dict[str, str]:
    """The child's environment: the variables ``_KEPT`` of this one's, l2tui on its PYTHONPATH."""
    env = {name: value for name, value in os.environ.items()
           if name in _KEPT or name.startswith(_KEPT_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _drain(stream: IO[bytes], into: queue.SimpleQueue[bytes | None]) -> None:
    """Put each frame read from ``stream`` into ``into``, then None (at its end)."""
    try:
        while (frame := _read_frame(stream)) is not None:
            into.put(frame)
    except (ValueError, OSError):
        pass
    into.put(None)


def _serve() -> None:
    """The child: read the job, then answer each input frame in order."""
    source = sys.stdin.buffer
    sink = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # a stray print must not corrupt the frames
    first = _read_frame(source)
    if first is None:
        return
    job: Job = pickle.loads(first)  # noqa: S301  (from the parent that started us)
    # a job makes and drops tens of thousands of containers a frame and keeps none in cycles:
    # young objects are collected rarely (15-25 % less time, timed on 30,000 rows), and none made before now at all
    gc.freeze()
    gc.set_threshold(100_000)
    inputs: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_drain, args=(source, inputs), daemon=True).start()
    try:
        while (frame := inputs.get()) is not None:
            try:
                for answer in job(frame):
                    _write_frame(sink, _encoded(answer))
                    answer = None
            except Exception as exc:  # noqa: BLE001  (handed to the parent)
                _write_frame(sink, _pickled_error(exc))
            del frame
    except (BrokenPipeError, OSError):
        pass  # the parent went away


def _encoded(answer: Any) -> bytes:
    try:
        return b"M" + marshal.dumps(answer)
    except ValueError:  # not plain values
        return b"P" + pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)


def _pickled_error(exc: Exception) -> bytes:
    try:
        return b"E" + pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001  (an exception that cannot be pickled: its text)
        return b"E" + pickle.dumps(OffloadError(f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    # run as the module ``l2tui.offload``, not ``__main__``: the answers' classes (OffloadError)
    # must be the ones the parent unpickles
    from l2tui.offload import _serve as serve

    serve()
