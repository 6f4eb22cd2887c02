"""The README (and the docs/ pages it links) agrees with l2tui: its command table with each
command's ``--help``, every command and option it names with the parser, every connection-file
key with the loader, its examples and the sample connections with what loads, its keys with the
app's bindings, and its links with the headings and files they point to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l2tui.cli import build_parser
from l2tui.config.loader import (
    ENTITY_KEYS,
    MAPPING_KEYS,
    TOP_KEYS,
    connection_from_dict,
    parse_connection,
    require_complete,
)
from tests.conftest import REPO, CliRunner

README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
SAMPLES = sorted((REPO / "sample_connections").glob("*.toml"))
OTHER_PROGRAMS_OPTIONS = {"--system", "--create-home", "--now"}  # (useradd's, systemctl's)
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


def _prose(path: Path) -> str:
    """A page's text without its code blocks (a shell comment is no heading)."""
    return re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"),
                  flags=re.MULTILINE | re.DOTALL)


def _anchors(path: Path) -> set[str]:
    """The anchors of a page's headings."""
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _prose(path), flags=re.MULTILINE)}


def _code(path: Path) -> str:
    """A page's code: its code blocks and its `code spans`, one a line."""
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text,
                                              flags=re.MULTILINE | re.DOTALL))
    return "\n".join(blocks + spans)


def _table(path: Path, header: str) -> list[list[str]]:
    """The rows (cells without their padding) of the table whose header row is ``header``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_each_link_names_a_heading_or_a_file_there(page: Path) -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", _prose(page))
    assert targets
    broken = []
    for target in targets:
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists() or (anchor and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []


def test_each_command_the_pages_name_is_one_of_l2tui() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    named = {m for page in DOCS for m in re.findall(r"\bl2tui ([a-z][a-z-]*)", _code(page))}
    assert named and named - commands == set()


def test_each_option_the_pages_name_is_one_of_l2tui() -> None:
    parser = build_parser()
    options = set(parser._option_string_actions)
    for sub in parser._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        options |= set(sub._option_string_actions)
    named = {o for page in DOCS for o in re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]",
                                                    _prose(page) + _code(page))}
    assert named - options == OTHER_PROGRAMS_OPTIONS


def test_the_key_table_names_every_key_of_a_connection_file_and_no_other() -> None:
    rows = _table(README, "| key | what it is |")
    named = {name.strip("[]") for row in rows for name in re.findall(r"`([^`]+)`", row[0])}
    assert named == set(TOP_KEYS) | set(ENTITY_KEYS)
    mapping_row = next(row for row in rows if row[0] == "`[mapping]`")
    assert set(MAPPING_KEYS) <= {n.strip("[]").removeprefix("mapping.")
                                 for n in re.findall(r"`([^`]+)`", mapping_row[1])}


def test_each_provider_name_the_key_table_gives_is_one_l2tui_takes() -> None:
    from l2tui.config.specs import find_spec

    row = next(row for row in _table(README, "| key | what it is |") if row[0] == "`provider`")
    names = re.findall(r"`([^`]+)`", row[1])
    assert names and [n for n in names if find_spec(n) is None] == []


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_each_toml_example_loads(page: Path) -> None:
    blocks = re.findall(r"^```toml\n(.*?)^```", page.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    for block in blocks:
        require_complete(parse_connection(block, page.name))


def test_each_connection_string_of_the_table_loads_for_its_provider() -> None:
    rows = _table(README, "| provider | connection string | select |")
    assert {re.findall(r"`([^`]+)`", row[0])[0] for row in rows} == {
        "odata", "sqlserver", "postgresql", "mysql", "sqlite"}
    for provider, connection_string, select in rows:
        entity = {"provider": re.findall(r"`([^`]+)`", provider)[0],
                  "connection_string": connection_string.strip("`"),
                  "select": select.strip("`"), "primary_key": ["accountid"]}
        other = {"provider": "sqlite", "connection_string": "Data Source=/tmp/x.db;",
                 "select": "accounts", "primary_key": ["accountid"]}
        require_complete(connection_from_dict({"title": "t", "entity1": entity,
                                               "entity2": other}))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_each_sample_connection_loads_complete_and_holds_no_secret(sample: Path) -> None:
    text = sample.read_text(encoding="utf-8")
    require_complete(parse_connection(text, sample.name))  # (a secret in it does not load)
    assert not re.search(r"(?i)\b(password|pwd|clientsecret|secret|token)\s*=", text)


def test_the_key_table_names_each_key_of_the_app_and_no_other() -> None:
    from l2tui.tui.app import L2App

    bound = {binding.key for cls in L2App.__mro__ for binding in cls.__dict__.get("BINDINGS", [])}
    bound.add(L2App.COMMAND_PALETTE_BINDING)
    named = set()
    for row in _table(README, "| key | action |"):
        for key in re.split(r" / ", row[0].lower()):
            span = re.fullmatch(r"alt\+(\d) … alt\+(\d)", key)
            named |= {f"alt+{n}" for n in range(int(span[1]), int(span[2]) + 1)} if span else {key}
    assert named == bound - {"tab", "shift+tab", "ctrl+c"}  # (moving the focus; Textual's)


def test_each_variable_the_pages_name_is_one_l2tui_reads() -> None:
    source = "\n".join(p.read_text(encoding="utf-8")
                       for p in [*(REPO / "l2tui").rglob("*.py"), REPO / "scripts" / "test"])
    named = {v for page in DOCS for v in re.findall(r"\bL2TUI_[A-Z_]+\b", page.read_text())}
    assert named and {v for v in named if v not in source} == set()


def test_each_repository_path_the_pages_name_is_there() -> None:
    named = {p for page in DOCS for p in re.findall(
        r"(?<![\w/.])((?:sample_connections|scripts|docs|screenshots|bench|\.ci)/[\w@./-]*)",
        _code(page))}
    assert named and {p for p in named if not (REPO / p).exists()} == set()


def test_the_section_the_schedule_dialog_names_is_a_heading_of_the_readme() -> None:
    from l2tui.tui.screens.schedule import README_SECTION

    heading = README_SECTION.split('"')[1]
    assert re.search(rf"^#+ {re.escape(heading)}$", README.read_text(encoding="utf-8"),
                     flags=re.MULTILINE)


def test_the_readme_starts_with_the_demo_and_the_test_command_ci_runs() -> None:
    """The first two commands a new user meets: install and run the demo; install and test."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"),
                        flags=re.MULTILINE | re.DOTALL)
    assert blocks[0] == "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/l2tui demo\n"
    assert blocks[1] == "scripts/test\n"
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("exec scripts/test")


