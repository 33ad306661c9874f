"""Scratchpad Normalizer: free-text agent notes -> a deterministic :class:`ScratchpadSummary`.

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
  ``checks`` holds the lines counted, plus single failing results that name a test.
* **current_objective**, by priority: the last ``Current objective:`` line; the last
  ``Objective:``/``Goal:``/``Task:`` line; the first line under the last ``## Objective``/``## Goal``/
  ``## Task`` heading; the first H1 that is not a session banner; the last user message of a chat
  history (aider ``####`` lines, ``User:``); the first pending step.
* **unresolved_questions**: lines with a question mark ending a sentence (``?`` or ``？``), and items
  under a ``Questions`` heading, unless marked answered (checked, ✅, "resolved"/"answered", a
  following ``A:`` line). Yes/no prompts of tools are not questions.
* **decisions**: ``Decision:``/``Decided:`` lines, "we decided ..." lines, items under a Decisions heading.
* **important_paths**: relative and absolute file paths anywhere (code blocks too). A bare name needs
  a known file extension (``config.py``) or to be a dotfile (``.env``); a name with a slash needs an
  extension unless it is absolute (``/dev/null``, ``~/x``, ``./x``). URLs, versions (``6.19.0``),
  e-mail and ``pkg@1.2`` forms, dotted identifiers (``os.path``) and ``:line`` suffixes are left out.
  Path characters are ASCII and Latin letters, so a path glued to CJK prose is still found (and a
  CJK file name is not).

Steps, decisions, questions and objectives are read outside fenced code blocks only; errors, test
results, prompts and paths are read everywhere.
* **next_command** -- see :func:`_pick_next_command`.

Same text -> byte-identical summary: every list keeps first-seen order, is de-duplicated and capped at
:data:`MAX_LIST_ITEMS` (checks at :data:`MAX_CHECKS`), each item at :data:`MAX_ITEM_CHARS` characters.
An optional LLM pass (:mod:`mcp_distill.scratchpad_llm`) may refine the result; it is never required.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .config import Settings
from .errors import InvalidInputError, NotFoundError
from .models.scratchpad import ScratchpadSummary, ValidationStatus
from .scratchpad_llm import LLMConfig, refine, resolve_llm
from .store import Store

#: Inputs larger than this (UTF-8 bytes) are refused: a scratchpad is notes, not a data dump.
MAX_SCRATCHPAD_BYTES = 2 * 1024 * 1024
MAX_LIST_ITEMS = 500
MAX_CHECKS = 100
MAX_ITEM_CHARS = 300
#: Longer lines are analysed on their first MAX_LINE_CHARS characters only (keeps every regex linear).
MAX_LINE_CHARS = 4000

# --- line shapes -------------------------------------------------------------------------------
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+#.-]{0,30})")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(\S.*)$")
_CHECKBOX = re.compile(r"^([ \t]*)(?:(?:[-*+]|\d{1,4}[.)])[ \t]+)?\[([ xX✓✔~/-])\][ \t]+(\S.*)$")
_LIST = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,4}[.)])[ \t]+(\S.*)$")
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
_BOX_STATE = {" ": "pending", "x": "done", "X": "done", "✓": "done", "✔": "done", "-": "pending", "~": "pending", "/": "pending"}
_OBJECTIVE = re.compile(
    r"^(?:\*\*|__)?(current[ \t]+)?(?:objective|goal|task|mission|focus|ziel|aufgabe|目标|任务)(?:\*\*|__)?[ \t]*[:：]"
    r"(?:\*\*|__)?[ \t]*(\S.*)$", re.I)
_DECISION = re.compile(
    r"^(?:\*\*|__)?(?:decision|decided|entscheidung|决定|决策|ADR)(?:\*\*|__)?[ \t]*[:：–—-](?:\*\*|__)?[ \t]*(\S.*)$", re.I)
_DECIDED = re.compile(r"^(?:we|I)[ \t]+(?:have[ \t]+)?(?:decided|chose|agreed)\b", re.I)
_QUESTION = re.compile(r"[?？](?=[\s)\]*_]|$)")  # not before a quote: '"Discard?" dialog' is a UI string
_YES_NO = re.compile(r"\([Yy]\)es/\([Nn]\)o|\[[yY]/[nN]\]|\(y/n\)", re.I)
_RESOLVED = re.compile(r"\b(?:resolved|answered|solved|beantwortet)\b|✅|已解决|(?:^|\s)(?:A|Answer)[:：]", re.I)
_ANSWER = re.compile(r"^(?:\*\*)?(?:A|Answer|Antwort|答)(?:\*\*)?[:：]")
_USER = re.compile(r"^(?:\*\*)?(?:User|Human)(?:\*\*)?[ \t]*[:：](?:\*\*)?[ \t]*(\S.*)$")
_BANNER = re.compile(r"\b(?:chat|session|log|run)\b.{0,60}\bstarted\b|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", re.I)
_QUOTE = re.compile(r"^(?:> ?){1,10}")
_INLINE_CODE = re.compile(r"`([^`\n]{1,400})`")
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,15}://\S*|\bwww\.\S*")
_TIMESTAMP = re.compile(r"^\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?\]?[ \t]*")

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
_PROMPT = re.compile(r"^[ \t]*(?:\([\w.-]{1,40}\)[ \t]*)?(?:[\w.-]{1,40}@[\w.-]{1,60}:[^\s$]{0,200}[ \t]*)?[$❯][ \t]+(\S.*)$")
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "zsh", "fish", "console", "terminal", "shell-session",
                          "sh-session", "powershell", "ps1", "pwsh", "cmd", "bat"})
_CONSOLE_LANGS = frozenset({"console", "terminal", "shell-session", "sh-session"})
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
_EXIT = re.compile(
    r"\b(?:exit(?:ed)?[ \t]+(?:with[ \t]+)?(?:exit[ \t]+)?(?:code|status)|exited[ \t]+with|return(?:ed)?[ \t]+code|"
    r"returned[ \t]+(?:a[ \t]+)?non-zero[ \t]+exit[ \t]+status)[ \t]*[:=]?[ \t]*(-?\d{1,3})\b", re.I)
_ERROR = re.compile(r"^(?:(?:[a-z_]\w{0,40}\.){0,6}[A-Z]\w{0,60}(?:Error|Exception)(?::|$)|"
                    r"(?:Error|error|ERROR|Fatal|fatal|FATAL|panic)(?:\[[^\]\n]{0,40}\])?:[ \t]*\S|"
                    r"npm ERR!|Traceback \(most recent call last\))")
_LOOSE_ERROR = re.compile(r"^(?:Error|ERROR)\b[^:\n]{0,80}:[ \t]")  # "Error checking pypi: ..." (logs/quotes only)
_LEVEL = re.compile(r"(?:^|[\s\[|:-])(ERROR|FATAL|CRITICAL)(?:[\]\s:|-]|$)")
_INTERRUPT = re.compile(r"\bKeyboardInterrupt\b")

# --- test and check results --------------------------------------------------------------------
_COUNT = re.compile(r"\b(\d{1,7})[ \t]+(?:tests?[ \t]+)?(passed|passing|failed|failing|errors?)\b", re.I)
#: A summary line starts with its first count (after decoration or a "Tests:"-like label): "request 3 failed" is no summary.
_SUMMARY_START = re.compile(r"^[=*#>()\[\] \t✓✗✔✘❌✅-]{0,20}(?:(?:tests?|results?|summary|test result:[ \t]*(?:ok|FAILED)\.)"
                            r"[ \t]*:?[ \t]*)?\d{1,7}[ \t]+(?:tests?[ \t]+)?(?:passed|passing|failed|failing|errors?)\b", re.I)
_PYTEST_ONE = re.compile(r"^(PASSED|FAILED|ERROR|XPASS)[ \t]+(\S{1,300}::\S{1,300})|"
                         r"^(\S{1,300}::\S{1,300})[ \t]+(PASSED|FAILED|ERROR)\b")
_PYTEST_TIME = re.compile(r"\bin [\d.]{1,12}s\b")  # "1 failed, 11 passed in 3.21s"
_GO_ONE = re.compile(r"^[ \t]*--- (PASS|FAIL): (\S{1,300})")
_GO_PKG = re.compile(r"^(ok|FAIL)[ \t]+([\w.\-/]{1,300})(?:[ \t]|$)")
_TAP_ONE = re.compile(r"^(not ok|ok)[ \t]+(\d{1,7})\b")
_CARGO_ONE = re.compile(r"^test[ \t]+(\S{1,300})[ \t]+\.\.\.[ \t]+(ok|FAILED)\b")
_UNITTEST_ONE = re.compile(r"^(\w{1,200}) \(([\w.]{1,300})\)(?: \.\.\.)? (ok|FAIL|ERROR)$|"
                           r"^(FAIL|ERROR): (\w{1,200}) \(([\w.]{1,300})\)")
_UNITTEST_RAN = re.compile(r"^Ran (\d{1,7}) tests? in ")
_UNITTEST_END = re.compile(r"^(OK|FAILED)\b(?:[ \t]*\(([^)\n]{0,200})\))?[ \t]*$")
_LINT_OK = re.compile(r"^(?:All checks passed!|Success: no issues found)")
_LINT_BAD = re.compile(r"^(?:Found (\d{1,7}) errors?\b|✖ \d{1,7} problems? \((\d{1,7}) errors?)")

# --- paths -------------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r"[A-Za-z0-9_\u00C0-\u024F.~/+@*-]+")
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


def _clip(text: str) -> str:
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


def _first_word(command: str) -> str:
    word = command.split(None, 1)[0] if command.split() else ""
    return word.rsplit("/", 1)[-1] if word.startswith(("/", "./", "~/")) else word


def _is_command(candidate: str) -> bool:
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


class _Ordered:
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


@dataclass
class _Section:
    level: int
    kind: str | None
    indent: int | None = None
    objective_seen: bool = False


class _Parser:
    """One pass over the lines; see the module docstring for the rules."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}  # text -> last state (done/pending/next/failed); order = first seen
        self.failures = _Ordered()  # error lines and failed commands, merged after marked steps
        self.paths = _Ordered()
        self.decisions = _Ordered()
        self.questions = _Ordered()
        self.last_question: str | None = None
        self.objective_current: str | None = None
        self.objective_label: str | None = None
        self.objective_section: str | None = None
        self.objective_h1: str | None = None
        self.objective_chat: str | None = None
        self.sections: list[_Section] = []
        self.pending_indent: int | None = None  # indentation of the open pending item (its sub-lines are pending context)
        self.pending_is_next = False
        self.next_cmds: list[str] = []
        self.todo_cmds: list[str] = []
        self.exec_failed: dict[str, bool] = {}  # executed command -> failed?; order = last execution
        self.current_cmd: str | None = None
        self.aider = False
        self.in_traceback = False
        self.block_has_prompt = False
        self.chat_lines: list[str] = []
        # validation: group key -> summary (passed, failed, lines) / single results {test: (ok, line)}
        self.summaries: dict[str, tuple[int, int, list[tuple[int, str]]]] = {}
        self.singles: dict[str, dict[str, tuple[bool, int, str]]] = {}
        self.group_order: dict[str, None] = {}
        self.unittest_ran: dict[str, int] = {}

    # -- entry ----------------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.aider = any(line.startswith("# aider chat started at") for line in lines[:50])
        fence: str | None = None
        lang = ""
        for number, raw in enumerate(lines):
            line = raw[:MAX_LINE_CHARS].rstrip().lstrip("\ufeff")
            self._scan_paths(line)
            match = _FENCE.match(line)
            if fence is not None:
                if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) and not match.group(2):
                    fence = None
                    self._flush_chat()
                else:
                    self._code_line(line, lang, number)
                continue
            if match:
                fence, lang = match.group(1), match.group(2).lower()
                self.block_has_prompt = False
                continue
            self._text_line(line, number)
        self._flush_chat()

    # -- per line -------------------------------------------------------------------------------
    def _code_line(self, line: str, lang: str, number: int) -> None:
        stripped = line.strip()
        prompt = _PROMPT.match(line)
        if prompt:
            self._executed(prompt.group(1).strip())
            self.block_has_prompt = True  # a transcript: the other lines are output, not commands
        elif (lang in _SHELL_LANGS and lang not in _CONSOLE_LANGS and not self.block_has_prompt and stripped
              and not stripped.startswith("#")):
            self._pending_command(stripped.rstrip("\\").strip())
            return
        self._log_line(line, number, loose=True)

    def _text_line(self, line: str, number: int) -> None:
        stripped = line.strip()
        if not stripped:
            return
        indent = len(line) - len(line.lstrip())
        if self.pending_indent is not None and indent <= self.pending_indent:
            self.pending_indent = None
        heading = _HEADING.match(line)
        if heading:
            self._flush_chat()
            self.pending_indent = self.current_cmd = None  # a new section or session: no command's output any more
            self._heading(len(heading.group(1)), heading.group(2).rstrip("# ").strip())
            if self.aider and heading.group(1) == "####":
                self.chat_lines.append(heading.group(2).strip())
            return
        if self.aider and stripped == "####":
            return
        self._flush_chat()
        if stripped.startswith(">"):
            content = _QUOTE.sub("", stripped).rstrip()  # keep inner indentation: traceback frames
            if content.strip() and _is_command(content.strip()):
                self._executed(content.strip())
            elif content.strip():
                self._log_line(content, number, loose=True)
            return
        prompt = _PROMPT.match(line)
        if prompt:
            self._executed(prompt.group(1).strip())
            return
        if self._log_line(line, number, loose=bool(_TIMESTAMP.match(stripped))):
            return
        self._markdown_line(line, stripped, indent)

    def _markdown_line(self, line: str, stripped: str, indent: int) -> None:
        section = self._section()
        box = _CHECKBOX.match(line)
        if box:
            state = _BOX_STATE[box.group(2)]
            text = box.group(3)
            self._step(text, state)
            if state == "pending":
                self._open_pending(indent, False, text)
            if state == "pending":
                self._question(text)  # an open "- [ ] should we ...?" is also an open question
            return
        listed = _LIST.match(line)
        content = listed.group(2) if listed else stripped
        if self._marked(content, indent):
            return
        if decision := _DECISION.match(content):
            self.decisions.add(_clip(decision.group(1)))
        elif _DECIDED.match(content):
            self.decisions.add(_clip(content))
        objective = _OBJECTIVE.match(content)
        if objective:
            if objective.group(1):
                self.objective_current = _clip(objective.group(2))
            else:
                self.objective_label = _clip(objective.group(2))
        user = _USER.match(content)
        if user:
            self.objective_chat = _clip(user.group(1))
        if _ANSWER.match(content) and self.last_question:
            self.questions.discard(self.last_question)
            self.last_question = None
        self._question(content)
        if section is not None:
            if section.kind == "objective" and not section.objective_seen:
                section.objective_seen = True
                self.objective_section = _clip(content)
            elif listed and section.kind:
                if section.indent is None:
                    section.indent = indent
                if indent == section.indent:
                    self._section_item(section.kind, content, indent)
        if self.pending_indent is not None or (section is not None and section.kind in ("next", "pending")):
            self._inline_commands(content)

    def _marked(self, content: str, indent: int) -> bool:
        """A step marked by a word or an emoji at its start or end; True when the line was one."""
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
            return False
        text = text.strip(" \t:–—-")
        if text.startswith("$ ") and state in ("next", "pending"):
            self._pending_command(text[2:], next_=state == "next")
        if not text:
            return True
        self._step(text, state)
        if state in ("next", "pending"):
            self._open_pending(indent, state == "next", text)
        self._question(text)
        return True

    def _section_item(self, kind: str, content: str, indent: int) -> None:
        if kind in ("done", "pending", "next", "failed"):
            self._step(content, kind)
        elif kind == "decisions":
            self.decisions.add(_clip(content))
        elif kind == "questions" and not _RESOLVED.search(content):
            self.questions.add(_clip(content))

    def _heading(self, level: int, title: str) -> None:
        while self.sections and self.sections[-1].level >= level:
            self.sections.pop()
        bare = title.lstrip("✅✔☑❌⏳🚧⚠\ufe0f*_ ").rstrip(":*_ ")
        kind: str | None = None
        for name, pattern in (("next", _SEC_NEXT), ("pending", _SEC_PENDING), ("done", _SEC_DONE),
                              ("failed", _SEC_FAILED), ("objective", _SEC_OBJECTIVE),
                              ("decisions", _SEC_DECISIONS), ("questions", _SEC_QUESTIONS)):
            if pattern.search(bare):
                kind = name
                break
        if kind is None and self.sections and self.sections[-1].kind not in ("objective", None):
            kind = self.sections[-1].kind  # "## TODO" > "### Backend": still TODO
        self.sections.append(_Section(level, kind))
        if level == 1 and self.objective_h1 is None and not _BANNER.search(bare) and not self.aider:
            self.objective_h1 = _clip(bare)

    def _section(self) -> _Section | None:
        return self.sections[-1] if self.sections else None

    def _question(self, content: str) -> None:
        masked = _URL.sub(" ", _INLINE_CODE.sub(" ", content))
        if _QUESTION.search(masked) and not _YES_NO.search(masked) and not _RESOLVED.search(content):
            self.last_question = _clip(content)
            self.questions.add(self.last_question)

    def _flush_chat(self) -> None:
        """An aider user turn (consecutive ``####`` lines): its prose is the latest user request."""
        if not self.chat_lines:
            return
        message = " ".join(self.chat_lines)
        self.chat_lines = []
        if message.startswith("/"):
            message = message.split(None, 1)[1] if len(message.split(None, 1)) > 1 else ""
        # "/add a.py b.py" or "/add **" is a command, not a request: it needs a word that is no path
        if any(not path_of(w) and any(ch.isalpha() for ch in w) for w in message.split()):
            self.objective_chat = _clip(message)
            self._question(message)

    # -- steps and commands ---------------------------------------------------------------------
    def _step(self, text: str, state: str) -> None:
        text = _clip(text)
        if text:
            self.steps[text] = state

    def _open_pending(self, indent: int, is_next: bool, text: str) -> None:
        self.pending_indent, self.pending_is_next = indent, is_next
        self._inline_commands(text, next_=is_next)

    def _inline_commands(self, content: str, next_: bool | None = None) -> None:
        for span in _INLINE_CODE.finditer(content):
            if _is_command(span.group(1).strip()):
                self._pending_command(span.group(1).strip(), next_=next_)

    def _pending_command(self, command: str, next_: bool | None = None) -> None:
        """A command written down, not run: it counts only inside a pending (TODO/NEXT) context."""
        section = self._section()
        in_next = next_ if next_ is not None else (
            (self.pending_indent is not None and self.pending_is_next) or (section is not None and section.kind == "next"))
        in_todo = self.pending_indent is not None or (section is not None and section.kind == "pending")
        if command and in_next:
            self.next_cmds.append(_clip(command))
        elif command and (in_todo or next_ is False):
            self.todo_cmds.append(_clip(command))

    def _executed(self, command: str) -> None:
        command = _clip(command)
        self.current_cmd = command
        self.exec_failed.pop(command, None)
        self.exec_failed[command] = False
        self._pending_command(command)

    def _command_failed(self, line: str, code: int | None = None) -> None:
        if self.current_cmd is not None:
            self.exec_failed[self.current_cmd] = True
        if code is not None and self.current_cmd is not None:
            self.failures.add(_clip(f"{self.current_cmd} (exit {code})"))
        else:
            self.failures.add(_clip(line))

    # -- logs: errors, exit codes, test results -------------------------------------------------
    def _log_line(self, line: str, number: int, loose: bool) -> bool:
        """Errors, exit codes and test results; True when the line was one of them."""
        stripped = _TIMESTAMP.sub("", line.strip())
        if not stripped:
            return False
        if self.in_traceback and not line[:1].isspace() and not stripped.startswith(('File "', "^")):
            self.in_traceback = False
            if not stripped.startswith("During handling"):
                self._command_failed(stripped)
                return True
        if self._test_line(stripped, number):
            return True
        exit_code = _EXIT.search(stripped) if "xit" in stripped or "eturn" in stripped else None
        if exit_code:
            code = int(exit_code.group(1))
            if code != 0:
                self._command_failed(stripped, code)
            return True
        if stripped.startswith("Traceback (most recent call last)"):
            self.in_traceback = True
            return True
        if _ERROR.match(stripped) or (loose and (_LOOSE_ERROR.match(stripped) or _LEVEL.search(stripped[:100]))):
            self._command_failed(stripped)
            return True
        if _INTERRUPT.search(stripped):
            self.failures.add(_clip(stripped))
            return True
        return False

    def _group(self, kind: str) -> str:
        key = f"{kind}\x00{self.current_cmd or ''}"
        self.group_order.setdefault(key, None)
        return key

    def _summary(self, kind: str, passed: int | None, failed: int | None, number: int, line: str) -> None:
        key = self._group(kind)
        previous = self.summaries.get(key)
        if (kind == "generic" and previous and previous[2][-1][0] >= number - 3
                and ((passed is None) != (failed is None))):  # mocha: "5 passing" then "2 failing"
            lines = [*previous[2], (number, line)]
            self.summaries[key] = (previous[0] + (passed or 0), previous[1] + (failed or 0), lines)
        else:
            self.summaries[key] = (passed or 0, failed or 0, [(number, line)])
        if failed and self.current_cmd is not None:
            self.exec_failed[self.current_cmd] = True

    def _single(self, kind: str, test: str, ok: bool, number: int, line: str) -> None:
        self.singles.setdefault(self._group(kind), {})[test] = (ok, number, line)
        if not ok and self.current_cmd is not None:
            self.exec_failed[self.current_cmd] = True

    def _test_line(self, line: str, number: int) -> bool:
        line = line.strip()
        if "::" in line and (m := _PYTEST_ONE.match(line)):
            verdict = m.group(1) or m.group(4)
            self._single("pytest", m.group(2) or m.group(3), verdict in ("PASSED", "XPASS"), number, line)
            return True
        for pattern, kind in ((_GO_ONE, "go"), (_CARGO_ONE, "cargo"), (_TAP_ONE, "tap"), (_GO_PKG, "go-pkg")):
            m = pattern.match(line)
            if m:
                verdict, test = (m.group(2), m.group(1)) if kind == "cargo" else (m.group(1), m.group(2))
                self._single(kind, test, verdict in ("PASS", "ok"), number, line)
                return True
        if (m := _UNITTEST_ONE.match(line)) and "(" in line:
            test = f"{m.group(2)}.{m.group(1)}" if m.group(1) else f"{m.group(6)}.{m.group(5)}"
            self._single("unittest", test, (m.group(3) or m.group(4)) == "ok", number, line)
            return True
        if m := _UNITTEST_RAN.match(line):
            self.unittest_ran[self._group("unittest")] = int(m.group(1))
            return True
        key = self._group("unittest") if self.unittest_ran else ""
        if key in self.unittest_ran and (m := _UNITTEST_END.match(line)):
            ran = self.unittest_ran.pop(key)
            bad = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d{1,7})", m.group(2) or ""))
            self._summary("unittest", max(ran - bad, 0), bad, number, line)
            return True
        if _LINT_OK.match(line):
            self._summary("lint", 1, None, number, line)
            return True
        if m := _LINT_BAD.match(line):
            self._summary("lint", None, int(m.group(1) or m.group(2)), number, line)
            return True
        lower = line.lower()
        if ("pass" in lower or "fail" in lower or "error" in lower) and "test files" not in lower and "suites" not in lower:
            counts = _COUNT.findall(line) if _SUMMARY_START.match(line) else []
            if counts and any(word.lower().startswith(("pass", "fail")) for _, word in counts):
                passed = sum(int(n) for n, w in counts if w.lower().startswith("pass"))
                failed = sum(int(n) for n, w in counts if not w.lower().startswith("pass"))
                has_pass = any(w.lower().startswith("pass") for _, w in counts)
                has_fail = any(not w.lower().startswith("pass") for _, w in counts)
                kind = ("cargo" if lower.startswith("test result:") else "jest" if line.startswith("Tests:")
                        else "vitest" if line.startswith("Tests ")
                        else "pytest" if line.startswith("=") or _PYTEST_TIME.search(line) else "generic")
                self._summary(kind, passed if has_pass else None, failed if has_fail else None, number, line)
                return True
        return False

    # -- result ---------------------------------------------------------------------------------
    def _scan_paths(self, line: str) -> None:
        if "." not in line and "/" not in line:
            return
        if "://" in line or "www." in line:
            line = _URL.sub(" ", line)
        for token in _PATH_TOKEN.findall(line):
            if ("." in token or "/" in token) and (path := path_of(token)):
                self.paths.add(path)

    def validation(self) -> ValidationStatus:
        """Counts per group (kind, command); a group's summaries win over its single results.

        Single results printed by a command that also printed a summary are not counted again, but a
        failing one stays in ``checks``: it names the failing test.
        """
        passed = failed = 0
        lines: list[tuple[int, str]] = []
        has_go_tests = any(key.startswith("go\x00") for key in self.singles)
        summarised_cmds = {key.split("\x00", 1)[1] for key in self.summaries} - {""}
        for key in self.group_order:
            if key in self.summaries:
                p, f, used = self.summaries[key]
                passed, failed = passed + p, failed + f
                lines.extend(used)
                lines.extend((n, text) for ok, n, text in self.singles.get(key, {}).values() if not ok)
            elif key in self.singles and not (key.startswith("go-pkg\x00") and has_go_tests):
                results = self.singles[key].values()
                if key.split("\x00", 1)[1] in summarised_cmds:
                    lines.extend((n, text) for ok, n, text in results if not ok)
                    continue
                passed += sum(1 for ok, _, _ in results if ok)
                failed += sum(1 for ok, _, _ in results if not ok)
                lines.extend((n, text) for _, n, text in results)
        checks = _Ordered(MAX_CHECKS)
        for _, text in sorted(lines):
            checks.add(_clip(text))
        status = "mixed" if passed and failed else "failing" if failed else "passing" if passed else "unknown"
        return ValidationStatus(status=status, passed=passed, failed=failed, checks=checks.list())

    def summary(self, text: str, run_id: str | None) -> ScratchpadSummary:
        lists = {"done": _Ordered(), "pending": _Ordered(), "failed": _Ordered()}
        for step, state in self.steps.items():
            lists["pending" if state == "next" else state].add(step)
        for failure in self.failures.list():
            if failure not in self.steps:
                lists["failed"].add(failure)
        pending = lists["pending"].list()
        objective = (self.objective_current or self.objective_label or self.objective_section or self.objective_h1
                     or self.objective_chat or (pending[0] if pending else None))
        return ScratchpadSummary(
            run_id=run_id,
            current_objective=objective,
            completed_steps=lists["done"].list(),
            failed_steps=lists["failed"].list(),
            pending_steps=pending,
            important_paths=self.paths.list(),
            decisions=self.decisions.list(),
            unresolved_questions=self.questions.list(),
            validation_status=self.validation(),
            next_command=_pick_next_command(self.next_cmds, self.todo_cmds, self.exec_failed),
            source_scratchpad_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )


