"""Reading claims and their checkable references out of markdown PRDs and phase trackers.

The rules (what is a claim, a phase, a reference) are documented in :mod:`mcp_distill.drift.snapshots`; this
module only applies them. It is pure text processing: nothing here touches git or the store.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from mcp_distill.markdown import checkbox, heading, list_item, scan
from mcp_distill.models import Claim, ClaimKind, Reference, RefKind

#: A doc with more claims than this is cut off there (with a warning from the caller).
MAX_CLAIMS_PER_DOC = 5000
#: References kept per claim; a claim naming more is a list, not a claim.
MAX_REFS_PER_CLAIM = 64
#: Longer lines are cut before parsing so a minified blob cannot stall the regexes.
MAX_LINE_CHARS = 4000

#: Checkbox characters a PRD claim uses (``[x]`` shipped, ``[ ]`` open, ``[~]``/``[-]`` in progress).
BOXES = " xX~-"
TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
PHASE_HEADING_RE = re.compile(r"^(?:phase|milestone|stage|sprint|step|part|epic)\s+[\w.-]+", re.I)
NUMBERED_HEADING_RE = re.compile(r"^\d+(?:\.\d+)*[.)]?\s+\S")
SHIPPED_RE = re.compile(r"\b(?:shipped|done|implemented|landed|completed)\b|✅|✔", re.I)
NEGATED_RE = re.compile(
    r"(?:\bnot|n't|\bnever|\byet to be|\bto be|\bwill be|\bshould be|\bmust be|\bwould be)\s+"
    r"(?:yet\s+|been\s+|fully\s+|be\s+)*(?:shipped|done|implemented|landed|completed)\b"
    r"|\bun(?:implemented|shipped)\b|❌|\bTODO\b|\bWIP\b",
    re.I,
)
#: A claim whose own line says it deletes files: its file references must be absent.
DELETE_FILES_RE = re.compile(
    r"^(?:delete|remove|drop)\b.*\b(?:files?|scripts?|folders?|director(?:y|ies)|modules?)\b", re.I
)
#: A line saying something was removed: the references on it must be absent.
REMOVE_LINE_RE = re.compile(r"^(?:remove|removed|delete|deleted|drop|dropped)\b", re.I)
RENAME_LINE_RE = re.compile(r"\b(?:rename[ds]?|move[ds]?)\b", re.I)
ARROW_RE = re.compile(r"→|->|=>")

CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1")
URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
LINK_RE = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTTP_METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS"
METHOD_ENDPOINT_RE = re.compile(rf"^(?:{HTTP_METHODS})\s+(/\S*)$")
BARE_METHOD_ENDPOINT_RE = re.compile(rf"\b(?:{HTTP_METHODS})\s+(/[\w\-.~:{{}}<>/]*)")
BARE_API_ENDPOINT_RE = re.compile(r"(?<![\w.:/~-])(/(?:v\d+|api)(?:/[\w\-.~:{}<>]+)+/?)")
ENDPOINT_RE = re.compile(r"^/[\w\-.~:{}<>/]*$")
BARE_COMMIT_RE = re.compile(r"\b(?:commit|sha|rev)\s*[:#]?\s*([0-9a-f]{7,40})\b", re.I)
HEX_RE = re.compile(r"^[0-9a-f]{7,40}$")
LINE_SUFFIX_RE = re.compile(r":\d+(?:-\d+)?$")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
IDENT_RE = re.compile(rf"^({IDENT})(\(.*\))?$")
DOTTED_RE = re.compile(rf"^{IDENT}(?:\.{IDENT})+(\([^()]*\))?$")
QUALIFIED_RE = re.compile(rf"^{IDENT}(?:::{IDENT})+(\(\))?$")
PATH_SYMBOL_RE = re.compile(rf"^([\w./@+-]+\.[A-Za-z0-9]+)::({IDENT})(?:::({IDENT}))?$")
PATH_CHARS_RE = re.compile(r"^[\w./@+{},*?\[\]-]+$")
TEST_NAME_RE = re.compile(r"^(?:test_\w+|Test[A-Z]\w*)$")
TEST_FILE_RE = re.compile(
    r"(?:^|/)(?:test_[\w-]+\.py|[\w-]+_test\.(?:py|go|rs)|[\w.-]+\.(?:test|spec)\.[cm]?[jt]sx?|[\w-]+Tests?\.(?:java|kt|cs))$"
)

_EXT_WORDS = (
    """py pyi ts tsx mts cts js jsx mjs cjs rs go java kt kts scala rb php c h cc cpp cxx hpp hh cs swift m mm
    md mdx rst txt adoc json jsonl json5 toml yaml yml ini cfg conf sql prisma sh bash zsh fish ps1 bat css
    scss sass less html htm vue svelte astro xml graphql gql proto lock tf hcl lua r jl dart ex exs erl hs ml
    elm clj nix gradle cmake mk ipynb csv tsv svg png jpg jpeg gif ico webp pdf wasm zig nim v sol"""
)
FILE_EXTS = frozenset(_EXT_WORDS.split())
_BASENAME_WORDS = (
    """Makefile Dockerfile Containerfile Justfile Procfile Gemfile Rakefile Vagrantfile LICENSE CODEOWNERS
    .gitignore .gitattributes .dockerignore .editorconfig .npmrc .nvmrc .env.example .prettierrc .eslintrc
    .python-version .tool-versions"""
)
KNOWN_BASENAMES = frozenset(_BASENAME_WORDS.split())
#: Build output and caches: never in git, so a path under them is not checkable. The first group counts
#: at any depth (monorepos nest them), the second only at the top (``src/build/`` may be source).
GENERATED_SEGMENTS = frozenset(
    {"node_modules", "__pycache__", ".venv", "venv", "dist", ".next", ".turbo", "coverage",
     "playwright-report", "test-results", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
GENERATED_TOP = frozenset({"build", "out", "target"})
BARE_PATH_RE = re.compile(
    r"(?<![\w@/.:~-])((?:[\w.-]+/)+[\w.-]+\.(?:" + "|".join(sorted(FILE_EXTS, key=len, reverse=True)) + r"))"
    r"(?::\d+(?:-\d+)?)?(?![\w/])"
)


def _clean(text: str) -> str:
    """Markdown emphasis and links flattened, whitespace collapsed: the text a reader sees."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|~~)", "", text)
    return re.sub(r"\s+", " ", text).strip()


