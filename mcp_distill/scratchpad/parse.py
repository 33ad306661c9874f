"""Scratchpad line parser: one linear pass over the lines -> :class:`ScratchpadSummary`.

The rules it applies (and the regexes it uses) are documented in :mod:`mcp_distill.scratchpad.rules`.
Pure: no store, no network, no input checks (:func:`mcp_distill.scratchpad.normalize.normalize_text` does those).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mcp_distill.markdown import checkbox, list_item, scan, split_lines
from mcp_distill.markdown import heading as md_heading
from mcp_distill.models import ScratchpadSummary
from mcp_distill.scratchpad import phrases
from mcp_distill.scratchpad.rules import (
    ANSWER,
    BANNER,
    BOX_STATE,
    CONSOLE_LANGS,
    DECISION,
    ERROR,
    EXIT,
    INLINE_CODE,
    INTERRUPT,
    LEVEL,
    LOOSE_ERROR,
    OBJECTIVE,
    PROMPT,
    QUESTION,
    QUOTE,
    RESOLVED,
    SHELL_LANGS,
    TIMESTAMP,
    URL,
    USER,
    YES_NO,
    Ordered,
    clip,
    is_command,
    path_of,
    paths_in,
    pick_next_command,
    section_kind,
    step_mark,
)
from mcp_distill.scratchpad.testlog import TestResults


@dataclass
class _Section:
    level: int
    kind: str | None
    indent: int | None = None
    objective_seen: bool = False


class _Parser(TestResults):
    """One pass over the lines; see :mod:`mcp_distill.scratchpad.rules` for the rules (test results:
    :class:`~mcp_distill.scratchpad.testlog.TestResults`)."""

    def __init__(self) -> None:
        self.steps: dict[str, str] = {}  # text -> last state (done/pending/next/failed); order = first seen
        self.failures = Ordered()  # error lines and failed commands, merged after marked steps
        self.paths = Ordered()
        self.decisions = Ordered()
        self.questions = Ordered()
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
        TestResults.__init__(self)

    # -- entry ----------------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        lines = split_lines(text)
        self.aider = any(line.startswith("# aider chat started at") for line in lines[:50])
        lang = ""
        for scanned in scan(lines):
            line = scanned.text.rstrip().lstrip("\ufeff")
            self._scan_paths(line)
            if scanned.kind == "fence_open":
                lang = scanned.info
                self.block_has_prompt = False
            elif scanned.kind == "fence_close":
                self._flush_chat()
            elif scanned.kind == "code":
                self._code_line(line, lang, scanned.number)
            else:
                self._text_line(line, scanned.number)
        self._flush_chat()

    # -- per line -------------------------------------------------------------------------------
    def _code_line(self, line: str, lang: str, number: int) -> None:
        stripped = line.strip()
        prompt = PROMPT.match(line)
        if prompt:
            self._executed(prompt.group(1).strip())
            self.block_has_prompt = True  # a transcript: the other lines are output, not commands
        elif (lang in SHELL_LANGS and lang not in CONSOLE_LANGS and not self.block_has_prompt and stripped
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
        heading = md_heading(line) if not phrases.NODE_TAP.match(stripped) else None  # "# pass 9" is output
        if heading and heading[1]:
            self._flush_chat()
            self.pending_indent = self.current_cmd = None  # a new section or session: no command's output any more
            self._heading(*heading)
            if self.aider and heading[0] == 4:
                self.chat_lines.append(heading[1])
            return
        if self.aider and stripped == "####":
            return
        self._flush_chat()
        if stripped.startswith(">"):
            content = QUOTE.sub("", stripped).rstrip()  # keep inner indentation: traceback frames
            if content.strip() and is_command(content.strip()):
                self._executed(content.strip())
            elif content.strip():
                self._log_line(content, number, loose=True)
            return
        prompt = PROMPT.match(line)
        if prompt:
            self._executed(prompt.group(1).strip())
            return
        if self._log_line(line, number, loose=bool(TIMESTAMP.match(stripped))):
            return
        self._markdown_line(line, stripped, indent)

    def _markdown_line(self, line: str, stripped: str, indent: int) -> None:
        section = self._section()
        item = list_item(line)
        box = checkbox(item.rest if item else stripped)
        if box and box[1].strip():
            state = BOX_STATE[box[0]]
            text = box[1]
            self._step(text, state)
            if state == "pending":
                self._open_pending(indent, False, text)
            if state == "pending":
                self._question(text)  # an open "- [ ] should we ...?" is also an open question
            return
        listed = item if item is not None and item.rest.strip() else None
        content = listed.rest if listed else stripped
        next_command = phrases.next_command_in(content, is_command)
        if next_command:  # "Next: <command>" is the next command, not a pending step
            self.next_cmds.append(clip(next_command))
        elif self._marked(content, indent):
            return
        if decision := DECISION.match(content):
            self.decisions.add(clip(decision.group(1)))
        else:
            for stated in phrases.decisions_in(content):
                self.decisions.add(clip(stated))
        if next_command:
            return
        objective = OBJECTIVE.match(content)
        if objective:
            if objective.group(1):
                self.objective_current = clip(objective.group(2))
            else:
                self.objective_label = clip(objective.group(2))
        user = USER.match(content)
        if user:
            self.objective_chat = clip(user.group(1))
        if ANSWER.match(content) and self.last_question:
            self.questions.discard(self.last_question)
            self.last_question = None
        self._question(content)
        if section is not None:
            if section.kind == "objective" and not section.objective_seen:
                section.objective_seen = True
                self.objective_section = clip(content)
            elif listed and section.kind:
                if section.indent is None:
                    section.indent = indent
                if indent == section.indent:
                    self._section_item(section.kind, content, indent)
        if self.pending_indent is not None or (section is not None and section.kind in ("next", "pending")):
            self._inline_commands(content)

    def _marked(self, content: str, indent: int) -> bool:
        """A step marked by a word or an emoji at its start or end; True when the line was one."""
        mark = step_mark(content)
        if mark is None:
            return False
        state, text = mark
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
            bare = content.strip("`").strip() if content.count("`") == 2 and content.startswith("`") else content
            if kind in ("pending", "next") and is_command(bare):
                self._pending_command(bare, next_=kind == "next")
        elif kind == "decisions":
            self.decisions.add(clip(content))
        elif kind == "questions" and not RESOLVED.search(content):
            self.questions.add(clip(content))

    def _heading(self, level: int, title: str) -> None:
        while self.sections and self.sections[-1].level >= level:
            self.sections.pop()
        bare = title.lstrip("✅✔☑❌⏳🚧⚠\ufe0f*_ ").rstrip(":*_ ")
        kind = section_kind(bare)
        if kind is None and self.sections and self.sections[-1].kind not in ("objective", None):
            kind = self.sections[-1].kind  # "## TODO" > "### Backend": still TODO
        self.sections.append(_Section(level, kind))
        if level == 1 and self.objective_h1 is None and not BANNER.search(bare) and not self.aider:
            self.objective_h1 = clip(bare)

    def _section(self) -> _Section | None:
        return self.sections[-1] if self.sections else None

    def _question(self, content: str) -> None:
        masked = URL.sub(" ", INLINE_CODE.sub(" ", content))
        if QUESTION.search(masked) and not YES_NO.search(masked) and not RESOLVED.search(content):
            self.last_question = clip(content)
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
            self.objective_chat = clip(message)
            self._question(message)

    # -- steps and commands ---------------------------------------------------------------------
    def _step(self, text: str, state: str) -> None:
        text = clip(text)
        if text:
            self.steps[text] = state

    def _open_pending(self, indent: int, is_next: bool, text: str) -> None:
        self.pending_indent, self.pending_is_next = indent, is_next
        self._inline_commands(text, next_=is_next)

    def _inline_commands(self, content: str, next_: bool | None = None) -> None:
        for span in INLINE_CODE.finditer(content):
            if is_command(span.group(1).strip()):
                self._pending_command(span.group(1).strip(), next_=next_)

    def _pending_command(self, command: str, next_: bool | None = None) -> None:
        """A command written down, not run: it counts only inside a pending (TODO/NEXT) context."""
        section = self._section()
        in_next = next_ if next_ is not None else (
            (self.pending_indent is not None and self.pending_is_next) or (section is not None and section.kind == "next"))
        in_todo = self.pending_indent is not None or (section is not None and section.kind == "pending")
        if command and in_next:
            self.next_cmds.append(clip(command))
        elif command and (in_todo or next_ is False):
            self.todo_cmds.append(clip(command))

    def _executed(self, command: str) -> None:
        command = clip(command)
        self.current_cmd = command
        self.exec_failed.pop(command, None)
        self.exec_failed[command] = False
        self._pending_command(command)

    def _command_failed(self, line: str, code: int | None = None) -> None:
        if self.current_cmd is not None:
            self.exec_failed[self.current_cmd] = True
        if code is not None and self.current_cmd is not None:
            self.failures.add(clip(f"{self.current_cmd} (exit {code})"))
        else:
            self.failures.add(clip(line))

    # -- logs: errors, exit codes, test results -------------------------------------------------
    def _log_line(self, line: str, number: int, loose: bool) -> bool:
        """Errors, exit codes and test results; True when the line was one of them."""
        stripped = TIMESTAMP.sub("", line.strip())
        if not stripped:
            return False
        if self.in_traceback and not line[:1].isspace() and not stripped.startswith(('File "', "^")):
            self.in_traceback = False
            if not stripped.startswith("During handling"):
                self._command_failed(stripped)
                return True
        if self._test_line(stripped, number):
            return True
        exit_code = EXIT.search(stripped) if "xit" in stripped or "eturn" in stripped else None
        if exit_code:
            code = int(exit_code.group(1))
            if code != 0:
                self._command_failed(stripped, code)
            # a known command counts when it is a test/build/lint run; a bare "exit status 0" reports what was run
            if self.current_cmd is None or phrases.CHECK_RUN.search(self.current_cmd):
                self._single("exit", self.current_cmd or stripped, code == 0, number, stripped)
            return True
        if stripped.startswith("Traceback (most recent call last)"):
            self.in_traceback = True
            return True
        if ERROR.match(stripped) or (loose and (LOOSE_ERROR.match(stripped) or LEVEL.search(stripped[:100]))):
            self._command_failed(stripped)
            return True
        if INTERRUPT.search(stripped):
            self.failures.add(clip(stripped))
            return True
        return False

    # -- result ---------------------------------------------------------------------------------
    def _scan_paths(self, line: str) -> None:
        for path in paths_in(line):
            self.paths.add(path)

    def summary(self, text: str, run_id: str | None) -> ScratchpadSummary:
        lists = {"done": Ordered(), "pending": Ordered(), "failed": Ordered()}
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
            next_command=pick_next_command(self.next_cmds, self.todo_cmds, self.exec_failed),
            source_scratchpad_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )



def summarize(text: str, run_id: str | None = None) -> ScratchpadSummary:
    """The deterministic summary of already checked ``text``."""
    parser = _Parser()
    parser.feed(text)
    return parser.summary(text, run_id)
