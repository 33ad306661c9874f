"""Checking claim references against one git revision: read-only, and nothing from the repo is run.

How git is called (fixed argv lists, hooks and filters off, objects only) is in :mod:`mcp_distill.drift.git`;
this module finds each reference of a claim in the revision's tree and decides the claim's status.
"""

from __future__ import annotations

import re
from collections import defaultdict

from mcp_distill.drift.git import (
    GREP_BATCH,
    MAX_GIT_OUTPUT_BYTES,
    MAX_LOCATIONS,
    GitRepo,
)
from mcp_distill.models import Claim, ClaimResult, ClaimStatus, RefCheck, Reference

_DEF_KEYWORDS = (
    "def|class|fn|func|function|const|let|var|struct|enum|trait|interface|type|impl|mod|module|model|macro"
    "|record|object|protocol|typedef|namespace|union|val|sub|procedure|table|view|schema"
)
_MODIFIERS = r"pub(\([a-z]+\))?|readonly|static|private|public|protected"
_PY_MODIFIERS = r"pub(?:\([a-z]+\))?|readonly|static|private|public|protected"
# git grep -E (POSIX ERE) prefilters lines; the Python twins below then say which name a line defines.
_ERE_DEF = (
    r"(^|[^A-Za-z0-9_$])(async[[:space:]]+)?(" + _DEF_KEYWORDS + r")[[:space:]]+(\([^)]*\)[[:space:]]*)?"
    r"\*?[[:space:]]*({names})([^A-Za-z0-9_$]|$)"
)
_ERE_ASSIGN = (
    r"^[[:space:]]*(export[[:space:]]+)?((" + _MODIFIERS + r")[[:space:]]+)*({names})[?!]?"
    r"([[:space:]]*:([[:space:]]|$)|[[:space:]]+=([^=>]|$))"
)
_PY_DEF = re.compile(
    r"(?:^|[^A-Za-z0-9_$])(?:async\s+)?(?:" + _DEF_KEYWORDS + r")\s+(?:\([^)]*\)\s*)?\*?\s*"
    r"([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_$])"
)
_PY_ASSIGN = re.compile(
    r"^\s*(?:export\s+)?(?:(?:" + _PY_MODIFIERS + r")\s+)*([A-Za-z_][A-Za-z0-9_]*)[?!]?"
    r"(?:\s*:(?:\s|$)|\s+=(?:[^=>]|$))"
)
_PARAM_RE = re.compile(r"^(?::(\w+)|\{(\w+)\}|<(?:\w+:)?(\w+)>|\[(\w+)\])$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{" and "}" in pattern[i:]:
            j = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : j].split(",")) + ")")
            i = j + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    # Like a path reference, a glob may be written relative to any folder: it matches as a suffix.
    return re.compile("(?:^|.*/)" + "".join(out) + "$")


