"""Scratchpad extraction rules: the regex tables, limits and small helpers behind the normalizer.

The pure text -> :class:`ScratchpadSummary` machinery lives here and in :mod:`mcp_distill.scratchpad.parse`
(the line parser); :mod:`mcp_distill.scratchpad.normalize` adds input checks, storage and the public API.

Input is markdown notes, checklists, chat histories (aider) or raw logs. One linear pass over the
lines (compiled regexes, bounded quantifiers, lines clipped to :data:`MAX_LINE_CHARS`) collects:

* **steps** -- checkboxes (``- [x]``, ``* [X]``, ``1. [ ]``; ``[-]``/``[~]``/``[/]`` = in progress),
  word markers (``DONE``/``TODO``/``NEXT``/``FAILED``/``BLOCKED``/``WIP``/``FIXME``, also ``Next:``,
  ``[DONE]``, trailing ``- DONE``), emoji leading or ending a line (✅ ✔ ☑ ✓ done; ❌ ✗ ✘ failed;
  ⏳ 🚧 ⚠ pending), and list items under a section heading that names a state (``## Next steps``,
  ``## TODO``, ``## Done``, ``## Blockers``...). A step is keyed by its text; its *last* mark wins
  (a log that re-checks an item moves it), its place is where it was first seen. BLOCKED counts as
  failed, ⚠ as pending (not done, not known to have failed).
* **failed_steps** also get error lines (``Error:``, ``TypeError: ...``, ``error[E0308]:``,
  ``fatal:``, ``ERROR`` log levels), the exception line that ends a traceback, interrupts, and
  non-zero exit codes (``exit code 1``, ``exited with 2``...) written as ``<command> (exit N)`` when
  the command that produced them is known.
* **validation_status** counts test and check results: summaries (``5 passed, 2 failed``, jest /
  vitest / cargo / unittest / mocha / ruff / mypy forms) and single results (``FAILED a.py::t``,
  ``--- FAIL: TestX``, ``ok 1 - x``, ``test x ... ok``). Results are grouped by (kind, command that
  printed them); within a group the last summary wins (a re-run replaces the earlier run), or, with no
  summary, each test's last result counts once. Groups add up. ``mixed`` = some passed and some failed.
  Also summaries after a label ("Ran the suite: 42 passed"), rspec / gradle / node / dotnet / npm forms
  (:mod:`mcp_distill.scratchpad.phrases`) and exit codes of test, lint, build or CI runs (or of an
  unnamed command), unless the same command printed test results.
  ``checks`` holds the lines counted, plus single failing results that name a test.
* **current_objective**, by priority: the last ``Current objective:`` line; the last
  ``Objective:``/``Goal:``/``Task:`` line; the first line under the last ``## Objective``/``## Goal``/
  ``## Task`` heading; the first H1 that is not a session banner; the last user message of a chat
  history (aider ``####`` lines, ``User:``); the first pending step.
* **unresolved_questions**: lines with a question mark ending a sentence (``?`` or ``？``), and items
  under a ``Questions`` heading, unless marked answered (checked, ✅, "resolved"/"answered", a
  following ``A:`` line). Yes/no prompts of tools are not questions.
* **decisions**: ``Decision:``/``Decided:`` lines, items under a Decisions heading, and every deciding
  phrase in prose ("Decided to", "We'll go with", "Chose X over Y", "opted for", "settled on"...: see
  :func:`mcp_distill.scratchpad.phrases.decisions_in`).
* **important_paths**: relative and absolute file paths anywhere (code blocks too). A bare name needs
  a known file extension (``config.py``) or to be a dotfile (``.env``); a name with a slash needs an
  extension unless it is absolute (``/dev/null``, ``~/x``, ``./x``). URLs, versions (``6.19.0``),
  e-mail and ``pkg@1.2`` forms, dotted identifiers (``os.path``) and ``:line`` suffixes are left out.
  Path characters are ASCII and Latin letters, so a path glued to CJK prose is still found (and a
  CJK file name is not). A folder counts with its trailing slash (``out/bin/``), a Windows path with
  backslashes (``tools\\build.ps1``), and a code span holding one slashed name (```target/debug/app```).

Steps, decisions, questions and objectives are read outside fenced code blocks only; errors, test
results, prompts and paths are read everywhere.
* **next_command** -- see :func:`pick_next_command` (below); a ``Next:`` / ``Next step:`` line whose
  text is a command is a NEXT command and not a pending step.

Same text -> byte-identical summary: every list keeps first-seen order, is de-duplicated and capped at
:data:`MAX_LIST_ITEMS` (checks at :data:`MAX_CHECKS`), each item at :data:`MAX_ITEM_CHARS` characters.
An optional LLM pass (:mod:`mcp_distill.scratchpad.llm`) may refine the result; it is never required.
"""

