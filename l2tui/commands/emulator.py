"""``l2tui emulator``: serve the bundled Dynamics 365 Web API emulator."""

from __future__ import annotations

import argparse

from l2tui.paths import Paths


def emulator_command(args: argparse.Namespace, paths: Paths) -> int:
    """Hand the options to the emulator's own command line."""
    from l2tui.emulator.cli import main

    argv = ["--host", args.host, "--port", str(args.port), "--rows", str(args.rows),
            "--seed", str(args.seed)]
    if args.no_auth:
        argv.append("--no-auth")
    if args.tls:
        argv.append("--tls")
    for client_id in args.client_id:
        argv += ["--client-id", client_id]
    return main(argv)
