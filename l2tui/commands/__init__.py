"""The command-line commands, one module each; ``l2tui.cli`` parses and dispatches."""