from __future__ import annotations

import re

from mcp_distill import markdown

MAX_LIST_ITEMS = 500
MAX_CHECKS = 100
MAX_ITEM_CHARS = 300
#: Longer lines are analysed on their first MAX_LINE_CHARS characters only (keeps every regex linear).
MAX_LINE_CHARS = markdown.MAX_LINE_CHARS

# --- line shapes (headings, fences, list items, checkboxes: mcp_distill.markdown, shared with drift) ----
_WORD_MARK = re.compile(
    r"^(?:\[(DONE|TODO|NEXT|FAILED|FAIL|BLOCKED|WIP)\]|(DONE|TODO|NEXT|FAILED|BLOCKED|WIP|FIXME|IN PROGRESS)\b"
    r"(?:\([^)\n]{0,40}\))?:?|(Done|Todo|To-?do|Next|Failed|Blocked|Fixme|In progress)[ \t]*:)[ \t]*(.*)$"
)
#: "x - DONE", "x (failed)", "x DONE"; never a bare lowercase word ("we are done" is prose)
_TRAIL_MARK = re.compile(r"(?:[ \t]+[:–—-][ \t]*|[ \t]*[(\[]|[ \t]+(?=[A-Z]{4}))(DONE|FAILED|BLOCKED|TODO|done|failed|blocked)"
                         r"[)\]]?\.?$")
_WORD_STATE = {"DONE": "done", "TODO": "pending", "TO-DO": "pending", "TODO:": "pending", "NEXT": "next",
               "FAILED": "failed", "FAIL": "failed", "BLOCKED": "failed", "WIP": "pending", "FIXME": "pending",
               "IN PROGRESS": "pending"}
_DONE_EMOJI, _FAIL_EMOJI, _PENDING_EMOJI = "✅✔☑✓", "❌✗✘❎", "⏳🚧⚠⌛"
BOX_STATE = {" ": "pending", "x": "done", "X": "done", "✓": "done", "✔": "done", "-": "pending", "~": "pending", "/": "pending"}
OBJECTIVE = re.compile(
    r"^(?:\*\*|__)?(current[ \t]+)?(?:objective|goal|task|mission|focus|ziel|aufgabe|目标|任务)(?:\*\*|__)?[ \t]*[:：]"
    r"(?:\*\*|__)?[ \t]*(\S.*)$", re.I)
DECISION = re.compile(
    r"^(?:\*\*|__)?(?:decision|decided|entscheidung|决定|决策|ADR)(?:\*\*|__)?[ \t]*[:：–—-](?:\*\*|__)?[ \t]*(\S.*)$", re.I)
_DECIDED = re.compile(r"^(?:we|I)[ \t]+(?:have[ \t]+)?(?:decided|chose|agreed)\b", re.I)
QUESTION = re.compile(r"[?？](?=[\s)\]*_]|$)")  # not before a quote: '"Discard?" dialog' is a UI string
YES_NO = re.compile(r"\([Yy]\)es/\([Nn]\)o|\[[yY]/[nN]\]|\(y/n\)", re.I)
RESOLVED = re.compile(r"\b(?:resolved|answered|solved|beantwortet)\b|✅|已解决|(?:^|\s)(?:A|Answer)[:：]", re.I)
ANSWER = re.compile(r"^(?:\*\*)?(?:A|Answer|Antwort|答)(?:\*\*)?[:：]")
USER = re.compile(r"^(?:\*\*)?(?:User|Human)(?:\*\*)?[ \t]*[:：](?:\*\*)?[ \t]*(\S.*)$")
BANNER = re.compile(r"\b(?:chat|session|log|run)\b.{0,60}\bstarted\b|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", re.I)
QUOTE = re.compile(r"^(?:> ?){1,10}")
INLINE_CODE = re.compile(r"`([^`\n]{1,400})`")
URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,15}://\S*|\bwww\.\S*")
TIMESTAMP = re.compile(r"^\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?\]?[ \t]*")

