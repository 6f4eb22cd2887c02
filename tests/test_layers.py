"""The layers of DESIGN.md: imports point down; only l2tui/tui imports textual."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "l2tui"

# layer → layers it must not import (anything above it)
FORBIDDEN = {
    "config": ("l2tui.providers", "l2tui.sync", "l2tui.runner", "l2tui.tui", "l2tui.cli", "l2tui.commands", "l2tui.emulator"),
    "providers": ("l2tui.sync", "l2tui.runner", "l2tui.tui", "l2tui.cli", "l2tui.commands", "l2tui.emulator"),
    "sync": ("l2tui.runner", "l2tui.tui", "l2tui.cli", "l2tui.commands", "l2tui.emulator"),
    "tui": ("l2tui.cli", "l2tui.commands"),  # a front end: what it shares lives below them
    "emulator": ("l2tui.config", "l2tui.providers", "l2tui.sync", "l2tui.runner", "l2tui.tui", "l2tui.commands"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_only_the_tui_imports_textual(path: Path) -> None:
    if PACKAGE / "tui" in path.parents:
        return
    leaks = {name for name in _imports(path) if name == "textual" or name.startswith("textual.")}
    assert not leaks, f"{path} imports {leaks}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_down(layer: str) -> None:
    bad = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not bad, "\n".join(bad)


def test_the_guard_would_catch_a_textual_import(tmp_path: Path) -> None:
    sample = tmp_path / "leak.py"
    sample.write_text("from textual.app import App\n")
    assert "textual.app" in _imports(sample)
