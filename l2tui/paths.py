"""Where l2tui keeps connections, state, logs and the token cache (platformdirs, env overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from l2tui.config.files import make_folder, shared_folder
from l2tui.errors import ConfigError

APP = "l2tui"


@dataclass(frozen=True)
class Paths:
    """The folders of one l2tui installation."""

    config: Path
    state: Path
    logs: Path
    cache: Path

    @property
    def connections(self) -> Path:
        """Folder that holds one TOML file per connection."""
        return self.config

    @property
    def token_cache(self) -> Path:
        """The MSAL token cache file (mode 0600)."""
        return self.cache / "msal_token_cache.json"

    def state_db(self, slug: str) -> Path:
        """The SQLite state store of one connection."""
        return self.state / f"{slug}.sqlite"

    def run_logs(self, slug: str) -> Path:
        """Folder of the per-run log files of one connection."""
        return self.logs / slug

    def ensure(self) -> Paths:
        """Create the folders (mode 0700, and each folder made above them) and return self.

        ConfigError for a folder that cannot be made, and for a state, log or cache folder that
        other users could change (l2tui's files in it would be theirs to replace)."""
        for folder in (self.config, self.state, self.logs, self.cache):
            try:
                make_folder(folder)
                problem = None if folder == self.config else shared_folder(folder)
            except OSError as exc:
                raise ConfigError(f"cannot create the folder {folder}: {exc.strerror or exc} "
                                  f"(choose another with {self._setting(folder)})") from None
            if problem:
                raise ConfigError(f"{problem} (or choose another folder with "
                                  f"{self._setting(folder)})")
        return self

    def _setting(self, folder: Path) -> str:
        """The option or variable that chooses ``folder``."""
        return "--config-dir or $L2TUI_CONFIG_DIR" if folder == self.config else "$L2TUI_DATA_DIR"


def resolve_paths(config_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Paths from --config-dir, $L2TUI_CONFIG_DIR, $L2TUI_DATA_DIR, else platformdirs."""
    # (a ~ the shell did not expand: a systemd EnvironmentFile's, a crontab's VAR=~/… line's)
    env_config = os.environ.get("L2TUI_CONFIG_DIR")
    default = default_paths()
    if config_dir is not None:
        config = _absolute(config_dir)
    elif env_config:
        config = _absolute(env_config)
    else:
        config = default.config
    data_env = os.environ.get("L2TUI_DATA_DIR")
    if data_env:
        data = _absolute(data_env)
        return Paths(config=config, state=data / "state", logs=data / "logs", cache=data / "cache")
    return Paths(config=config, state=default.state, logs=default.logs, cache=default.cache)


def _absolute(folder: str | os.PathLike[str]) -> Path:
    """A folder given by the user as one absolute path: ``~`` expanded, a relative one taken
    from the working folder l2tui started in (so that every message, the log folder and the
    Schedule dialog's command name the one place, wherever they are read or run)."""
    return Path(os.path.abspath(Path(folder).expanduser()))


def default_paths() -> Paths:
    """The folders without --config-dir or a variable: the user's config, data, log and cache
    folders (where a run from cron or systemd looks, with the environment it starts with)."""
    return Paths(
        config=platformdirs.user_config_path(APP) / "connections",
        state=platformdirs.user_data_path(APP) / "state",
        logs=platformdirs.user_log_path(APP),
        cache=platformdirs.user_cache_path(APP),
    )