# --- sections: a heading naming a state makes its list items that state --------------------------
_SEC_NEXT = re.compile(r"^(?:next(?:[ \t]+(?:steps?|actions?|up))?|up[ \t]+next)(?:$|[ \t]*[:(–—-])", re.I)
_SEC_PENDING = re.compile(r"^(?:to-?dos?|todo[ \t]+list|pending|remaining|open[ \t]+(?:tasks|items)|backlog|"
                          r"in[ \t]+progress|wip|still[ \t]+to[ \t]+do)\b", re.I)
_SEC_DONE = re.compile(r"^(?:done|completed|finished|accomplished|progress[ \t]+so[ \t]+far)\b", re.I)
_SEC_FAILED = re.compile(r"^(?:failed|failures|failing|blockers?|blocked)\b", re.I)
_SEC_DECISIONS = re.compile(r"\bdecisions?\b", re.I)
_SEC_QUESTIONS = re.compile(r"\b(?:questions|unknowns|unresolved)\b", re.I)
_SEC_OBJECTIVE = re.compile(r"^(?:current[ \t]+)?(?:objective|goal|goals|task|mission|focus)$", re.I)

# --- commands ----------------------------------------------------------------------------------
PROMPT = re.compile(r"^[ \t]*(?:\([\w.-]{1,40}\)[ \t]*)?(?:[\w.-]{1,40}@[\w.-]{1,60}:[^\s$]{0,200}[ \t]*)?[$❯][ \t]+(\S.*)$")
SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "fish", "console", "terminal", "shell-session",
                          "sh-session", "powershell", "ps1", "pwsh", "cmd", "bat"})
CONSOLE_LANGS = frozenset({"console", "terminal", "shell-session", "sh-session"})
KNOWN_COMMANDS = frozenset("""
git gh npm npx pnpm yarn bun node deno tsx ts-node python python3 pip pip3 uv uvx poetry pdm hatch pipx pytest tox
nox ruff mypy pyright black isort flake8 pylint make cmake cargo rustc rustup go docker docker-compose podman
kubectl helm terraform bash sh zsh cd ls cat grep rg find sed awk curl wget mkdir rm cp mv touch chmod chown echo
export source tsc eslint prettier jest vitest playwright java javac mvn gradle ./gradlew dotnet ruby bundle rake
rails php composer sqlite3 psql mysql redis-cli aider claude codex tar unzip zip ssh scp rsync kill sleep env sudo
apt apt-get brew conda mamba jupyter alembic django-admin flask uvicorn gunicorn pre-commit tail head wc diff patch
xargs time nohup systemctl journalctl lsof ps jq yq sqlite-utils mcp-distill turbo nx lerna deno bazel ninja meson
swift xcodebuild
""".split())

# --- failures ----------------------------------------------------------------------------------
EXIT = re.compile(
    r"\b(?:exit(?:ed)?[ \t]+(?:with[ \t]+)?(?:exit[ \t]+)?(?:code|status)|exited[ \t]+with|"
    r"exited(?=[ \t]+-?\d{1,3}\b(?![ \t]*(?:times|s\b|ms\b|seconds)))|return(?:ed)?[ \t]+code|"
    r"returned[ \t]+(?:a[ \t]+)?non-zero[ \t]+exit[ \t]+status)[ \t]*[:=]?[ \t]*(-?\d{1,3})\b", re.I)
ERROR = re.compile(r"^(?:(?:[a-z_]\w{0,40}\.){0,6}[A-Z]\w{0,60}(?:Error|Exception)(?::|$)|"
                    r"(?:Error|error|ERROR|Fatal|fatal|FATAL|panic)(?:\[[^\]\n]{0,40}\])?:[ \t]*\S|"
                    r"npm ERR!|Traceback \(most recent call last\))")
