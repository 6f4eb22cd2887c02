"""The ``l2tui`` command line: argument parsing, dispatch, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from l2tui import __version__
from l2tui.errors import L2Error
from l2tui.output import GuardedOutput, OutputFailed
from l2tui.paths import Paths, resolve_paths

EXIT_CODES = """exit codes:
  0  done
  1  a run finished with errors or unresolved conflicts, or did not run to its
     end (a guard refused it, it was cancelled, or the connection was already
     running)
  2  bad input or configuration
  3  a side cannot be reached or used (no connection or sign-in; a database
     locked by another program, read-only or full)"""

NAME = "its title, its file's name or slug, or a path to a .toml file"

# command → "module:function"; each function takes (args, paths) and returns an exit code
COMMANDS: dict[str, str] = {
    "tui": "l2tui.commands.tui:tui_command",
    "list": "l2tui.commands.manage:list_command",
    "show": "l2tui.commands.manage:show_command",
    "new": "l2tui.commands.manage:new_command",
    "edit": "l2tui.commands.manage:edit_command",
    "paths": "l2tui.commands.manage:paths_command",
    "set-password": "l2tui.commands.manage:set_password_command",
    "verify": "l2tui.commands.inspect:verify_command",
    "preview": "l2tui.commands.inspect:preview_command",
    "create-table": "l2tui.commands.table:create_table_command",
    "run": "l2tui.commands.run:run_command",
    "history": "l2tui.commands.history:history_command",
    "conflicts": "l2tui.commands.history:conflicts_command",
    "demo": "l2tui.commands.demo:demo_command",
    "emulator": "l2tui.commands.emulator:emulator_command",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"l2tui: {message} (see l2tui {self.prog.split()[-1]} --help)\n"
                  if " " in self.prog else f"l2tui: {message} (see l2tui --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
    def options(default: object) -> _Parser:
        shared = _Parser(add_help=False)
        shared.add_argument("--config-dir", metavar="DIR", default=default,
                            help="folder of connection files (default: $L2TUI_CONFIG_DIR or the user config folder)")
        shared.add_argument("--debug", action="store_true", default=default or False,
                            help="show a traceback on errors")
        return shared

    # given before or after the command; the sub-command's copy must not reset the top one
    common, sub_common = options(None), options(argparse.SUPPRESS)

    parser = _Parser(
        prog="l2tui",
        description="Keep Dynamics 365 (Dataverse) and SQL databases in sync, from the terminal.\n"
        "Without a command, opens the connection manager.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"l2tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[sub_common],
                              epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add("tui", "open the connection manager (the default)")
    p.add_argument("name", nargs="?", metavar="NAME", help=f"the connection to select: {NAME}")

    p = add("list", "list connections: title, direction, providers, last run, file")
    p.add_argument("--json", action="store_true",
                   help="print the connections and their latest runs as JSON on stdout")

    p = add("show", "print a connection file as TOML (it never holds a secret)")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")

    p = add("new", "create a connection file")
    p.add_argument("title", metavar="TITLE", help="the connection's title")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="copy the settings of another connection (name or .toml file)")

    p = add("edit", "edit a connection file in $VISUAL or $EDITOR; saved only if it loads")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")

    add("paths", "where connections, state, logs and the token cache live")

    p = add("set-password", "store an entity's password or client secret in the OS keyring")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--entity", type=int, choices=(1, 2), required=True,
                   help="the data entity whose secret this is")

    p = add("verify", "check that each data entity can connect and read")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--entity", type=int, choices=(1, 2), help="only this entity (default: both)")

    p = add("preview", "show the first rows of a data entity")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--entity", type=int, choices=(1, 2), required=True,
                   help="the data entity to read")
    p.add_argument("--rows", type=_positive, default=10, metavar="N", help="rows to show (default 10)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="how to print the rows (default table)")

    p = add("create-table", "create a SQL entity's table from the other entity's columns")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--entity", type=int, choices=(1, 2), default=2, help="the SQL entity (default 2)")
    p.add_argument("--yes", action="store_true", help="do not ask before creating")
    p.add_argument("--dry-run", action="store_true", help="print the CREATE TABLE, create nothing")

    p = add("run", "run a connection now (headless, for cron and systemd)")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing; exit as the run would")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument("--force", action="store_true",
                   help="run past the guards: the deletion guard, and a change of settings that "
                        "finds too few of the pairs synced before")
    p.add_argument("--full", action="store_true", help="compare every item on both sides and repair drift")
    p.add_argument("--reset", action="store_true", help="forget the sync state first (asks on a terminal)")
    p.add_argument("--yes", action="store_true", help="answer yes to confirmations")

    p = add("history", "a connection's latest runs: when, outcome, what each side got")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--limit", type=_positive, default=20, metavar="N",
                   help="runs to show, newest first (default 20)")
    p.add_argument("--json", action="store_true", help="print the runs as JSON on stdout")

    p = add("conflicts", "the conflicts runs met, with both sides' values")
    p.add_argument("name", metavar="NAME", help=f"the connection: {NAME}")
    p.add_argument("--run", type=_positive, metavar="N", help="only this run (see l2tui history)")
    p.add_argument("--json", action="store_true", help="print the conflicts as JSON on stdout")

    p = add("demo", "run the demo: bundled Dynamics emulator → SQLite")
    p.add_argument("--headless", action="store_true", help="run once and print the summary, no TUI")
    p.add_argument("--rows", type=_positive, default=500, metavar="N", help="accounts in the emulator (default 500)")
    p.add_argument("--port", type=int, default=0, help="emulator port (default: any free port)")

    p = add("emulator", "serve the Dynamics 365 Web API emulator until interrupted")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    p.add_argument("--rows", type=int, default=1000, metavar="N",
                   help="sample accounts to serve (default 1000)")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="seed of the sample data (default 1)")
    p.add_argument("--no-auth", action="store_true", help="accept requests without a bearer token")
    p.add_argument("--tls", action="store_true", help="serve https with a throwaway CA")
    p.add_argument("--client-id", action="append", default=[], metavar="ID",
                   help="register another app (client) id for user sign-in (repeatable)")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of 1 or more, got {value}")
    return value


def _load(command: str) -> Callable[[argparse.Namespace, Paths], int]:
    module_name, func = COMMANDS[command].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if exc.name and exc.name.startswith("l2tui."):
            from l2tui.errors import NotAvailable

            raise NotAvailable(f"'l2tui {command}' is not available yet") from None
        raise
    return getattr(module, func)  # type: ignore[no-any-return]


def _open_closed_std_streams() -> None:
    """A standard stream closed when l2tui started (``>&- 2>&-`` in a crontab) is opened on
    /dev/null: its output is dropped as asked, rather than the command failing on it, and no
    file l2tui opens takes its number (where a stray write would land)."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            stream = open(fd, "r" if fd == 0 else "w", closefd=False)  # noqa: SIM115  (the process's)
            setattr(sys, name, stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``l2tui`` script."""
    _open_closed_std_streams()
    # a message whose text the terminal's encoding lacks ('—' in ASCII) is said with escapes,
    # not lost to a UnicodeEncodeError
    with contextlib.suppress(AttributeError, ValueError):
        sys.stderr.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    stdout = sys.stdout
    if stdout is not None:  # (None: stdout was closed and could not be opened on /dev/null)
        sys.stdout = GuardedOutput(stdout)  # type: ignore[assignment]
    code: int | None = None
    try:
        try:
            code = _main(argv)
            return code
        finally:  # (argparse's --help and --version too)
            if sys.stdout is not None:  # what is still buffered: a failure is said here, not at exit
                sys.stdout.flush()
    except OutputFailed as exc:
        return _output_failed(exc, code)
    finally:
        sys.stdout = stdout
        _drop_unsaid_errors()


def _drop_unsaid_errors() -> None:
    """What stderr could not take (its terminal hung up: the SSH session dropped while a run
    showed its progress) is dropped, not left for Python's last flush, whose failure would make
    the exit code 120 rather than the command's."""
    try:
        sys.stderr.flush()
    except OSError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stderr.fileno())
            os.close(devnull)
            sys.stderr.flush()
    except (ValueError, AttributeError):  # (closed, or None)
        pass


