"""Scratchpad line parser: one linear pass over the lines -> :class:`ScratchpadSummary`.

The rules it applies (and the regexes it uses) are documented in :mod:`mcp_distill.scratchpad.rules`.
Pure: no store, no network, no input checks (:func:`mcp_distill.scratchpad.normalize.normalize_text` does those).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mcp_distill.markdown import checkbox, list_item, scan, split_lines
from mcp_distill.markdown import heading as md_heading
from mcp_distill.models.scratchpad import ScratchpadSummary, ValidationStatus
from mcp_distill.scratchpad import phrases
from mcp_distill.scratchpad.rules import (
    ANSWER,
    BANNER,
    BOX_STATE,
    CARGO_ONE,
    CONSOLE_LANGS,
    COUNT,
    DECISION,
    ERROR,
    EXIT,
    GO_ONE,
    GO_PKG,
    INLINE_CODE,
    INTERRUPT,
    LEVEL,
    LINT_BAD,
    LINT_OK,
    LOOSE_ERROR,
    MAX_CHECKS,
    OBJECTIVE,
    PROMPT,
    PYTEST_ONE,
    PYTEST_TIME,
    QUESTION,
    QUOTE,
    RESOLVED,
    SHELL_LANGS,
    SUMMARY_START,
    TAP_ONE,
    TIMESTAMP,
    UNITTEST_END,
    UNITTEST_ONE,
    UNITTEST_RAN,
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


@dataclass
class _Section:
    level: int
    kind: str | None
    indent: int | None = None
    objective_seen: bool = False


class _Parser:
    """One pass over the lines; see :mod:`mcp_distill.scratchpad.rules` for the rules."""

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
        # validation: group key -> summary (passed, failed, lines) / single results {test: (ok, line)}
        self.summaries: dict[str, tuple[int, int, list[tuple[int, str]]]] = {}
        self.singles: dict[str, dict[str, tuple[bool, int, str]]] = {}
        self.group_order: dict[str, None] = {}
        self.unittest_ran: dict[str, int] = {}
        self.one_sided: dict[str, str | None] = {}  # group -> "pass"/"fail" when its last summary gave one side only

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

    def _group(self, kind: str) -> str:
        key = f"{kind}\x00{self.current_cmd or ''}"
        self.group_order.setdefault(key, None)
        return key

    def _summary(self, kind: str, passed: int | None, failed: int | None, number: int, line: str) -> None:
        key = self._group(kind)
        previous = self.summaries.get(key)
        side = "pass" if failed is None else "fail" if passed is None else None
        previous_side = self.one_sided.get(key)
        self.one_sided[key] = side
        if (kind == "generic" and previous and previous[2][-1][0] >= number - 3
                and side is not None and previous_side not in (None, side)):  # mocha: "5 passing" then "2 failing"
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
        if "::" in line and (m := PYTEST_ONE.match(line)):
            verdict = m.group(1) or m.group(4)
            self._single("pytest", m.group(2) or m.group(3), verdict in ("PASSED", "XPASS"), number, line)
            return True
        for pattern, kind in ((GO_ONE, "go"), (CARGO_ONE, "cargo"), (TAP_ONE, "tap"), (GO_PKG, "go-pkg")):
            m = pattern.match(line)
            if m:
                verdict, test = (m.group(2), m.group(1)) if kind == "cargo" else (m.group(1), m.group(2))
                self._single(kind, test, verdict in ("PASS", "ok"), number, line)
                return True
        if (m := UNITTEST_ONE.match(line)) and "(" in line:
            test = f"{m.group(2)}.{m.group(1)}" if m.group(1) else f"{m.group(6)}.{m.group(5)}"
            self._single("unittest", test, (m.group(3) or m.group(4)) == "ok", number, line)
            return True
        if m := UNITTEST_RAN.match(line):
            self.unittest_ran[self._group("unittest")] = int(m.group(1))
            return True
        key = self._group("unittest") if self.unittest_ran else ""
        if key in self.unittest_ran and (m := UNITTEST_END.match(line)):
            ran = self.unittest_ran.pop(key)
            bad = sum(int(n) for n in re.findall(r"(?:failures|errors)=(\d{1,7})", m.group(2) or ""))
            self._summary("unittest", max(ran - bad, 0), bad, number, line)
            return True
        output = line.rsplit("-> ", 1)[-1]  # "ruff check . -> Found 3 errors."
        if LINT_OK.match(output):
            self._summary("lint", 1, None, number, line)
            return True
        if m := LINT_BAD.match(output):
            self._summary("lint", None, int(m.group(1) or m.group(2)), number, line)
            return True
        if self._runner_summary(line, number):
            return True
        lower = line.lower()
        if ("pass" in lower or "fail" in lower or "error" in lower) and "test files" not in lower and "suites" not in lower:
            labelled = None if SUMMARY_START.match(line) else phrases.LABELLED_SUMMARY.match(line)
            counts = (COUNT.findall(labelled.group("tail")) if labelled
                      else COUNT.findall(line) if SUMMARY_START.match(line) else [])
            if counts and any(word.lower().startswith(("pass", "fail")) for _, word in counts):
                passed = sum(int(n) for n, w in counts if w.lower().startswith("pass"))
                failed = sum(int(n) for n, w in counts if not w.lower().startswith("pass"))
                has_pass = any(w.lower().startswith("pass") for _, w in counts)
                has_fail = any(not w.lower().startswith("pass") for _, w in counts)
                kind = ("generic" if labelled else "cargo" if lower.startswith("test result:")
                        else "jest" if line.startswith("Tests:") else "vitest" if line.startswith("Tests ")
                        else "pytest" if line.startswith("=") or PYTEST_TIME.search(line) else "generic")
                self._summary(kind, passed if has_pass else None, failed if has_fail else None, number, line)
                return True
        return False

    def _runner_summary(self, line: str, number: int) -> bool:
        """rspec, gradle, node's test runner, dotnet test, npm (:func:`~mcp_distill.scratchpad.phrases.runner_result`)."""
        result = phrases.runner_result(line)
        if result is None:
            return False
        kind, passed, failed = result
        if kind in ("build", "npm"):  # one verdict line of a run: a single result of its command
            self._single(kind, self.current_cmd or kind, not failed, number, line)
        else:
            self._summary(kind, passed, failed, number, line)
        return True

    # -- result ---------------------------------------------------------------------------------
    def _scan_paths(self, line: str) -> None:
        for path in paths_in(line):
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
        reported_cmds = summarised_cmds | {key.split("\x00", 1)[1] for key in self.singles if not key.startswith("exit\x00")}
        for key in self.group_order:
            if key.startswith("exit\x00") and key.split("\x00", 1)[1] in reported_cmds - {""}:
                continue  # its test results say more than its exit code
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
        checks = Ordered(MAX_CHECKS)
        for _, text in sorted(lines):
            checks.add(clip(text))
        status = "mixed" if passed and failed else "failing" if failed else "passing" if passed else "unknown"
        return ValidationStatus(status=status, passed=passed, failed=failed, checks=checks.list())

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
