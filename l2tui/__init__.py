"""l2tui: keep Dynamics 365 (Dataverse) and SQL databases in sync, from the terminal."""

__version__ = "0.1.0"
