"""Checking claim references against one git revision: read-only, and nothing from the repo is run.

Every git call is a fixed argv list (never a shell), with the revision already resolved to a full sha,
``--end-of-options`` / ``--`` before anything a doc supplied, the system config ignored, and the
repo-local settings that could start a program (fsmonitor, hooks, pager, protocols) overridden on the
command line, which git ranks above the repository's own config. Objects are read with ``ls-tree``,
``grep <sha>``, ``rev-parse`` and ``merge-base``; the working tree and the index are never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp_distill.errors import InvalidInputError, NotFoundError
from mcp_distill.models.drift import Claim, ClaimResult, ClaimStatus, RefCheck, Reference

#: Seconds one git call may take before it is killed.
GIT_TIMEOUT_S = 30.0
#: Bytes of output read from one git call; grep output beyond it is dropped (and re-checked per name).
MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024
#: Bytes read from the small answers (rev-parse, merge-base).
SMALL_OUTPUT_BYTES = 1024 * 1024
#: Hit locations kept per reference as evidence.
MAX_LOCATIONS = 5
#: Names per batched `git grep` (one regex alternation).
GREP_BATCH = 40
MAX_REV_CHARS = 256

#: Docs restate the claims; a claim must not verify itself, so code searches leave prose out.
NON_CODE_PATHSPECS = (
    ":(exclude)*.md", ":(exclude)*.markdown", ":(exclude)*.mdx", ":(exclude)*.rst", ":(exclude)*.adoc",
    ":(exclude)*.txt",
)
#: Config given with -c outranks the repository's own .git/config: nothing there may start a program.
SAFE_GIT_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.untrackedCache=false",
    "-c", "core.pager=cat",
    "-c", "protocol.allow=never",
    "-c", "core.sshCommand=false",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "diff.external=",
    "-c", "grep.fallbackToNoIndex=false",
)
SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

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


class GitCommandError(InvalidInputError):
    """git could not answer (timeout, corrupt repo, missing binary); the message says what to do."""


@dataclass
class GitResult:
    rc: int
    out: bytes
    err: str
    truncated: bool


def validate_rev(rev: str) -> str:
    """A revision safe to hand to git: not an option, no whitespace or control characters."""
    value = (rev or "").strip()
    if not value:
        raise InvalidInputError("the revision is empty; pass HEAD, a branch, a tag or a commit sha")
    if value.startswith("-"):
        raise InvalidInputError(
            f"revision {value!r} starts with '-', which git would read as an option; "
            "pass a branch, tag or commit sha"
        )
    if len(value) > MAX_REV_CHARS or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInputError(
            f"revision {value[:60]!r} has whitespace or control characters or is too long; "
            "pass a branch, tag or commit sha"
        )
    return value


class GitRepo:
    """One repository folder, read through git plumbing only."""

    def __init__(self, path: Path):
        self.path = path
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_CONFIG_NOSYSTEM="1",
            # Discovery stops at the folder itself: a sub-folder of some other repo is refused, not widened.
            GIT_CEILING_DIRECTORIES=str(path.parent),
            GIT_TERMINAL_PROMPT="0",
            GIT_OPTIONAL_LOCKS="0",
            GIT_NO_REPLACE_OBJECTS="1",
            GIT_PAGER="cat",
            PAGER="cat",
            LC_ALL="C",
        )
        self.env = env

    def run(self, args: list[str], max_bytes: int = SMALL_OUTPUT_BYTES) -> GitResult:
        argv = ["git", "--no-pager", *SAFE_GIT_CONFIG, "-C", str(self.path), *args]
        timed_out = threading.Event()
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(  # fixed argv list, never a shell
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, env=self.env
                )
            except OSError as exc:
                raise GitCommandError(f"cannot run git ({exc}); install git and put it on PATH") from exc

            def kill() -> None:
                timed_out.set()
                proc.kill()

            timer = threading.Timer(GIT_TIMEOUT_S, kill)
            timer.start()
            try:
                assert proc.stdout is not None
                out = proc.stdout.read(max_bytes + 1)
                truncated = len(out) > max_bytes
                if truncated:  # enough read: stop git rather than buffer the rest
                    proc.kill()
                    out = out[:max_bytes]
                rc = proc.wait()
            finally:
                timer.cancel()
                if proc.stdout is not None:
                    proc.stdout.close()
            err.seek(0)
            stderr = err.read(4000).decode("utf-8", "replace").strip()
        if timed_out.is_set():
            raise GitCommandError(
                f"git {args[0]} in {self.path} took longer than {GIT_TIMEOUT_S:.0f}s and was stopped; "
                "the repository may be too large for this check, or retry when the disk is less busy"
            )
        return GitResult(rc, out, stderr, truncated)

    def resolve(self, rev: str) -> str:
        """The full commit sha ``rev`` names, or NotFoundError."""
        value = validate_rev(rev)
        res = self.run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{value}^{{commit}}"])
        sha = res.out.decode("ascii", "replace").strip()
        if res.rc == 0 and SHA_RE.match(sha):
            return sha
        if value == "HEAD":
            raise NotFoundError(f"{self.path} has no commits yet; commit something, then check it")
        raise NotFoundError(
            f"unknown revision {value!r} in {self.path}; pass a commit sha, branch or tag that exists there "
            f"(see `git -C {self.path} log --oneline`)"
        )

    def list_tree(self, sha: str) -> list[str]:
        res = self.run(["ls-tree", "-r", "-z", "--full-tree", "--name-only", sha], MAX_GIT_OUTPUT_BYTES)
        if res.truncated:
            raise GitCommandError(
                f"the tree of {sha[:12]} in {self.path} lists more than {MAX_GIT_OUTPUT_BYTES} bytes of paths; "
                "it is too large to check"
            )
        if res.rc != 0:
            raise GitCommandError(f"git ls-tree failed in {self.path}: {res.err}; check the repository with git fsck")
        return [p.decode("utf-8", "replace") for p in res.out.split(b"\0") if p]

    def grep(
        self, sha: str, patterns: list[str], *, fixed: bool, pathspecs: Iterable[str] = NON_CODE_PATHSPECS,
        files_only: bool = False,
    ) -> tuple[list[tuple[str, int, str]], bool]:
        """(path, line, text) hits of any pattern in the tree at ``sha``, and whether output was cut."""
        args = ["grep", "-I", "--no-color", "--no-textconv", "-z", "-l" if files_only else "-n"]
        args.append("-F" if fixed else "-E")
        for pattern in patterns:
            args += ["-e", pattern]
        args += [sha, "--", *pathspecs]
        res = self.run(args, MAX_GIT_OUTPUT_BYTES)
        if res.rc not in (0, 1) and not res.truncated:
            raise GitCommandError(f"git grep failed in {self.path}: {res.err}; check the repository with git fsck")
        prefix = f"{sha}:".encode()
        hits: list[tuple[str, int, str]] = []
        if files_only:
            out = res.out[: res.out.rfind(b"\0") + 1] if res.truncated else res.out
            for rec in out.split(b"\0"):
                if rec:
                    hits.append((rec.removeprefix(prefix).decode("utf-8", "replace"), 0, ""))
            return hits, res.truncated
        out = res.out[: res.out.rfind(b"\n") + 1] if res.truncated else res.out
        for rec in out.split(b"\n"):
            parts = rec.split(b"\0", 2)
            if len(parts) == 3 and parts[1].isdigit():
                path = parts[0].removeprefix(prefix).decode("utf-8", "replace")
                hits.append((path, int(parts[1]), parts[2].decode("utf-8", "replace")))
        return hits, res.truncated

    def commit_in_history(self, ref: str, sha: str) -> tuple[bool, list[str], str]:
        res = self.run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"])
        full = res.out.decode("ascii", "replace").strip()
        if res.rc != 0 or not SHA_RE.match(full):
            return False, [], "no such commit in this repository"
        res = self.run(["merge-base", "--is-ancestor", full, sha])
        if res.rc == 0:
            return True, [full], f"in the history of {sha[:12]}"
        if res.rc == 1:
            return False, [full], f"exists but is not in the history of {sha[:12]}"
        raise GitCommandError(f"git merge-base failed in {self.path}: {res.err}")


def open_repo(path: Path) -> GitRepo:
    """The repository whose top folder is ``path`` (already checked against the roots)."""
    if not path.exists():
        raise NotFoundError(f"{path} does not exist; pass the top folder of a git repository")
    if not path.is_dir():
        raise InvalidInputError(f"{path} is a file; pass the top folder of a git repository")
    repo = GitRepo(path)
    res = repo.run(["rev-parse", "--git-dir"])
    if res.rc != 0:
        if "dubious ownership" in res.err:
            raise InvalidInputError(
                f"git refuses {path}: it belongs to another user. If you trust it, run "
                f"`git config --global --add safe.directory {path}` and retry"
            )
        raise InvalidInputError(
            f"{path} is not a git repository (no .git in that folder); pass the repository's top folder, "
            "or run `git init` and commit there first"
        )
    return repo


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
