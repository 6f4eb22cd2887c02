"""Where l2tui keeps connections, state, logs and the token cache (platformdirs, env overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

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
        """Create the folders (mode 0700) and return self."""
        for folder in (self.config, self.state, self.logs, self.cache):
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                setting = "--config-dir or $L2TUI_CONFIG_DIR" if folder == self.config else \
                    "$L2TUI_DATA_DIR"
                raise ConfigError(f"cannot create the folder {folder}: "
                                  f"{exc.strerror or exc} (choose another with {setting})") from None
        return self


def resolve_paths(config_dir: str | os.PathLike[str] | None = None) -> Paths:
    """Paths from --config-dir, $L2TUI_CONFIG_DIR, $L2TUI_DATA_DIR, else platformdirs."""
    env_config = os.environ.get("L2TUI_CONFIG_DIR")
    if config_dir is not None:
        config = Path(config_dir)
    elif env_config:
        config = Path(env_config)
    else:
        config = platformdirs.user_config_path(APP) / "connections"
    data_env = os.environ.get("L2TUI_DATA_DIR")
    if data_env:
        data = Path(data_env)
        return Paths(config=config, state=data / "state", logs=data / "logs", cache=data / "cache")
    return Paths(
        config=config,
        state=platformdirs.user_data_path(APP) / "state",
        logs=platformdirs.user_log_path(APP),
        cache=platformdirs.user_cache_path(APP),
    )