def _pick_next_command(next_cmds: list[str], todo_cmds: list[str], exec_failed: dict[str, bool]) -> str | None:
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


# --- input checks ------------------------------------------------------------------------------
def _checked_text(text: str | bytes, origin: str = "the text") -> str:
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_SCRATCHPAD_BYTES:
            raise InvalidInputError(_too_big(origin, len(text)))
        if b"\x00" in text:
            raise InvalidInputError(f"{origin} looks binary (NUL bytes); give a UTF-8 text scratchpad")
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{origin} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                    "convert it to UTF-8 first") from exc
    if not isinstance(text, str):
        raise InvalidInputError(f"{origin} must be a string, not {type(text).__name__}")
    if "\x00" in text:
        raise InvalidInputError(f"{origin} looks binary (NUL characters); give a UTF-8 text scratchpad")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{origin} holds undecodable characters (lone surrogates); "
                                "give valid UTF-8 text") from exc
    if size > MAX_SCRATCHPAD_BYTES:
        raise InvalidInputError(_too_big(origin, size))
    return text


def _too_big(origin: str, size: int) -> str:
    return (f"{origin} is {size:,} bytes, over the {MAX_SCRATCHPAD_BYTES:,}-byte limit "
            f"(MAX_SCRATCHPAD_BYTES = 2 MiB) for a scratchpad; pass only the recent part, e.g. its tail")