LOOSE_ERROR = re.compile(r"^(?:Error|ERROR)\b[^:\n]{0,80}:[ \t]")  # "Error checking pypi: ..." (logs/quotes only)
LEVEL = re.compile(r"(?:^|[\s\[|:-])(ERROR|FATAL|CRITICAL)(?:[\]\s:|-]|$)")
INTERRUPT = re.compile(r"\bKeyboardInterrupt\b")

# --- test and check results --------------------------------------------------------------------
COUNT = re.compile(r"\b(\d{1,7})[ \t]+(?:tests?[ \t]+)?(passed|passing|failed|failing|errors?)\b", re.I)
#: A summary line starts with its first count (after decoration or a "Tests:"-like label): "request 3 failed" is no summary.
SUMMARY_START = re.compile(r"^[=*#>()\[\] \t✓✗✔✘❌✅-]{0,80}(?:(?:tests?|results?|summary|test result:[ \t]*(?:ok|FAILED)\.)"
                            r"[ \t]*:?[ \t]*)?\d{1,7}[ \t]+(?:tests?[ \t]+)?(?:passed|passing|failed|failing|errors?)\b", re.I)
PYTEST_ONE = re.compile(r"^(PASSED|FAILED|ERROR|XPASS)[ \t]+(\S{1,300}::\S{1,300})|"
                         r"^(\S{1,300}::\S{1,300})[ \t]+(PASSED|FAILED|ERROR)\b")
PYTEST_TIME = re.compile(r"\bin [\d.]{1,12}s\b")  # "1 failed, 11 passed in 3.21s"
GO_ONE = re.compile(r"^[ \t]*--- (PASS|FAIL): (\S{1,300})")
GO_PKG = re.compile(r"^(ok|FAIL)[ \t]+([\w.\-/]{1,300})(?:[ \t]|$)")
TAP_ONE = re.compile(r"^(not ok|ok)[ \t]+(\d{1,7})\b")
CARGO_ONE = re.compile(r"^test[ \t]+(\S{1,300})[ \t]+\.\.\.[ \t]+(ok|FAILED)\b")
UNITTEST_ONE = re.compile(r"^(\w{1,200}) \(([\w.]{1,300})\)(?: \.\.\.)? (ok|FAIL|ERROR)$|"
                           r"^(FAIL|ERROR): (\w{1,200}) \(([\w.]{1,300})\)")
UNITTEST_RAN = re.compile(r"^Ran (\d{1,7}) tests? in ")
UNITTEST_END = re.compile(r"^(OK|FAILED)\b(?:[ \t]*\(([^)\n]{0,200})\))?[ \t]*$")
LINT_OK = re.compile(r"^(?:All checks passed!|Success: no issues found)")
LINT_BAD = re.compile(r"^(?:Found (\d{1,7}) errors?\b|✖ \d{1,7} problems? \((\d{1,7}) errors?)")

