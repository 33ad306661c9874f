"""Every `mcp-distill` command the README shows exists, and the ones in its shell blocks run cleanly.

The fenced shell blocks are run in README order in a temporary folder holding a copy of the bundled
examples (so `examples/...` paths and the default store `store/distill.db` resolve there), each asserted
to exit 0 without a traceback. Commands named inline and in the capabilities table's CLI column are
resolved against the real command tree: a missing command, or one that only prints its group's help,
fails the test.
"""

from __future__ import annotations

import re
import shlex
import shutil

import pytest
import typer
from conftest import PROJECT

from mcp_distill.cli import app, main

README = (PROJECT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: Commands that start a server and would not return: they are run with --help, which still fails
#: when the command (or a subcommand) does not exist.
SERVERS = {"serve", "dashboard", "datasette"}
#: Commands naming the README's example team server (postgresql://...@db.internal) cannot reach it: they
#: are only resolved against the command tree (the PostgreSQL backend's own tests run them on a real server).
REMOTE = "postgresql://"
#: Global options that take a value (they come before the command).
GLOBAL_VALUE_OPTIONS = {"--db", "--root", "--rules"}


def shell_commands(text: str) -> list[list[str]]:
    """Each `mcp-distill ...` invocation of the fenced blocks, as argv after the program name."""
    found = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            for segment in line.split("&&"):
                try:
                    words = shlex.split(segment, comments=True)
                except ValueError:
                    continue
                if words and (words[0] == "mcp-distill" or words[0].endswith("/mcp-distill")):
                    found.append(words[1:])
    return found


def command_words(args: list[str]) -> list[str]:
    """The subcommand path of an argv: global options (and their values) skipped, stops at the first option."""
    words, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in GLOBAL_VALUE_OPTIONS and not words:
            skip = True
        elif arg.startswith("-") or arg.startswith("["):
            if words:
                break
        else:
            words.append(arg)
    return words


def resolve(words: list[str]) -> tuple[list[str], bool]:
    """(the command path that exists, whether it ends on a command that does something)."""
    command = typer.main.get_command(app)
    path: list[str] = []
    for word in words:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        command, path = sub, [*path, word]
    runs = not hasattr(command, "commands") or bool(getattr(command, "invoke_without_command", False))
    return path, runs and bool(path)


def inline_commands(text: str) -> list[str]:
    """`mcp-distill ...` spans in the text, plus every entry of the capabilities table's CLI column."""
    spans = [" ".join(m.split()) for m in re.findall(r"`(?:\.venv/bin/)?mcp-distill\s+([^`]+)`", text)]
    header = next(line for line in text.splitlines() if line.startswith("| capability"))
    column = [c.strip() for c in header.strip("|").split("|")].index("CLI")
    table = text.split(header, 1)[1].split("\n\n", 1)[0]
    for row in table.splitlines()[1:]:
        cell = [c.strip() for c in row.strip("|").split("|")][column]
        for entry in re.findall(r"`([^`]+)`", cell):
            first, *rest = entry.split()
            if rest and "/" in rest[0]:  # `drift check/show/list`: one span per subcommand
                spans += [f"{first} {sub}" for sub in rest[0].split("/")]
            else:
                spans.append(entry)
    return spans


def test_readme_shell_blocks_show_mcp_distill_commands():
    commands = shell_commands(README)
    assert ["run"] in commands and any(c[:1] == ["sql"] for c in commands)


@pytest.mark.parametrize("span", inline_commands(README))
def test_every_command_the_readme_names_exists(span):
    words = command_words(span.split())
    path, runs = resolve(words)
    assert words and path == words[: len(path)] and runs, f"README names `mcp-distill {span}`: no such command"
    if len(path) < len(words):  # the next word must be an argument, never a misspelt subcommand
        command = typer.main.get_command(app)
        for word in path:
            command = command.commands[word]
        assert not hasattr(command, "commands"), f"README names `mcp-distill {span}`: no such subcommand"


def test_every_shell_command_in_the_readme_runs(tmp_path, monkeypatch, capsys):
    shutil.copytree(PROJECT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("MCP_DISTILL_DB", "MCP_DISTILL_ROOTS", "MCP_DISTILL_RULES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for args in shell_commands(README):
        words = command_words(args)
        if any(REMOTE in arg for arg in args):
            assert resolve(words)[1], f"README shows `mcp-distill {' '.join(args)}`: no such command"
            continue
        argv = [*args, "--help"] if words[:1] and words[0] in SERVERS else args
        code = main(argv)
        captured = capsys.readouterr()
        shown = "mcp-distill " + " ".join(argv)
        assert "Traceback" not in captured.out + captured.err, shown
        assert code == 0, f"{shown} exited {code}: {captured.err[-500:]}"
    assert (tmp_path / "store" / "distill.db").is_file()