class TreeIndex:
    """The paths of one commit, for exact, suffix, folder and glob lookups."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.files = set(paths)
        self.by_base: dict[str, list[str]] = defaultdict(list)
        self.dirs_by_base: dict[str, set[str]] = defaultdict(set)
        self.dirs: set[str] = set()
        for p in paths:
            parts = p.split("/")
            self.by_base[parts[-1]].append(p)
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in self.dirs:
                    self.dirs.add(d)
                    self.dirs_by_base[parts[i - 1]].add(d)

    def find_file(self, target: str) -> list[str]:
        if target in self.files:
            return [target]
        candidates = self.by_base.get(target.rsplit("/", 1)[-1], [])
        return candidates if "/" not in target else [c for c in candidates if c.endswith("/" + target)]

    def find_dir(self, target: str) -> list[str]:
        if target in self.dirs:
            return [target]
        candidates = sorted(self.dirs_by_base.get(target.rsplit("/", 1)[-1], ()))
        return candidates if "/" not in target else [c for c in candidates if c.endswith("/" + target)]

    def find_glob(self, pattern: str) -> list[str]:
        rx = _glob_regex(pattern)
        return [p for p in self.paths if rx.match(p)]

    def find_stem(self, name: str) -> list[str]:
        return [p for base, ps in self.by_base.items() if base.split(".", 1)[0] == name for p in ps]


def defined_names(text: str) -> set[str]:
    """Names a line of code defines: `def x`, `class X`, `fn x`, `const x`, `x = ...`, `x: T`."""
    names = {m.group(1) for m in _PY_DEF.finditer(text)}
    m = _PY_ASSIGN.match(text)
    if m:
        names.add(m.group(1))
    return names


def endpoint_variants(path: str) -> list[str]:
    """The endpoint as written plus the same route in the other parameter styles (:id, {id}, <id>)."""
    segments = path.split("/")
    params = [_PARAM_RE.match(s) for s in segments]
    if not any(params):
        return [path]
    variants = {path}
    for style in (":{}", "{{{}}}", "<{}>"):
        parts = [
            style.format(next(g for g in m.groups() if g)) if m else s for s, m in zip(segments, params, strict=True)
        ]
        variants.add("/".join(parts))
    return sorted(variants)


def _contains_route(text: str, needle: str) -> bool:
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        if end >= len(text) or not (text[end].isalnum() or text[end] in "_-"):
            return True
        start = text.find(needle, start + 1)
    return False


Lookup = tuple[bool, list[str], str]
LookupKey = tuple[str, str, str | None]


def _key(ref: Reference) -> LookupKey:
    return (ref.kind, ref.target, ref.path_hint)


class _Checker:
    def __init__(self, repo: GitRepo, sha: str):
        self.repo = repo
        self.sha = sha
        self.tree = TreeIndex(repo.list_tree(sha))
        self.warnings: list[str] = []

    def paths(self, ref: Reference) -> Lookup:
        if ref.kind == "dir":
            hits = self.tree.find_dir(ref.target)
            what = "folder"
        elif ref.kind == "glob":
            hits = self.tree.find_glob(ref.target)
            what = "path matching the glob"
        else:
            hits = self.tree.find_file(ref.target)
            what = "file"
        if not hits:
            return False, [], f"no {what} {ref.target} in the tree at {self.sha[:12]}"
        extra = f" ({len(hits)} matches)" if len(hits) > 1 else ""
        return True, hits[:MAX_LOCATIONS], f"{what} present{extra}"

    def symbols(self, names: set[str]) -> dict[str, list[str]]:
        """Definition sites per name, batched into few `git grep -E` calls."""
        found: dict[str, list[str]] = {n: [] for n in names}
        ordered = sorted(names)
        for i in range(0, len(ordered), GREP_BATCH):
            batch = ordered[i : i + GREP_BATCH]
            alternation = "|".join(batch)
            patterns = [_ERE_DEF.format(names=alternation), _ERE_ASSIGN.format(names=alternation)]
            hits, truncated = self.repo.grep(self.sha, patterns, fixed=False)
            wanted = set(batch)
            for path, line, text in hits:
                for name in defined_names(text) & wanted:
                    if len(found[name]) < MAX_LOCATIONS:
                        found[name].append(f"{path}:{line}")
            if truncated:
                self.warnings.append(f"symbol search output was cut at {MAX_GIT_OUTPUT_BYTES} bytes; re-checked by name")
                for name in (n for n in batch if not found[n]):
                    one = [_ERE_DEF.format(names=name), _ERE_ASSIGN.format(names=name)]
                    files, _ = self.repo.grep(self.sha, one, fixed=False, files_only=True)
                    found[name] = [p for p, _, _ in files[:MAX_LOCATIONS]]
        return found

    def symbol_in(self, name: str, hint: str) -> Lookup:
        files = self.tree.find_file(hint)
        if not files:
            return False, [], f"{hint} is not in the tree, so {name} cannot be in it"
        patterns = [_ERE_DEF.format(names=name), _ERE_ASSIGN.format(names=name)]
        specs = [f":(literal){f}" for f in files[:MAX_LOCATIONS]]
        hits, _ = self.repo.grep(self.sha, patterns, fixed=False, pathspecs=specs)
        locs = [f"{p}:{ln}" for p, ln, text in hits if name in defined_names(text)][:MAX_LOCATIONS]
        return (True, locs, f"{name} defined in {hint}") if locs else (False, [], f"no definition of {name} in {hint}")

    def endpoints(self, targets: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {t: [] for t in targets}
        variants = {t: endpoint_variants(t) for t in targets}
        needles = sorted({v for vs in variants.values() for v in vs})
        for i in range(0, len(needles), GREP_BATCH):
            hits, truncated = self.repo.grep(self.sha, needles[i : i + GREP_BATCH], fixed=True)
            if truncated:
                self.warnings.append("endpoint search output was cut; some endpoints may show as missing")
            for path, line, text in hits:
                for target, vs in variants.items():
                    if len(found[target]) < MAX_LOCATIONS and any(_contains_route(text, v) for v in vs):
                        found[target].append(f"{path}:{line}")
        return found


def claim_status(checks: list[RefCheck]) -> ClaimStatus:
    """verified: every reference holds; partial: some; missing: none; unverifiable: nothing to check."""
    if not checks:
        return "unverifiable"
    held = sum(c.found for c in checks)
    if held == len(checks):
        return "verified"
    return "missing" if held == 0 else "partial"


def check_claims(repo: GitRepo, sha: str, claims: list[Claim]) -> tuple[list[ClaimResult], list[str]]:
    """Each claim's status and evidence at commit ``sha``, plus warnings about the checking itself."""
    checker = _Checker(repo, sha)
    refs: dict[LookupKey, Reference] = {}
    for claim in claims:
        for ref in claim.references:
            refs.setdefault(_key(ref), ref)
    lookups: dict[LookupKey, Lookup] = {}
    names = {r.target for r in refs.values() if r.kind in ("symbol", "test") and not r.path_hint
             and _NAME_RE.match(r.target)}
    defs = checker.symbols(names) if names else {}
    endpoints = checker.endpoints({r.target for r in refs.values() if r.kind == "endpoint"})
    for key, ref in refs.items():
        if ref.kind in ("file", "dir", "glob") or (ref.kind == "test" and not _NAME_RE.match(ref.target)):
            lookups[key] = checker.paths(ref)
        elif ref.kind in ("symbol", "test") and ref.path_hint:
            lookups[key] = checker.symbol_in(ref.target, ref.path_hint)
        elif ref.kind in ("symbol", "test"):
            locs = defs.get(ref.target, [])
            if not locs and ref.kind == "test":
                locs = checker.tree.find_stem(ref.target)[:MAX_LOCATIONS]
            note = f"{ref.target} defined" if locs else f"no definition of {ref.target} in code (docs excluded)"
            lookups[key] = (bool(locs), locs, note)
        elif ref.kind == "endpoint":
            locs = endpoints.get(ref.target, [])
            note = "route string appears in code" if locs else f"{ref.target} appears nowhere in code (docs excluded)"
            lookups[key] = (bool(locs), locs, note)
        else:  # commit
            lookups[key] = repo.commit_in_history(ref.target, sha)
    results: list[ClaimResult] = []
    for claim in claims:
        checks: list[RefCheck] = []
        for ref in claim.references:
            present, locs, note = lookups[_key(ref)]
            if ref.expect_absent:
                note = "absent, as the claim says" if not present else f"still present, though the claim removes it: {note}"
            checks.append(RefCheck(reference=ref, found=present != ref.expect_absent, locations=locs, note=note))
        status = claim_status(checks)
        results.append(
            ClaimResult(claim=claim, status=status, fake=claim.asserted and status == "missing", evidence=checks)
        )
    return results, checker.warnings
