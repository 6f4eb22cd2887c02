"""The folders l2tui keeps its files in: its user's alone, and refused where others could change
what is in them."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from l2tui.errors import ConfigError
from l2tui.paths import resolve_paths
from tests.conftest import REPO


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_every_folder_made_and_each_made_above_it_is_private_whatever_the_umask(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2TUI_DATA_DIR", str(tmp_path / "new" / "data"))
    paths = resolve_paths(tmp_path / "other" / "connections").ensure()
    made = [tmp_path / "new", tmp_path / "new" / "data", paths.state, paths.logs, paths.cache,
            tmp_path / "other", paths.config]
    assert {str(folder): _mode(folder) for folder in made} == {str(folder): 0o700 for folder in made}


@pytest.mark.parametrize("name", ["state", "logs", "cache"])
def test_a_folder_others_can_write_is_refused_saying_how_to_make_it_private(
        isolated_dirs: dict[str, Path], name: str) -> None:
    folder = isolated_dirs["data"] / name
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    with pytest.raises(ConfigError) as refused:
        resolve_paths().ensure()
    assert str(refused.value) == (
        f"the folder {folder} can be written by other users, who could change l2tui's files in "
        f"it: chmod 700 {folder} (or choose another folder with $L2TUI_DATA_DIR)")


@pytest.mark.skipif(os.getuid() != 0, reason="only root can give a folder to another user")
def test_a_folder_of_another_user_is_refused(isolated_dirs: dict[str, Path]) -> None:
    folder = isolated_dirs["data"] / "cache"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(ConfigError, match=rf"^the folder {re.escape(str(folder))} belongs to "
                                          r"another user \(\w+\), .*: chown root .* && chmod 700 "):
        resolve_paths().ensure()


def test_a_tilde_in_the_folder_variables_is_the_home_folder_not_a_folder_named_tilde(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a systemd EnvironmentFile or a crontab's VAR=~/… line gives them: unexpanded."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("L2TUI_CONFIG_DIR", "~/connections")
    monkeypatch.setenv("L2TUI_DATA_DIR", "~/data")
    monkeypatch.chdir(tmp_path)
    paths = resolve_paths().ensure()
    assert paths.config == tmp_path / "home" / "connections"
    assert paths.state == tmp_path / "home" / "data" / "state"
    assert resolve_paths("~/other").config == tmp_path / "home" / "other"
    assert not (tmp_path / "~").exists()


def test_relative_folder_variables_are_made_absolute_from_where_l2tui_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("L2TUI_CONFIG_DIR", "mine/connections")
    monkeypatch.setenv("L2TUI_DATA_DIR", "./mine/../data")
    paths = resolve_paths()
    monkeypatch.chdir(tmp_path / "..")  # (a later change of folder moves nothing)
    assert (paths.config, paths.state, paths.logs, paths.cache) == (
        tmp_path / "mine" / "connections", tmp_path / "data" / "state",
        tmp_path / "data" / "logs", tmp_path / "data" / "cache")
    assert resolve_paths("other").config == tmp_path.parent / "other"


def test_l2tui_paths_names_a_relative_data_folder_absolute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "L2TUI_DATA_DIR": "data",
           "L2TUI_CONFIG_DIR": "connections"}
    shown = subprocess.run([sys.executable, "-m", "l2tui", "paths"], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert [line.split(":", 1)[1].strip() for line in shown.stdout.splitlines()] == [
        str(tmp_path / "connections"), str(tmp_path / "data" / "state"),
        str(tmp_path / "data" / "logs"), str(tmp_path / "data" / "cache" / "msal_token_cache.json")]
