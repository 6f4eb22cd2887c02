"""`l2tui emulator` / `python -m l2tui.emulator`: serve the emulator until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .server import Emulator


def build_parser() -> argparse.ArgumentParser:
    """The emulator's command-line options."""
    parser = argparse.ArgumentParser(
        prog="l2tui emulator",
        description="Serve a local Dynamics 365 (Dataverse Web API) emulator until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--rows", type=int, default=1000, metavar="N", help="accounts to seed")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="seed of the sample data")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    parser.add_argument("--tls", action="store_true", help="serve https with a throwaway CA")
    parser.add_argument("--client-id", action="append", default=[], metavar="ID",
                        help="register another app (client) id for user sign-in (repeatable); "
                             "others than the defaults are refused (AADSTS700016)")
    return parser


def listen_error(host: str, port: int, exc: OSError | OverflowError) -> str:
    """One line for an address the emulator cannot bind (most often: the port is taken)."""
    reason = (exc.strerror if isinstance(exc, OSError) else None) or exc
    return (f"--port: cannot listen on {host}:{port}: {reason} (give another port, "
            "or 0 for any free one)")


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print where it listens, serve until SIGINT or SIGTERM."""
    args = build_parser().parse_args(argv)
    if args.rows < 0:
        print("l2tui: --rows: expected 0 or more", file=sys.stderr)
        return 2
    if args.tls and not _has_trustme():
        print("l2tui: --tls: needs the 'tls' extra (pip install 'l2tui[tls]', or '.[tls]' in a "
              "checkout)", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        emu = Emulator(rows=args.rows, seed=args.seed, auth=not args.no_auth, host=args.host,
                       port=args.port, tls=args.tls, public_clients=args.client_id)
        try:
            emu.start()
        except (OSError, OverflowError) as exc:  # (a port past 65535: OverflowError)
            print(f"l2tui: {listen_error(args.host, args.port, exc)}", file=sys.stderr)
            return 2
        with emu:
            _announce(emu)
            emu.serve_until_stopped(stop)
        print("Emulator stopped.", flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _has_trustme() -> bool:
    """Whether trustme, which --tls makes its throwaway CA with, can be imported."""
    try:
        import trustme  # noqa: F401
    except ImportError:
        return False
    return True


def _announce(emu: Emulator) -> None:
    connection_string = emu.connection_string()
    if emu.ca_bundle:  # (--tls: a client trusts the throwaway CA only when told to)
        connection_string += f"CABundle={emu.ca_bundle};"
    lines = [
        f"Dynamics 365 emulator listening on {emu.base_url}",
        f"Tables: accounts ({emu.store.count('accounts')} rows), "
        f"contacts ({emu.store.count('contacts')} rows)",
        f"Connection string: {connection_string}",
    ]
    if emu.auth:
        lines += [
            f"Authority: {emu.authority}",
            # a fake identity provider's sample credentials: shown, so that nobody reads code
            f"User: {emu.username}, password: {emu.password}",
            "App (client) ids for user sign-in: " + ", ".join(sorted(emu.idp.public_clients)),
            f"Confidential client: {emu.client_id}, secret: {emu.client_secret}",
        ]
        if not emu.tls:
            lines.append(
                f"MSAL needs https: send {emu.authority.rsplit('/', 1)[0]} to {emu.root_url} "
                f"(L2TUI_AUTHORITY_REWRITE={emu.authority.rsplit('/', 1)[0]}={emu.root_url})"
            )
    else:
        lines.append("Authentication: none (--no-auth)")
    if emu.ca_bundle:
        lines.append(f"CA bundle: {emu.ca_bundle}")
    lines.append("Press Ctrl+C to stop.")
    for line in lines:
        print(line, flush=True)
