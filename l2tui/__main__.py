"""Run the command line with ``python -m l2tui``."""

from l2tui.cli import main

raise SystemExit(main())
