"""The README agrees with l2tui: its command table with each command's ``--help``, its links
with the headings and files they point to."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO, CliRunner

README = REPO / "README.md"
COMMON_OPTIONS = {"--help", "--config-dir", "--debug"}  # (every command's; the README says so once)


def _table_rows() -> dict[str, str]:
    """The command table's rows that name a command: ``run`` → its syntax cell."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `l2tui ([a-z][a-z-]*)(.*?)` \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def _options(text: str) -> set[str]:
    """The long options a text names."""
    return set(re.findall(r"--[a-z][a-z-]*", text))


def _usage(help_text: str) -> str:
    """The usage lines of a ``--help`` (up to the first blank line)."""
    return help_text.split("\n\n", 1)[0]


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_command_table_names_every_command_of_the_help(run_cli: CliRunner) -> None:
    result = run_cli("--help")
    listed = set(re.findall(r"^    ([a-z][a-z-]*) ", result.stdout, flags=re.MULTILINE))
    assert listed and listed == set(_table_rows())


@pytest.mark.parametrize("command", sorted(_table_rows()))
def test_each_command_takes_the_options_the_table_gives_it(run_cli: CliRunner,
                                                           command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert _options(_table_rows()[command]) == _options(_usage(result.stdout)) - COMMON_OPTIONS


def _arguments(syntax: str) -> list[str]:
    """The upper-case arguments a syntax names that no option takes (``NAME``, ``[TITLE]``)."""
    words = syntax.split()
    return [word.strip("[]…") for i, word in enumerate(words)
            if word.strip("[]…").isupper() and not (
                i and words[i - 1].lstrip("[").startswith("-") and not words[i - 1].endswith("]"))]


@pytest.mark.parametrize("command", sorted(_table_rows()))
def test_each_command_names_its_arguments_as_the_table_does(run_cli: CliRunner,
                                                            command: str) -> None:
    """``l2tui run NAME`` in the table: the help's usage said ``name``, "connection"."""
    result = run_cli(command, "--help")
    assert _arguments(_table_rows()[command]) == _arguments(_usage(result.stdout))


def test_each_link_of_the_readme_names_a_heading_or_a_file_there() -> None:
    text = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"),
                  flags=re.MULTILINE | re.DOTALL)  # (a shell comment is no heading)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets
    broken = [t for t in targets
              if (t[1:] not in anchors if t.startswith("#") else not (REPO / t).exists())]
    assert broken == []