def test_the_crontab_line_is_the_one_the_schedule_dialog_gives(tmp_path: Path) -> None:
    """The README's cron line for the guide's sample, its l2tui command aside, is the line
    Schedule (F12) shows for it: the same variables file, quoting and redirection."""
    from l2tui.config.store import ConnectionStore
    from l2tui.paths import Paths
    from l2tui.tui.screens.schedule import Block, schedule_parts

    sample = REPO / "sample_connections" / "crm-accounts-to-sql.toml"
    (tmp_path / sample.name).write_text(sample.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / sample.name).chmod(0o600)
    conn = ConnectionStore(tmp_path).load(str(tmp_path / sample.name))
    paths = Paths(config=tmp_path, state=tmp_path / "s", logs=tmp_path / "l", cache=tmp_path / "c")
    shown = next(p for p in schedule_parts(conn, paths, unsaved=False)
                 if isinstance(p, Block) and p.name == "the crontab line").text
    readme = next(line for line in README.read_text(encoding="utf-8").splitlines()
                  if line.startswith("*/15 * * * * "))

    def plain(line: str) -> str:
        """The line with its l2tui command (and the folders it names) as one word."""
        return re.sub(r"(L2TUI_DATA_DIR=\S+ )?\S+?(/l2tui| -m l2tui)( --config-dir \S+)? run",
                      "L2TUI run", line)

    assert plain(readme) == plain(shown)
