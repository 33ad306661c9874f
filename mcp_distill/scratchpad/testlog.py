"""Test and lint results in a scratchpad's logs: per-test lines and summaries of pytest, unittest, go,
cargo, TAP, jest/vitest, rspec, gradle, node, dotnet, npm and linters, grouped by (kind, command) and
folded into one :class:`ValidationStatus`.

:class:`TestResults` is the part of the scratchpad parser (:mod:`mcp_distill.scratchpad.parse`) that
keeps them; the parser tells it which command is running (``current_cmd``) and records a failing one
in ``exec_failed``.
"""

from __future__ import annotations

import re

from mcp_distill.models import ValidationStatus
from mcp_distill.scratchpad import phrases
from mcp_distill.scratchpad.rules import (
    CARGO_ONE,
    COUNT,
    GO_ONE,
    GO_PKG,
    LINT_BAD,
    LINT_OK,
    MAX_CHECKS,
    PYTEST_ONE,
    PYTEST_TIME,
    SUMMARY_START,
    TAP_ONE,
    UNITTEST_END,
    UNITTEST_ONE,
    UNITTEST_RAN,
    Ordered,
    clip,
)


class TestResults:
    """Test results by group (kind, command): summaries (passed, failed, lines) and single results."""

    __test__ = False  # not a pytest test class, whatever its name says
    current_cmd: str | None
    exec_failed: dict[str, bool]

    def __init__(self) -> None:
        # validation: group key -> summary (passed, failed, lines) / single results {test: (ok, line)}
        self.summaries: dict[str, tuple[int, int, list[tuple[int, str]]]] = {}
        self.singles: dict[str, dict[str, tuple[bool, int, str]]] = {}
        self.group_order: dict[str, None] = {}
        self.unittest_ran: dict[str, int] = {}
        self.one_sided: dict[str, str | None] = {}  # group -> "pass"/"fail" when its last summary gave one side only

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