# --- paths -------------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r"[A-Za-z0-9_\u00C0-\u024F.~/+@*-]+(?:\\[A-Za-z0-9_\u00C0-\u024F.~+@*-]+)*\\?")
#: A Windows path: ``tools\build.ps1``, ``C:\src\app\``; a backslash between name characters, none leading.
_WINDOWS_PATH = re.compile(r"(?:[A-Za-z]:\\)?[\w.~+-]+(?:\\[\w.~+-]+)+\\?")
#: A folder written with its trailing slash (``out/bin/``, ``t/``): name characters only, so "and/or/" is rare.
_FOLDER = re.compile(r"(?:\.{0,2}/)?[\w.-]+(?:/[\w.-]+)*/")
_EXT = re.compile(r"[A-Za-z][A-Za-z0-9]{0,11}")
KNOWN_EXTENSIONS = frozenset("""
py pyi pyx ipynb js mjs cjs jsx ts tsx mts cts vue svelte astro json jsonl ndjson json5 yaml yml toml ini cfg conf
md mdx rst txt adoc csv tsv xml html htm css scss sass less sql db sqlite sqlite3 prisma graphql gql proto sh bash
zsh fish ps1 bat rb go rs java kt kts scala swift m mm c h cc cpp cxx hpp hh cs fs php pl lua r dart ex exs erl hs
ml clj tf tfvars hcl dockerfile lock log diff patch png jpg jpeg gif svg webp ico pdf zip gz tgz tar whl so dylib
dll exe wasm bin onnx pt pth safetensors parquet arrow pkl npy npz j2 jinja tmpl tpl pem crt gradle properties
plist mk cmake nix el vim env example spec snap mod sum cabal gemspec podspec pbxproj xib storyboard tex bib ipynb
""".split())
_BARE_DENY = frozenset({"node.js", "next.js", "vue.js", "nuxt.js", "react.js", "express.js", "three.js", "d3.js",
                        "chart.js", "angular.js", "ember.js", "backbone.js", "alpine.js", "solid.js", "console.log",
                        "nest.js", "p5.js", "ext.js", "deno.land"})


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 1] + "…"


def _emoji_state(ch: str) -> str | None:
    if ch in _DONE_EMOJI:
        return "done"
    if ch in _FAIL_EMOJI:
        return "failed"
    if ch in _PENDING_EMOJI:
        return "pending"
    return None


def step_mark(content: str) -> tuple[str, str] | None:
    """(state, text) of a step marked by a word or an emoji at its start or end, or None."""
    state: str | None = None
    text = content
    word = _WORD_MARK.match(content)
    head = content.lstrip("*_ ").replace("\ufe0f", "")
    tail = content.rstrip("*_ .").replace("\ufe0f", "")
    trail = _TRAIL_MARK.search(content)
    if word:
        key = (word.group(1) or word.group(2) or word.group(3)).upper()
        state = _WORD_STATE.get(key, "pending")
        text = word.group(4)
    elif head and _emoji_state(head[0]):
        state = _emoji_state(head[0])
        text = head[1:]
    elif tail and _emoji_state(tail[-1]):
        state = _emoji_state(tail[-1])
        text = tail[:-1]
    elif trail:
        state = _WORD_STATE[trail.group(1).upper()]
        text = content[: trail.start()]
    if state is None:
        return None
    return state, text.strip(" \t:–—-")


def section_kind(bare: str) -> str | None:
    """The state (or kind) a heading's title names; its list items take it."""
    for name, pattern in (("next", _SEC_NEXT), ("pending", _SEC_PENDING), ("done", _SEC_DONE),
                          ("failed", _SEC_FAILED), ("objective", _SEC_OBJECTIVE),
                          ("decisions", _SEC_DECISIONS), ("questions", _SEC_QUESTIONS)):
        if pattern.search(bare):
            return name
    return None


def _first_word(command: str) -> str:
    word = command.split(None, 1)[0] if command.split() else ""
    return word.rsplit("/", 1)[-1] if word.startswith(("/", "./", "~/")) else word


def is_command(candidate: str) -> bool:
    """A known executable first word, or a path to an executable without a file extension."""
    words = candidate.split()
    if not words:
        return False
    head = words[0]
    if head in KNOWN_COMMANDS:
        return True
    if head.startswith(("/", "./", "~/")) and head.count("/") >= 2 and "." not in head.rsplit("/", 1)[-1]:
        return True
    return head.startswith("./") and head.endswith(".sh")


