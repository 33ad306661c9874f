"""Read-only git for the drift checker: nothing from the repo is run.

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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp_distill.errors import InvalidInputError, NotFoundError

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
