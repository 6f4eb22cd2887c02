"""``l2tui edit NAME``: a connection file edited in $EDITOR, replaced only by text that loads."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import CliRunner, TerminalRunner

EDITOR = """\
import json, sys
from pathlib import Path
plan = Path(sys.argv[1])
turns = json.loads(plan.read_text())
count = Path(str(plan) + ".count")
turn = int(count.read_text()) if count.exists() else 0
count.write_text(str(turn + 1))
step = turns[min(turn, len(turns) - 1)]
target = Path(sys.argv[2])
if step.get("exit"):
    sys.exit(step["exit"])
if "replace" in step:
    old, new = step["replace"]
    target.write_text(target.read_text().replace(old, new))
if "append_hex" in step:
    target.write_bytes(target.read_bytes() + bytes.fromhex(step["append_hex"]))
if "block" in step:  # a folder where the edited file goes: it cannot be replaced
    Path(step["block"]).unlink()
    Path(step["block"]).mkdir()
"""


def editor(tmp_path: Path, *turns: dict[str, object]) -> str:
    """An $EDITOR that makes one scripted change per time it is started (the last repeats)."""
    script, plan = tmp_path / "editor.py", tmp_path / "plan.json"
    script.write_text(EDITOR)
    plan.write_text(json.dumps(list(turns)))
    return f"{sys.executable} {script} {plan}"


def created(run_cli: CliRunner, config_dir: Path) -> Path:
    assert run_cli("new", "CRM accounts").returncode == 0
    path = config_dir / "crm-accounts.toml"
    path.write_text("# kept by hand\n" + path.read_text())
    return path


def no_copies_left(config_dir: Path) -> bool:
    return sorted(p.name for p in config_dir.iterdir()) == ["crm-accounts.toml"]


def test_an_edit_that_loads_is_saved_with_its_comments(run_cli: CliRunner, config_dir: Path,
                                                       tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    change = editor(tmp_path, {"replace": ['direction = "left_to_right"',
                                           'direction = "bidirectional"']})
    result = run_cli("edit", "crm-accounts", env={"EDITOR": change, "VISUAL": ""})
    assert result.returncode == 0, result.stderr
    assert f"Saved {path}" in result.stderr
    text = path.read_text()
    assert 'direction = "bidirectional"' in text and text.startswith("# kept by hand\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert no_copies_left(config_dir)


def test_an_edit_that_does_not_load_is_refused_and_the_file_kept(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    change = editor(tmp_path, {"replace": ['direction = "left_to_right"',
                                           'direction = "sideways"']})
    result = run_cli("edit", "crm-accounts", env={"EDITOR": change, "VISUAL": ""})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert str(path) in line and "direction" in line and "the file is unchanged" in line
    assert path.read_text() == before
    assert no_copies_left(config_dir)


def test_an_edit_that_cannot_be_saved_is_one_line_and_kept_in_its_copy(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    change = editor(tmp_path, {"replace": ['direction = "left_to_right"',
                                           'direction = "bidirectional"'], "block": str(path)})
    result = run_cli("edit", "crm-accounts", env={"EDITOR": change, "VISUAL": ""})
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    [copy] = config_dir.glob(".crm-accounts.*.edit.toml")
    assert line == f"l2tui: cannot write {path}: Is a directory; the edit is kept in {copy}"
    assert 'direction = "bidirectional"' in copy.read_text()


def test_an_edit_that_changes_nothing_says_so(run_cli: CliRunner, config_dir: Path,
                                              tmp_path: Path) -> None:
    created(run_cli, config_dir)
    result = run_cli("edit", "crm-accounts", env={"EDITOR": editor(tmp_path, {}), "VISUAL": ""})
    assert result.returncode == 0 and "No changes" in result.stderr


def test_an_editor_that_fails_changes_nothing(run_cli: CliRunner, config_dir: Path,
                                             tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    result = run_cli("edit", "crm-accounts",
                     env={"EDITOR": editor(tmp_path, {"exit": 3}), "VISUAL": ""})
    assert result.returncode == 2 and "the editor exited with code 3" in result.stderr
    assert path.read_text() == before and no_copies_left(config_dir)


def test_a_missing_editor_is_one_line_naming_it(run_cli: CliRunner, config_dir: Path) -> None:
    created(run_cli, config_dir)
    result = run_cli("edit", "crm-accounts", env={"EDITOR": "no-such-editor-l2tui", "VISUAL": ""})
    assert result.returncode == 2
    assert "cannot start the editor 'no-such-editor-l2tui'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_editor_variable_with_an_unbalanced_quote_is_one_line_naming_it(
        run_cli: CliRunner, config_dir: Path) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    result = run_cli("edit", "crm-accounts", env={"EDITOR": 'vim "', "VISUAL": ""})
    assert result.returncode == 2
    assert result.stderr == ("l2tui: $EDITOR cannot be read as a command (No closing quotation): "
                             'vim "\n')
    assert path.read_text() == before and no_copies_left(config_dir)


def test_a_broken_file_is_mended_with_edit(run_cli: CliRunner, config_dir: Path,
                                           tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    path.write_text(path.read_text().replace('direction = "left_to_right"', 'direction = 5'))
    assert run_cli("show", "crm-accounts").returncode == 2
    change = editor(tmp_path, {"replace": ["direction = 5", 'direction = "right_to_left"']})
    result = run_cli("edit", str(path), env={"EDITOR": change, "VISUAL": ""})
    assert result.returncode == 0, result.stderr
    assert run_cli("show", "crm-accounts").returncode == 0


def test_on_a_terminal_a_bad_edit_can_be_edited_again(
        run_on_terminal: TerminalRunner, run_cli: CliRunner, config_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = created(run_cli, config_dir)
    monkeypatch.setenv("VISUAL", editor(
        tmp_path, {"replace": ['direction = "left_to_right"', 'direction = "sideways"']},
        {"replace": ['direction = "sideways"', 'direction = "right_to_left"']}))
    code, shown = run_on_terminal("edit", "crm-accounts", answers=["y"])
    assert code == 0, shown
    assert "direction" in shown and "Edit again? [Y/n]" in shown
    assert 'direction = "right_to_left"' in path.read_text()


def test_on_a_terminal_a_bad_edit_dropped_keeps_the_file(
        run_on_terminal: TerminalRunner, run_cli: CliRunner, config_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    monkeypatch.setenv("VISUAL", editor(
        tmp_path, {"replace": ['direction = "left_to_right"', 'direction = "sideways"']}))
    code, shown = run_on_terminal("edit", "crm-accounts", answers=["n"])
    assert code == 2 and "the edit was dropped" in shown
    assert path.read_text() == before and no_copies_left(config_dir)


def test_an_edit_saved_as_latin1_is_refused_in_one_line_and_the_file_kept(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    latin1 = editor(tmp_path, {"append_hex": "23206361666520e90a"})  # "# café\n" in Latin-1
    result = run_cli("edit", "crm-accounts", env={"EDITOR": latin1, "VISUAL": ""})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert str(path) in line and "not UTF-8 text" in line and "the file is unchanged" in line
    assert path.read_text() == before and no_copies_left(config_dir)


def test_editing_a_file_that_is_not_utf8_says_so_in_one_line(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    path = created(run_cli, config_dir)
    path.write_bytes(path.read_bytes().replace(b"# kept by hand", "# café".encode("latin-1")))
    result = run_cli("edit", "crm-accounts", env={"EDITOR": editor(tmp_path, {}), "VISUAL": ""})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (f"l2tui: {path}: not UTF-8 text (byte 0xE9 at offset 5); "
                    "save the file as UTF-8")
    assert no_copies_left(config_dir)


def test_off_a_terminal_with_no_editor_set_it_says_to_set_one_and_changes_nothing(
        run_cli: CliRunner, config_dir: Path) -> None:
    path = created(run_cli, config_dir)
    before = path.read_text()
    result = run_cli("edit", "crm-accounts", env={"EDITOR": "", "VISUAL": ""})
    assert result.returncode == 2
    assert result.stderr.strip() == ("l2tui: no editor: set $VISUAL or $EDITOR (vi, the one "
                                     "used otherwise, needs a terminal)")
    assert path.read_text() == before and no_copies_left(config_dir)