_LEADING_TAGS_RE = re.compile(r"^(?:(?:\d+(?:\.\d+)*[.)]?|\[[^\]]{1,24}\])\s+)+")


def normalise_claim_text(text: str) -> str:
    """The part of a claim's text that identifies it: numbering, tags, markup and case removed."""
    text = _clean(text).replace("`", "").lower()
    text = _LEADING_TAGS_RE.sub("", text)
    text = re.sub(r"[*_]", "", text)
    return re.sub(r"\s+", " ", text).strip(" .:;")


def claim_key(doc: str, phase: str, text: str, occurrence: int = 1) -> str:
    basis = f"{doc}\x1f{phase.lower()}\x1f{normalise_claim_text(text)}"
    if occurrence > 1:
        basis += f"\x1f#{occurrence}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def _is_code_like(name: str) -> bool:
    """Names that are clearly code: snake_case, camelCase, PascalCase with two humps, CONST_CASE.

    Plain words (`draft`, `exists`, `Webhook`) are too ambiguous to grep for a definition.
    """
    if len(name) < 3:
        return False
    return (
        ("_" in name.strip("_") and any(c.isalpha() for c in name))
        or re.search(r"[a-z0-9][A-Z]", name) is not None
    )


def _path_ref(raw: str, line: int) -> Reference | None:
    """A file, folder or glob reference, or None when ``raw`` is not a checkable repo path."""
    value = raw.strip().rstrip(".,;)")
    target = LINE_SUFFIX_RE.sub("", value)
    if not target or target.startswith(("/", "~", "-", "@/", "$")) or "://" in target:
        return None
    while target.startswith(("./", "../")):
        target = target[2:] if target.startswith("./") else target[3:]
    if not target or ".." in target.split("/") or not PATH_CHARS_RE.match(target):
        return None
    segments = target.rstrip("/").split("/")
    folders = segments if target.endswith("/") else segments[:-1]
    if segments[0] in GENERATED_TOP or GENERATED_SEGMENTS.intersection(folders):
        return None
    base = target.rstrip("/").rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""
    globby = any(c in target for c in "*?[{")
    if target.endswith("/"):
        if globby or not re.search(r"[A-Za-z]", target):
            return None
        return Reference(kind="dir", value=value, target=target.rstrip("/"), line=line)
    if not (ext in FILE_EXTS or base in KNOWN_BASENAMES or (globby and re.search(r"/\*{1,2}$", target))):
        return None  # `e2e.db-*` is an ignore pattern, not a file the repo should hold
    if globby:
        return Reference(kind="glob", value=value, target=target, line=line)
    kind: RefKind = "test" if TEST_FILE_RE.search(target) else "file"
    return Reference(kind=kind, value=value, target=target, line=line)