def _output_failed(exc: OutputFailed, code: int | None) -> int:
    """Standard output failed: a closed pipe ends the command quietly (as ``l2tui list | head``
    expects), another failure (a full disk) is said in one line. The exit code is the command's
    when it failed (or that of the error it was printing, which is said too), else 0 for a
    closed pipe and 1 for another failure.
    What is still buffered goes nowhere, not to an "Exception ignored" as Python exits."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, L2Error):
        cause = cause.__context__  # (run --json printing a failure on stdout too)
    with contextlib.suppress(OSError):
        if isinstance(cause, L2Error):
            print(f"l2tui: {cause}", file=sys.stderr)
            code = cause.exit_code
        if not isinstance(exc.error, BrokenPipeError):
            print(f"l2tui: cannot write to standard output: {exc}", file=sys.stderr)
    if exc.code is not None:  # (the command knew how it went before it said so)
        code = exc.code
    if isinstance(exc.error, BrokenPipeError):
        return code or 0
    return code or 1  # (what it had to say was not said)


def _main(argv: Sequence[str] | None) -> int:
    """The command ``argv`` names, run; its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.command = "tui"
        args.name = None
    try:
        paths = resolve_paths(args.config_dir)
        return _load(args.command)(args, paths)
    except OutputFailed:
        raise
    except L2Error as exc:
        if args.debug:
            traceback.print_exc()
        with contextlib.suppress(OSError):  # (no one reads stderr: the exit code says it)
            print(f"l2tui: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):  # (a terminal that hung up: exit 130 all the same)
            print("l2tui: interrupted", file=sys.stderr)
        # now, not once the threads still waiting on a server that does not answer end (the
        # interpreter would join them): what this process had to say is said
        with contextlib.suppress(OSError, ValueError, OutputFailed):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(130)
    except Exception as exc:  # the last guard: one line, never a traceback unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"l2tui: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
