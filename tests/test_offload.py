"""The second process that decodes pages (l2tui.offload): what it is given to run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from l2tui.offload import Offload


def environment(frame: bytes) -> Iterator[dict[str, str]]:
    """A job: the environment the second process runs in."""
    yield dict(os.environ)


def _environment_of_a_second_process() -> dict[str, str]:
    helper = Offload(environment)
    try:
        helper.send(b"")
        answer: dict[str, str] = helper.receive()
        return answer
    finally:
        helper.close()


def test_the_second_process_gets_what_python_needs_from_the_environment_and_no_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PW", "s3cret")  # a connection's password_env
    monkeypatch.setenv("PYTHON_CRM_PW", "s3cret2")  # one named like Python's own
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    child = _environment_of_a_second_process()
    assert "CRM_PW" not in child and "s3cret" not in child.values()
    assert "PYTHON_CRM_PW" not in child
    needed = ("PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE")
    assert {name: child.get(name) for name in needed} == \
        {name: os.environ.get(name) for name in needed}