def _endpoint_ref(raw: str, path: str, line: int) -> Reference | None:
    path = path.rstrip(".,;:)")
    if len(path) > 1:
        path = path.rstrip("/")
    if len(path) < 3 or "*" in path or not ENDPOINT_RE.match(path):
        return None
    last = path.rsplit("/", 1)[-1]
    if "." in last and last.rsplit(".", 1)[-1].lower() in FILE_EXTS:
        return None  # an absolute file path, not an endpoint
    return Reference(kind="endpoint", value=raw.strip(), target=path, line=line)


def classify_code_span(span: str, line: int) -> list[Reference]:
    """The references one `code span` names (often none: commands and snippets are not claims)."""
    s = span.strip()
    if not s or len(s) > 300:
        return []
    if any(c.isspace() for c in s):
        m = METHOD_ENDPOINT_RE.match(s)
        if m:
            ref = _endpoint_ref(s, m.group(1), line)
            return [ref] if ref else []
        m = IDENT_RE.match(s)  # a signature such as `select(projectId: string)`, not a call with literals
        if m and m.group(2) and not re.search(r"[\"'`=]", m.group(2)):
            return [Reference(kind="symbol", value=s, target=m.group(1), line=line)]
        return []
    if s.startswith("/"):
        ref = _endpoint_ref(s, s, line)
        return [ref] if ref else []
    if HEX_RE.match(s) and re.search(r"[a-f]", s) and re.search(r"\d", s):
        return [Reference(kind="commit", value=s, target=s, line=line)]
    m = PATH_SYMBOL_RE.match(s)
    if m:
        path, name = m.group(1), m.group(3) or m.group(2)
        file_ref = _path_ref(path, line)
        kind: RefKind = "test" if TEST_NAME_RE.match(name) else "symbol"
        sym = Reference(kind=kind, value=s, target=name, path_hint=file_ref.target if file_ref else None, line=line)
        return [file_ref, sym] if file_ref else [sym]
    ref = _path_ref(s, line)
    if ref is not None:
        return [ref]
    m = IDENT_RE.match(s)
    if m:
        name, called = m.group(1), bool(m.group(2))
        if TEST_NAME_RE.match(name):
            return [Reference(kind="test", value=s, target=name, line=line)]
        if _is_code_like(name) or (called and len(name) >= 2):
            return [Reference(kind="symbol", value=s, target=name, line=line)]
        return []
    if QUALIFIED_RE.match(s):
        name = s.removesuffix("()").rsplit("::", 1)[-1]
        return [Reference(kind="symbol", value=s, target=name, line=line)] if len(name) >= 3 else []
    if DOTTED_RE.match(s):
        name = re.sub(r"\([^()]*\)$", "", s).rsplit(".", 1)[-1]
        if _is_code_like(name):
            return [Reference(kind="symbol", value=s, target=name, line=line)]
    return []