def read_scratchpad(path: str | os.PathLike[str], settings: Settings | None = None) -> str:
    """The text of a scratchpad file, through the roots guard, refused when too large or binary."""
    resolved = (settings or Settings.from_env()).check_path(path)
    if not resolved.exists():
        raise NotFoundError(f"no scratchpad file at {resolved}; check the path")
    if not resolved.is_file():
        raise InvalidInputError(f"{resolved} is not a regular file; give the path of a scratchpad text file")
    size = resolved.stat().st_size
    if size > MAX_SCRATCHPAD_BYTES:
        raise InvalidInputError(_too_big(str(resolved), size))
    return _checked_text(resolved.read_bytes(), str(resolved))


# --- public API --------------------------------------------------------------------------------
def normalize_text(text: str | bytes, run_id: str | None = None) -> ScratchpadSummary:
    """The deterministic summary of ``text`` (pure: no store, no network). Same text -> same summary."""
    text = _checked_text(text)
    parser = _Parser()
    parser.feed(text)
    return parser.summary(text, run_id)


def normalize(
    store: Store | None,
    text: str | bytes | None = None,
    path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    settings: Settings | None = None,
    llm: LLMConfig | bool | None = None,
) -> ScratchpadSummary:
    """Normalise a scratchpad given as ``text`` or as a ``path`` (checked against ``settings`` roots).

    With ``run_id`` (and a store) the summary is stored; the same text for the same run is stored once,
    and normalising it again returns the stored summary without a new LLM call. ``llm``: an
    :class:`LLMConfig` or ``True`` turns the optional refinement on (``True`` reads
    ``MCP_DISTILL_LLM_URL``/``MCP_DISTILL_LLM_MODEL``), ``False`` keeps it off, ``None`` uses it only
    when both variables are set. A failed refinement keeps the deterministic result with
    ``needs_human_review=True`` and the cause in ``review_reason``.
    """
    if (text is None) == (path is None):
        raise InvalidInputError("give exactly one of text or path for the scratchpad")
    body = read_scratchpad(path, settings) if path is not None else _checked_text(text)  # type: ignore[arg-type]
    summary = normalize_text(body, run_id)
    if run_id is not None and store is not None:
        stored = _stored(store, run_id, summary.source_scratchpad_hash)
        if stored is not None:
            return stored
    config = resolve_llm(llm)
    if config is not None:
        summary = refine(summary, body, config)
    if run_id is not None and store is not None:
        return _save(store, summary)
    return summary