def path_of(token: str) -> str | None:
    """The file path a token names, or None. See the module docstring for the rules."""
    while len(token) > 1 and token[0] == "*" and token[-1] == "*":
        token = token[1:-1]
    token = token.rstrip(".-+*").lstrip("-+")
    if "\\" in token:
        if not _WINDOWS_PATH.fullmatch(token):
            return None
        windows = path_of(token.replace("\\", "/"))
        return token if windows or token.endswith("\\") else None
    if _FOLDER.fullmatch(token) and not token[:1].isdigit() and any(ch.isalpha() for ch in token):
        return token
    if len(token) < 3 or len(token) > 300 or token.startswith("//"):
        return None
    if "@" in token and not (token.startswith("@") or "/@" in token):
        return None  # e-mail, pkg@version
    last = token.rstrip("/").rsplit("/", 1)[-1]
    ext_ok = False
    if "." in last and not last.endswith("."):
        stem, ext = last.rsplit(".", 1)
        ext_ok = bool(_EXT.fullmatch(ext)) and stem not in ("", "..")
        if stem.startswith(".") and "." not in stem[1:]:
            stem = ""  # ".env.example": a dotfile, judged below
    if "/" in token:
        if token.startswith("~/") or (token.startswith(("./", "../")) and len(token) > 3):
            return token
        if token.startswith("/"):
            return token if token.rstrip("/").count("/") >= 2 or ext_ok else None
        return token if ext_ok and not last[:1].isdigit() else None
    if token.lower() in _BARE_DENY:
        return None
    if last.startswith("."):  # dotfile: .env, .gitignore -- but not ".ts" (an extension mentioned)
        name = last[1:].split(".", 1)[0]
        return token if name[:1].islower() and len(name) >= 2 and (name == "env" or name not in KNOWN_EXTENSIONS) else None
    if not ext_ok:
        return None
    stem, ext = last.rsplit(".", 1)
    if ext.lower() not in KNOWN_EXTENSIONS or (len(ext) == 1 and len(stem) < 2) or stem[:1] in ".-":
        return None
    return token


def paths_in(line: str) -> list[str]:
    """Every path a line names (see the module docstring), in order."""
    if "." not in line and "/" not in line and "\\" not in line:
        return []
    if "://" in line or "www." in line:
        line = URL.sub(" ", line)
    found = []
    for match in _PATH_TOKEN.finditer(line):
        token = match.group()
        if token.endswith("/") and line[match.end():match.end() + 1].isalpha():
            continue  # "docs/使用说明.md": a name the token cannot hold, not the folder
        if ("." in token or "/" in token or "\\" in token) and (path := path_of(token)):
            found.append(path)
    if "`" in line:  # a code span holding one slashed name is a path even without an extension
        for span in INLINE_CODE.finditer(line):
            name = span.group(1).strip()
            if ("/" in name[1:] and " " not in name and "://" not in name and not name.startswith("//")
                    and "@" not in name and _PATH_TOKEN.fullmatch(name)):
                found.append(name)
    return found


class Ordered:
    """An insertion-ordered, de-duplicated, capped list."""

    def __init__(self, cap: int = MAX_LIST_ITEMS):
        self.items: dict[str, None] = {}
        self.cap = cap

    def add(self, item: str | None) -> None:
        if item and item not in self.items and len(self.items) < self.cap:
            self.items[item] = None

    def discard(self, item: str) -> None:
        self.items.pop(item, None)

    def list(self) -> list[str]:
        return list(self.items)



def pick_next_command(next_cmds: list[str], todo_cmds: list[str], exec_failed: dict[str, bool]) -> str | None:
    """The command to run next, by this rule:

    1. the first command written in a NEXT context (a ``NEXT:`` line, an item under ``## Next steps``
       or ``Up next``, and the indented lines under such an item);
    2. else the first command in another pending context (``TODO``, an unchecked ``- [ ]`` item and
       its sub-lines, an item under ``## TODO``/``## Remaining``);
    3. else the most recently *run* command (``$ cmd`` / ``> cmd`` prompt lines) whose output showed
       a failure (non-zero exit, error line, failing tests) and that was not re-run since: re-running
       it is what checks the fix;
    4. else None -- commands that merely appear in done sections or plain fenced blocks are history
       or documentation, not a next step.

    A command is a ``$ ``/``> `` prompt line, a line of a fenced shell block (``bash``, ``sh``...;
    in ``console`` blocks only the ``$`` lines), or an inline ``code`` span starting with a known
    executable (:data:`KNOWN_COMMANDS`) or an executable path.
    """
    if next_cmds:
        return next_cmds[0]
    if todo_cmds:
        return todo_cmds[0]
    failed = [command for command, bad in exec_failed.items() if bad]
    return failed[-1] if failed else None