def extract_references(text: str, line: int) -> list[Reference]:
    """All references on one line of markdown: code spans, links, bare paths, endpoints, commits."""
    refs: list[Reference] = []
    for m in CODE_SPAN_RE.finditer(text):
        refs.extend(classify_code_span(m.group(2), line))
    bare = CODE_SPAN_RE.sub(" ", text)
    for m in LINK_RE.finditer(bare):
        target = m.group(1).split("#", 1)[0]
        if target and "://" not in target and not target.startswith("mailto:"):
            ref = _path_ref(target, line)
            if ref is not None:
                refs.append(ref)
    bare = URL_RE.sub(" ", LINK_RE.sub(" ", bare))
    for m in BARE_METHOD_ENDPOINT_RE.finditer(bare):
        ref = _endpoint_ref(m.group(0), m.group(1), line)
        if ref is not None:
            refs.append(ref)
    for m in BARE_API_ENDPOINT_RE.finditer(BARE_METHOD_ENDPOINT_RE.sub(" ", bare)):
        ref = _endpoint_ref(m.group(1), m.group(1), line)
        if ref is not None:
            refs.append(ref)
    for m in BARE_PATH_RE.finditer(bare):
        ref = _path_ref(m.group(0), line)
        if ref is not None:
            refs.append(ref)
    for m in BARE_COMMIT_RE.finditer(bare):
        if re.search(r"[a-f]", m.group(1)) and re.search(r"\d", m.group(1)):
            refs.append(Reference(kind="commit", value=m.group(1), target=m.group(1), line=line))
    return refs


def _strip_markers(text: str) -> str:
    """A line without its list marker, checkbox, numbering tags and emphasis."""
    item = list_item(text)
    rest = item.rest if item else text.strip()
    cb = _box(rest)
    rest = cb[1] if cb else rest
    return _LEADING_TAGS_RE.sub("", _clean(rest).lstrip("*_ "))


def _line_references(text: str, line: int, head_deletes_files: bool) -> list[Reference]:
    refs = extract_references(text, line)
    plain = _strip_markers(text)
    if REMOVE_LINE_RE.match(plain):
        return [r.model_copy(update={"expect_absent": True}) for r in refs]
    if RENAME_LINE_RE.search(plain) and ARROW_RE.search(text):
        cut = ARROW_RE.search(text).start()  # type: ignore[union-attr]
        before = {r.value for r in extract_references(text[:cut], line)}
        refs = [r.model_copy(update={"expect_absent": True}) if r.value in before else r for r in refs]
    if head_deletes_files:
        refs = [
            r.model_copy(update={"expect_absent": True}) if r.kind in ("file", "dir", "glob", "test") else r
            for r in refs
        ]
    return refs


def _dedupe(refs: list[Reference]) -> list[Reference]:
    """One reference per (kind, target, hint, absent); a short path dropped when a longer one ends with it."""
    seen: dict[tuple[str, str, str | None, bool], Reference] = {}
    for r in refs:
        seen.setdefault((r.kind, r.target, r.path_hint, r.expect_absent), r)
    out = list(seen.values())
    paths = [r for r in out if r.kind in ("file", "test") and "::" not in r.value]
    drop = {
        id(r)
        for r in paths
        for other in paths
        if other is not r and other.expect_absent == r.expect_absent and other.target.endswith("/" + r.target)
    }
    return [r for r in out if id(r) not in drop][:MAX_REFS_PER_CLAIM]


@dataclass
class _Pending:
    kind: ClaimKind
    checked: bool | None
    asserted: bool
    indent: int
    line: int
    text: str
    phase: str
    section: str
    lines: list[tuple[int, str]] = field(default_factory=list)


