"""Widgets of the connection manager, one per module."""