#: The name the issue uses.
normalize_scratchpad = normalize


def _save(store: Store, summary: ScratchpadSummary) -> ScratchpadSummary:
    with store.write():
        store.conn.execute(
            "INSERT INTO scratchpads(run_id, source_scratchpad_hash, method, needs_human_review, summary, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, source_scratchpad_hash) DO NOTHING",
            (summary.run_id, summary.source_scratchpad_hash, summary.method, int(summary.needs_human_review),
             summary.model_dump_json(), datetime.now(UTC).isoformat(timespec="seconds")),
        )
    return _stored(store, summary.run_id or "", summary.source_scratchpad_hash) or summary


def _stored(store: Store, run_id: str, source_hash: str) -> ScratchpadSummary | None:
    row = store.query_one("SELECT summary FROM scratchpads WHERE run_id = ? AND source_scratchpad_hash = ?",
                          (run_id, source_hash))
    return ScratchpadSummary.model_validate_json(row["summary"]) if row else None


def get_scratchpad(store: Store, run_id: str, source_hash: str | None = None) -> ScratchpadSummary:
    """The latest stored summary of ``run_id`` (or the one of that source text when ``source_hash`` is given)."""
    if source_hash is not None:
        found = _stored(store, run_id, source_hash)
    else:
        row = store.query_one("SELECT summary FROM scratchpads WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,))
        found = ScratchpadSummary.model_validate_json(row["summary"]) if row else None
    if found is None:
        which = f"run {run_id!r}" + (f" with source hash {source_hash}" if source_hash else "")
        raise NotFoundError(f"no scratchpad stored for {which}; normalise the scratchpad with run_id={run_id!r} first")
    return found


def list_scratchpad_runs(store: Store) -> list[str]:
    """The run ids that have a stored scratchpad, sorted."""
    return [row["run_id"] for row in store.query("SELECT DISTINCT run_id FROM scratchpads ORDER BY run_id")]


__all__ = ["MAX_SCRATCHPAD_BYTES", "LLMConfig", "get_scratchpad", "list_scratchpad_runs", "normalize",
           "normalize_scratchpad", "normalize_text", "path_of", "read_scratchpad"]
