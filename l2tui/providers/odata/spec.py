"""The OData declaration (keys, select syntax), reached through the catalog.

Importing ``l2tui.config.specs.odata`` first would register it alone and keep the catalog from
loading the other built-in declarations (it loads them only while it is empty), so the module is
imported after ``find_spec`` has filled the catalog.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from l2tui.config.specs import find_spec


@cache
def declaration() -> ModuleType:
    """The ``l2tui.config.specs.odata`` module, with every built-in declaration registered."""
    find_spec("odata")
    return importlib.import_module("l2tui.config.specs.odata")