def _box(rest: str) -> tuple[str, str] | None:
    cb = checkbox(rest)
    return cb if cb and cb[0] in BOXES else None


def _phase_of(stack: list[tuple[int, str]]) -> tuple[str, str]:
    titles = [t for _, t in stack]
    phase = next((t for t in reversed(titles) if PHASE_HEADING_RE.match(t) or NUMBERED_HEADING_RE.match(t)), None)
    section_titles = titles[1:] if len(stack) > 1 and stack[0][0] == 1 else titles
    section = " / ".join(section_titles) or (titles[0] if titles else "(top)")
    return phase or (titles[-1] if titles else "(top)"), section


def _table_cells(line: str) -> list[str]:
    body = line.strip()
    body = body.removeprefix("|")
    body = body.removesuffix("|")
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def parse_markdown(text: str, doc: str) -> list[Claim]:
    """Every claim of one markdown doc, in document order, with its references."""
    lines = [ln[:MAX_LINE_CHARS] for ln in text.splitlines()]
    stack: list[tuple[int, str]] = []
    pending: list[_Pending] = []
    current: _Pending | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            pending.append(current)
            current = None

    for scanned in scan(lines):
        idx, raw = scanned.number, scanned.text
        lineno = idx + 1
        indent = len(raw) - len(raw.lstrip())
        if scanned.kind == "fence_open":
            if current is not None and indent <= current.indent:
                close()
            continue
        if scanned.in_code or not raw.strip():
            continue
        hm = heading(raw)
        if hm:
            close()
            level = hm[0]
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _clean(hm[1]).strip("*_ ") or "(untitled)"))
            continue
        if current is not None and indent > current.indent:
            current.lines.append((lineno, raw))
            continue
        close()
        phase, section = _phase_of(stack)
        lm = list_item(raw)
        if lm:
            rest = lm.rest
            cb = _box(rest)
            if cb:
                checked = cb[0] in "xX"
                current = _Pending("checkbox", checked, checked, indent, lineno, cb[1], phase, section)
                current.lines.append((lineno, raw))
            elif SHIPPED_RE.search(rest) and not NEGATED_RE.search(rest):
                current = _Pending("bullet", None, True, indent, lineno, rest, phase, section)
                current.lines.append((lineno, raw))
            continue
        if raw.lstrip().startswith("|") and not TABLE_SEP_RE.match(raw):
            is_header = idx + 1 < len(lines) and TABLE_SEP_RE.match(lines[idx + 1]) is not None
            cells = _table_cells(raw)
            row = " | ".join(c for c in cells if c)
            if not is_header and row and SHIPPED_RE.search(row) and not NEGATED_RE.search(row):
                first = _clean(cells[0]).strip("*_ ") if cells else ""
                row_phase = first if PHASE_HEADING_RE.match(first) else phase
                item = _Pending("table", None, True, indent, lineno, row, row_phase, section)
                item.lines.append((lineno, raw))
                pending.append(item)
    close()
    return _build_claims(pending[:MAX_CLAIMS_PER_DOC], doc)


def _build_claims(pending: list[_Pending], doc: str) -> list[Claim]:
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for p in pending:
        text = _clean(p.text) or "(empty)"
        head_deletes = DELETE_FILES_RE.match(_strip_markers(p.text)) is not None
        refs: list[Reference] = []
        for lineno, ln in p.lines:
            refs.extend(_line_references(ln, lineno, head_deletes))
        base = claim_key(doc, p.phase, text)
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else claim_key(doc, p.phase, text, seen[base])
        claims.append(
            Claim(
                claim_key=key, doc=doc, phase=p.phase, section=p.section, line=p.line, kind=p.kind,
                checked=p.checked, asserted=p.asserted, text=text[:1000], references=_dedupe(refs),
            )
        )
    return claims
