"""Redaction of secrets and e-mail addresses before anything leaves the store.

Why: agent-loop output is full of pasted env files, curl commands and config snippets. A key that
reaches a training set is published with every copy of the model or dataset, so every export runs
through :func:`redact` and every validator re-checks with :func:`find_secrets`.

Each secret becomes a typed placeholder ``[REDACTED:<type>]``; only the secret part is replaced, so
``password = "hunter2!x"`` becomes ``password = "[REDACTED:password]"`` and
``postgres://app:pw@db`` becomes ``postgres://app:[REDACTED:url_password]@db`` (the surrounding
code keeps its shape, which matters for training on it).

Types, most specific first (:data:`SECRET_TYPES`; a span claimed by an earlier type is never
re-typed by a later, more generic one, e.g. an OpenAI key assigned to ``api_key`` is ``openai_key``):

* ``private_key``: PEM blocks ``-----BEGIN ... PRIVATE KEY-----`` to the matching END line, across
  lines; a block without END is cut to the end of its base64 body.
* ``jwt``: ``eyJ<header>.eyJ<payload>.<signature>``.
* ``anthropic_key`` ``sk-ant-...``; ``openai_key`` ``sk-...``, ``sk-proj-...`` (must contain a digit,
  so ``sk-some-kebab-case-name`` is left alone); ``stripe_key`` ``sk_live_``/``rk_live_`` (and
  ``_test_``); ``github_token`` ``ghp_/gho_/ghu_/ghs_/ghr_``, ``github_pat_``; ``gitlab_token``
  ``glpat-``; ``slack_webhook`` ``https://hooks.slack.com/services/...``; ``slack_token``
  ``xox[abprs]-``; ``huggingface_token`` ``hf_``; ``npm_token`` ``npm_``; ``google_api_key``
  ``AIza`` + 35; ``aws_access_key_id`` ``AKIA``/``ASIA`` (and the other AWS id prefixes) + 16.
* ``aws_secret_key``: 40 base64 characters assigned to ``aws_secret_access_key``,
  ``SecretAccessKey`` and friends (a bare 40-character string is too common to flag alone).
* ``azure_key``: ``AccountKey=``/``SharedAccessKey=`` in connection strings, values of 20+ key
  characters assigned to ``azure...key/secret/password/token`` names, and Entra client secrets
  (``xxx8Q~...``).
* ``url_password``: ``scheme://user:PASSWORD@host``; user and host are kept.
* ``bearer_token`` ``Bearer <token>`` and ``basic_auth`` ``Authorization: Basic <b64>``.
* ``password`` / ``secret``: ``name = value`` assignments and "the password is x" (see below).
* ``email``: except ``git@host:`` remotes, ``name@2x.png``-style asset names and the user of
  ``scheme://user@host`` (a URL user is kept, as with ``url_password``).

Assignment heuristics (the generic rule that must not mangle ordinary code):

* The name must *end* with password, passwd, passphrase, pwd, secret, token, api_key/apikey,
  access_key, secret_key, private_key or auth (``auth`` and ``pwd`` only as a separate word), in
  snake, kebab, dotted or camel case: ``DB_PASSWORD``, ``PGPASSWORD``, ``MYSQL_PWD``,
  ``githubToken``, ``client_secret``, ``X-Api-Key``. ``max_tokens``, ``token_url``,
  ``password_hash`` and ``OLDPWD`` do not qualify.
* The operator is ``=``, ``:``, ``:=`` or ``=>`` (not ``==``), so code, env files (``export
  NAME=...``), JSON, YAML, TOML, kwargs and CLI flags (``--password=...``) are covered.
* Never a secret: an empty or masked value (``********``, ``xxxx``), a reference (``$X``, ``${X}``,
  ``{{ x }}``, ``%(x)s``, ``%s``, ``:name``, ``<your-key>``, anything with parentheses), a URL,
  a path, a version, an ``UPPER_SNAKE`` env-var name, the name itself, or a word of the
  ~200-word stoplist (:data:`_STOPWORDS`: English function words, status words such as
  ``required``/``incorrect``, type names such as ``str``/``None``/``SecretStr``, auth schemes).
* Length: a password name (password, passwd, passphrase, pwd) takes a quoted value from 1 character
  and a bare one from 4 (``passwd=letmein``); an ``UPPER_CASE`` env-style name from 3/4; other
  names (token, secret, api_key...) from 8, because short values under them are code
  (``token = "EOF"`` in a lexer, ``{"token": "Hello"}`` in logprobs), not credentials.
* Quoted values may hold spaces: ``"correct horse battery 0"`` is a passphrase; a spaced value
  without a digit or symbol, or holding an English function word (``"Password must be at least 8
  characters"``), is a sentence and stays. So does a diceware phrase of plain words (a miss we accept).
* A bare (unquoted) value must not be an identifier or expression: ``token = None``,
  ``password: str``, ``self.secret_key = secret_key``, ``api_key=os.environ["X"]``,
  ``secret = get_secret()`` stay. A bare value with a digit or a symbol other than ``_`` and ``.``
  is a literal (``password: hunter0``); snake_case, dotted and lowercase-slug values
  (``my-tls-secret``) are names. An all-letter word is a literal only where code cannot put a
  variable: after an ``UPPER_CASE`` env-style name (``POSTGRES_PASSWORD: postgres``), after ``=``
  without spaces and not inside a call (``passwd=letmein``, not ``f(password=pw)``), or as a
  lowercase YAML value alone on its line (``password: letmein``; ``password: Hunter`` is taken
  for a type hint), and only under a password name. A word ending in -ed, -ing, -ly or -ble is
  taken for English. ``password = hunter`` is Python and stays, so does a bare word in INI files.
* Prose: after "password/passwd/passphrase/pwd is|was" (optionally followed by ``:``) the next
  token is redacted when it is a literal by the rules above, a plain word counting as one unless
  it is in the stoplist: "the password is: hunter0", "my password is letmein", but not "the
  password is incorrect". "password: x" is the assignment rule. Other phrasings ("the password
  for admin is x") and secrets that are stop words are missed.

Git SHAs, UUIDs and lockfile hashes are not flagged by themselves: only the keyed rules above look
at long random strings, and ``sha``, ``integrity``, ``hash``, ``checksum`` are not secret names.

Linear time: every pattern starts with a literal (``sk-``, ``eyJ``, ``://``; the boundary
look-behind comes after it) or a look-behind that only lets a match start at the beginning of a run
of its own characters, runs are consumed with possessive quantifiers (Python 3.11+) and the other
repeats are bounded, so the work per start position is bounded by a constant. The keyed rule finds the
secret word first and matches the value (or the prose "is x") anchored after it; the PEM scanner
searches each END marker at most once; overlaps are resolved with a claimed-bytes map, not
pairwise. 1 MB of each adversarial input (``password=password=...``, ``a@a@...``, repeated BEGIN
lines, ...) takes at most ~1 s and ordinary agent text runs at ~14 MB/s (``bench/redact.py``).

Idempotent: placeholders match no pattern, and :func:`redact` repeats until :func:`find_secrets`
finds nothing, so ``redact(redact(x)[0])[0] == redact(x)[0]`` and no secret survives.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

PLACEHOLDER = "[REDACTED:{}]"
PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z_]+\]")
"""Matches any placeholder, e.g. to count what an exported file had redacted."""

SECRET_TYPES = (
    "private_key",
    "jwt",
    "anthropic_key",
    "openai_key",
    "stripe_key",
    "github_token",
    "gitlab_token",
    "slack_webhook",
    "slack_token",
    "huggingface_token",
    "npm_token",
    "google_api_key",
    "aws_access_key_id",
    "aws_secret_key",
    "azure_key",
    "url_password",
    "bearer_token",
    "basic_auth",
    "password",
    "secret",
    "email",
)
"""Every placeholder type, in priority order (earlier wins an overlap)."""

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_PRIORITY = {name: i for i, name in enumerate(SECRET_TYPES)}
_MAX_PASSES = 4


class SecretSpan(NamedTuple):
    """One secret found in a text: its type and the ``(start, end)`` span to replace."""

    type: str
    span: tuple[int, int]


# --------------------------------------------------------------------------------------------------
# Value heuristics (used by the keyed rules and by redact_value's dict keys)

_SECRET_NAME = re.compile(
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key"
    r"|private[_-]?key|auth|pwd)$",
    re.IGNORECASE,
)
_PASSWORD_NAME = re.compile(r"(?:password|passwd|passphrase|pwd)$", re.IGNORECASE)
# English function words and form-label words: a spaced value holding one is a sentence ("Password
# must be at least 8 characters", "Enter your password"), not a passphrase.
_PROSE_WORDS = frozenset("""
a an the and or but nor not no of to in on at by for from with without into over under about as than then
so if is are was were be been being am do does did has have had will would shall should can could may might
must this that these those it its you your we our they their he his she her me my here there what which who
when where why how all any some each every both enter please least most more less min max minimum maximum
characters chars letters digits symbols new old current confirm repeat again via per
""".split())
# A single word from this list is never taken for a secret (prose, YAML status values, type hints).
_STOPWORDS = _PROSE_WORDS | frozenset("""
none null nil true false yes off undefined nothing something unknown default auto str string bytes int
integer number float bool boolean dict list tuple object any void text secretstr self cls value input data
result config settings env environ params args kwargs field required optional missing invalid valid
incorrect correct wrong empty blank unset set hidden masked redacted encrypted hashed salted stored saved
changed updated reset expired needed necessary mandatory provided supplied given generated accepted
rejected ignored enabled disabled locked weak strong good bad fine okay same different sensitive visible
shown printed logged sent shared protected too very also still now just only always never usually really
actually simply command denied failed error success ok password passwd passphrase pwd pass secret token
key apikey auth oauth oauth2 basic bearer digest jwt session cookie credentials login user username
""".split())
_REFERENCE = re.compile(r"\$\{|\{\{|%\(|%[sdr]\b|^\$|^[:@?]\w*$|^<.*>$|^\{.*\}$|\(|\)")
_URL_OR_PATH = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|/|\./|\.\./|~/)")
_VERSION = re.compile(r"^[\^~<>=v]*\d+(?:\.\d+)+")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_ENV_STYLE = re.compile(r"^[A-Z][A-Z0-9_]*$")  # PGPASSWORD, MYSQL_PWD: a shell/env variable name
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_]*(?:\.[A-Za-z_]\w*)*$|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_SLUG = re.compile(r"^[a-z]+(?:[-_][a-z0-9]+)+$")
_MASK = frozenset("*xX•.…#?-_")
_GLUE = re.compile(r"^[\s+,]|[\s+,]$")  # '"Password: " + pw + "!"': the code between two literals
_PASSPHRASE_MARK = re.compile(r"[^\w\s.,;:!?'\"-]|\d")
_WORD = re.compile(r"[^\W\d_]+")
_ENGLISH_SHAPE = re.compile(r"(?:ed|ing|ly|ble)$", re.IGNORECASE)  # "is checked", "is missing", "is usually"
_NAME_STRIP = "\"'`[]$- "
_SQUASH = str.maketrans("", "", "_-. ")


def is_secret_name(name: str) -> bool:
    """True when a key/variable name says its value is a credential (see module doc)."""
    name = name.strip(_NAME_STRIP)
    m = _SECRET_NAME.search(name)
    if m is None:
        return False
    if m.group().lower() in ("auth", "pwd"):  # "oauth", "OLDPWD" are not credentials; "auth", "MYSQL_PWD" are
        before = name[: m.start()]
        return not before or before[-1] in "_-." or (before[-1].islower() and m.group()[0].isupper())
    return True


def _placeholder(value: str, name: str) -> bool:
    """Empty, masked, a reference, URL, path, version, env-var name, stop word or the name itself."""
    low = value.lower()
    if not value or set(value) <= _MASK or (len(value) > 2 and len(set(low)) == 1) or low in _STOPWORDS:
        return True
    if "[REDACTED:" in value or _REFERENCE.search(value) or _URL_OR_PATH.match(value):
        return True
    if _VERSION.match(value) or _ENV_NAME.match(value):
        return True
    return low.translate(_SQUASH) == name.strip(_NAME_STRIP).lower().translate(_SQUASH)


def _min_length(name: str, quoted: bool) -> int:
    """Password names take short literals; a short token/key/secret is rarely one (``token = "EOF"``)."""
    name = name.strip(_NAME_STRIP)
    if not name or _PASSWORD_NAME.search(name):
        return 1 if quoted else 4
    return (3 if quoted else 4) if _ENV_STYLE.match(name) else 8


def looks_like_secret_value(value: str, quoted: bool, *, name: str = "", literal_word: bool = False) -> bool:
    """True when ``value``, assigned to the secret name ``name``, is a literal worth redacting.

    Quoted: any non-placeholder string of :func:`_min_length`; with spaces it must hold a digit or
    symbol and no English function word (a passphrase, not a sentence). Bare: a digit or a symbol,
    or an all-letter word when the caller says the context makes it a literal (``literal_word``),
    never a snake_case or dotted name.
    """
    if value != value.strip() or "\n" in value or _placeholder(value, name):
        return False
    if quoted:
        if len(value) < _min_length(name, quoted) or _GLUE.search(value):
            return False
        if any(ch.isspace() for ch in value):
            return bool(_PASSPHRASE_MARK.search(value)) and not any(
                w.lower() in _PROSE_WORDS for w in _WORD.findall(value)
            )
        return True
    if len(value) < _min_length(name, quoted) or value.endswith(":"):
        return False  # "User: Password: ..." is a row of labels
    if value.isalpha():  # a plain word: only where the context rules out a variable, and not English-shaped
        return literal_word and not _ENGLISH_SHAPE.search(value)
    return not (_IDENTIFIER.match(value) or _SLUG.match(value))


# --------------------------------------------------------------------------------------------------
# Detectors


@dataclass(frozen=True)
class _Rule:
    """One detector. ``hints``: substrings of which one must occur (in the lowercased text when
    ``fold``) for the regex to run at all; a cheap ``in`` test that skips most texts."""

    type: str
    pattern: re.Pattern[str]
    group: str | int = 0
    check: Callable[[re.Match[str]], bool] | None = None
    hints: tuple[str, ...] = ()
    fold: bool = False


def _has_digit(m: re.Match[str]) -> bool:
    return any(ch.isdigit() for ch in m.group())


def _prefixed(prefix: str, body: str, boundary: str = r"[\w-]") -> re.Pattern[str]:
    r"""``prefix`` + ``body``, where the prefix must not continue a run of ``boundary`` characters.

    The boundary look-behind is placed *after* the literal prefix (``sk-(?<![\w-]sk-)``) rather than
    before it: the same language, but a pattern that starts with a literal lets ``re`` jump from one
    occurrence of the prefix to the next instead of trying every position (~50x faster on text
    without keys).
    """
    lit = re.escape(prefix)
    return re.compile(f"{lit}(?<!{boundary}{lit}){body}")


_ASSIGN_OP = r"""["'`]?\]?[ \t]*+(?::=|=>|=(?!=)|:(?!:))[ \t]*+"""

_RULES: tuple[_Rule, ...] = (
    _Rule("jwt", _prefixed("eyJ", r"[\w-]{4,}+\.eyJ[\w-]{4,}+\.[\w-]*+")),
    _Rule("anthropic_key", _prefixed("sk-ant-", r"[\w-]{20,}+")),
    _Rule("openai_key", _prefixed("sk-", r"[\w-]{20,}+"), check=_has_digit),
    _Rule("stripe_key", _prefixed("sk_", r"(?:live|test)_[A-Za-z0-9]{16,}+")),
    _Rule("stripe_key", _prefixed("rk_", r"(?:live|test)_[A-Za-z0-9]{16,}+")),
    _Rule("github_token", _prefixed("gh", r"[pousr]_[A-Za-z0-9]{30,}+")),
    _Rule("github_token", _prefixed("github_pat_", r"\w{22,}+")),
    _Rule("gitlab_token", _prefixed("glpat-", r"[\w-]{20,}+")),
    _Rule(
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{8,}+"),
    ),
    _Rule("slack_token", _prefixed("xox", r"[abprs]-[A-Za-z0-9-]{10,}+")),
    _Rule("huggingface_token", _prefixed("hf_", r"[A-Za-z0-9]{30,}+")),
    _Rule("npm_token", _prefixed("npm_", r"[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    _Rule("google_api_key", _prefixed("AIza", r"[\w-]{35}(?![\w-])")),
    _Rule(
        "aws_access_key_id",
        _prefixed("A", r"(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])", "[A-Za-z0-9]"),
    ),
    _Rule(
        "aws_secret_key",
        re.compile(
            r"(?i:(?<![A-Za-z0-9])(?:aws_?secret_?(?:access_?)?key|secret_?access_?key))"
            + _ASSIGN_OP
            + r"""["'`]?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""
        ),
        group="v",
        hints=("secret_access", "secretaccess", "aws_secret", "awssecret"),
        fold=True,
    ),
    _Rule(
        "azure_key",
        re.compile(
            r"(?i:(?<![A-Za-z0-9])(?:account_?key|shared_?access_?key"
            r"|azure[\w.-]{0,40}?(?:key|secret|password|token)(?![\w.-])))"
            + _ASSIGN_OP
            + r"""["'`]?(?P<v>[A-Za-z0-9+/_~.-]{20,}+={0,2})"""
        ),
        group="v",
        check=lambda m: any(c.isdigit() for c in m.group("v")) and not _IDENTIFIER.match(m.group("v")),
        hints=("azure", "accountkey", "account_key", "sharedaccesskey", "shared_access_key"),
        fold=True,
    ),
    _Rule(
        "azure_key",
        re.compile(r"(?<![\w~.-])[\w~.-]{3}\dQ~[\w~.-]{31,34}+(?![\w~.-])"),
        hints=("Q~",),
    ),
    _Rule(
        "url_password",
        re.compile(
            r"://(?<=[A-Za-z0-9+.-]://)[^\s:/?#@\[\]\"'<>]{0,256}+:"
            r"(?P<v>[^\s/?#@\[\]\"'<>]{1,256}+)@(?=[\w\[.-])"
        ),
        group="v",
        check=lambda m: not m.group("v").startswith(("$", "{", "%")),
    ),
    _Rule(
        "bearer_token",
        re.compile(r"earer(?<![\w-][Bb]earer)(?<=[Bb]earer)[ \t]++(?P<v>[A-Za-z0-9._~+/-]{8,}+=*+)"),
        group="v",
        check=lambda m: len(m.group("v")) >= 24 or (_has_digit(m) and len(m.group("v")) >= 12),
    ),
    _Rule(
        "basic_auth",
        re.compile(r"(?i:authorization)[\"']?[ \t]*+[:=][ \t]*+[\"']?Basic[ \t]++(?P<v>[A-Za-z0-9+/]{8,}+=*+)"),
        group="v",
        hints=("Basic",),
    ),
)

# The generic keyed rule: name (ends with a secret word), operator, quoted or bare value.
# The generic keyed rule, in two steps because a pattern that starts with the name would have to
# try every position: find the secret word in the lowercased text (a literal alternation, ~7 ms/MB),
# walk back to the start of the name, then match operator and value anchored after the word.
_KEYWORD = re.compile(
    r"(?:pass(?:word|wd|phrase)|pwd|secret[_-]?key|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|auth)(?![\w.-])"
)
# A quoted value ends at its own closing quote (it may hold spaces and the other quotes); a bare one
# ends at whitespace, punctuation or a JSON escape (\n, \"), so a JSON-encoded text splits the same way.
_QUOTED = r"""(?P<q>["'`])(?P<qv>(?:(?!(?P=q))[^\\\r\n]){1,512}+)(?P=q)"""
_KEYED_VALUE = re.compile(
    r"""(?P<nq>["'`])?\]?(?P<op>[ \t]*+(?::=|=>|=(?!=)|:(?!:))[ \t]*+)(?:""" + _QUOTED
    + r"""|(?P<bv>[^\s"'`,;#{}\])(<>\[\\]{1,512}+(?:\\(?![nrt"'\\])[^\s"'`,;#{}\])(<>\[\\]{0,512}+){0,8}+)"""
    r"""(?=[\s,;#}\]"'`)\\]|$))"""
)
# Prose after a password word: "the password is: x", "my password was x" (":" alone is the keyed rule).
_PROSE_VALUE = re.compile(
    r"""[ \t]++(?i:is|was)(?![\w'])[ \t]*+:?[ \t]*+(?:""" + _QUOTED + r"""|(?P<bv>[^\s"'`\\]{1,128}+))"""
)
_NAME_MAX = 60
_REDACTED_PREFIX = "[REDACTED:"

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}+@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_FILE_EXT_TLDS = frozenset(
    ["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "mjs", "ts", "css", "map", "json", "txt", "lock"]
)

_PEM_BEGIN = re.compile(r"-----BEGIN[ A-Z0-9]{0,40}?PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[ A-Z0-9]{0,40}?PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s]|\\[nr])*+")


def _private_keys(text: str) -> Iterator[SecretSpan]:
    """PEM private key blocks; each END marker is searched once, so the scan stays linear."""
    pos = 0
    no_end_after = len(text) + 1  # once an END search fails, every later BEGIN would fail too
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = None if begin.end() >= no_end_after else _PEM_END.search(text, begin.end())
        if end is not None:
            stop = end.end()
        else:
            no_end_after = min(no_end_after, begin.end())
            stop = _PEM_BODY.match(text, begin.end()).end()  # type: ignore[union-attr]
        yield SecretSpan("private_key", (begin.start(), stop))
        pos = stop


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_.-"


def _literal_word(text: str, start: int, name: str, m: re.Match[str]) -> bool:
    """Whether a bare all-letter word after ``name`` is a literal, not an identifier (module doc)."""
    value, op = m.group("bv"), m.group("op")
    if m.group("nq") or "." in name:
        return False  # {"password": pw} and self.password = pw are code
    if _ENV_STYLE.match(name.strip(_NAME_STRIP)):
        return True  # PGPASSWORD=..., POSTGRES_PASSWORD: ...
    if any(ch.isupper() for ch in value[1:]):
        return False  # camelCase: a variable
    j = start
    while j > max(0, start - 64) and text[j - 1] in " \t":
        j -= 1
    if j > 0 and text[j - 1] in "(,":
        return False  # f(password=pw), def f(self, password: x)
    after = text[m.end("bv") : m.end("bv") + 64]
    if op == "=":  # passwd=letmein, --password=x (no spaces: not a code assignment, not a kwarg list)
        return not after or after[0] in " \t\r\n\"'`"
    if op.strip() == ":" and value[0].islower():  # YAML "password: hunter", alone on its line
        rest = after.lstrip(" \t")
        return not rest or rest[0] in "\r\n#"
    return False


def _prose_span(text: str, p: re.Match[str]) -> tuple[int, int] | None:
    if p.group("q"):
        return p.span("qv") if looks_like_secret_value(p.group("qv"), True, name="password") else None
    start, end = p.span("bv")
    while end > start and text[end - 1] in ".,;:)]}":
        end -= 1  # sentence punctuation after the word
    value = text[start:end]
    if any(ch in value for ch in "[]{}=<>") or not looks_like_secret_value(value, False, literal_word=True):
        return None
    return start, end


def _keyed(text: str, lowered: str) -> Iterator[SecretSpan]:
    for hit in _KEYWORD.finditer(lowered):
        start = hit.start()
        floor = max(0, start - _NAME_MAX)
        while start > floor and _is_name_char(text[start - 1]):
            start -= 1
        if start > 0 and _is_name_char(text[start - 1]):
            continue  # the name is longer than _NAME_MAX: not a variable name worth trusting
        if text.endswith(_REDACTED_PREFIX, 0, start):
            continue  # the type inside a placeholder ("[REDACTED:secret]") is not a name
        name = text[start : hit.end()]
        if not is_secret_name(name):
            continue
        kind = "password" if _PASSWORD_NAME.search(name) else "secret"
        m = _KEYED_VALUE.match(text, hit.end())
        if m is not None and m.group("q"):
            if looks_like_secret_value(m.group("qv"), True, name=name):
                yield SecretSpan(kind, m.span("qv"))
        elif m is not None:
            bare = m.group("bv")
            literal = kind == "password" and bare.isalpha() and _literal_word(text, start, name, m)
            if looks_like_secret_value(bare, False, name=name, literal_word=literal):
                yield SecretSpan(kind, m.span("bv"))
        elif kind == "password" and (p := _PROSE_VALUE.match(text, hit.end())) is not None:
            span = _prose_span(text, p)
            if span is not None:
                yield SecretSpan(kind, span)


def _emails(text: str) -> Iterator[SecretSpan]:
    for m in _EMAIL.finditer(text):
        local, domain = m.group().split("@", 1)
        if local == "git" or domain.rsplit(".", 1)[1].lower() in _FILE_EXT_TLDS:
            continue  # git@github.com remotes and icon@2x.png assets are not addresses
        if text.endswith("://", 0, m.start()):
            continue  # scheme://user@host: a URL user name, kept like the user of url_password
        yield SecretSpan("email", m.span())


def _candidates(text: str) -> Iterator[SecretSpan]:
    if "PRIVATE KEY" in text:
        yield from _private_keys(text)
    lowered = text.lower()
    if len(lowered) != len(text):  # a few non-ASCII letters lowercase to two code points
        lowered = text.translate(_ASCII_LOWER)
    for rule in _RULES:
        if rule.hints and not any(h in (lowered if rule.fold else text) for h in rule.hints):
            continue
        for m in rule.pattern.finditer(text):
            if rule.check is None or rule.check(m):
                yield SecretSpan(rule.type, m.span(rule.group))
    yield from _keyed(text, lowered)
    if "@" in text:
        yield from _emails(text)


def find_secrets(text: str) -> list[SecretSpan]:
    """Every secret in ``text`` as ``(type, (start, end))``, sorted by position, non-overlapping.

    Overlaps are resolved by :data:`SECRET_TYPES` order, so the most specific type claims a span.
    Validators call this on exported text and fail when it returns anything.
    """
    found = sorted(_candidates(text), key=lambda s: (_PRIORITY[s.type], s.span[0]))
    if len(found) < 2:
        return [s for s in found if s.span[0] < s.span[1]]
    # One byte per character marks claimed text: checking and marking cost the span's length, and
    # one rule's matches never overlap each other, so the total stays linear in the text.
    claimed = bytearray(len(text))
    kept: list[SecretSpan] = []
    for cand in found:
        start, end = cand.span
        if start >= end or claimed.find(1, start, end) != -1:
            continue
        claimed[start:end] = b"\x01" * (end - start)
        kept.append(cand)
    return sorted(kept, key=lambda s: s.span)


def _replace(text: str, spans: list[SecretSpan]) -> str:
    out: list[str] = []
    last = 0
    for kind, (start, end) in spans:
        out.append(text[last:start])
        out.append(PLACEHOLDER.format(kind))
        last = end
    out.append(text[last:])
    return "".join(out)


def redact(text: str) -> tuple[str, Counter[str]]:
    """Replace every secret with ``[REDACTED:<type>]``; returns the text and counts by type.

    Repeats until nothing is found (normally one pass; a second one only when a replacement exposes
    a shorter secret that an overlapping, more specific match had hidden).
    """
    counts: Counter[str] = Counter()
    for _ in range(_MAX_PASSES):
        spans = find_secrets(text)
        if not spans:
            break
        counts.update(s.type for s in spans)
        text = _replace(text, spans)
    return text, counts


def redact_value(obj: Any) -> tuple[Any, Counter[str]]:
    """Redact every string inside dicts, lists and tuples (a new object; the input is untouched).

    A dict entry whose key is a secret name (``{"password": "hunter2!x"}``) is judged by the same
    value heuristics as a quoted assignment, because the key/value context is lost once the value
    is looked at alone. Dict keys themselves are left as they are: they are schema, not content.
    """
    counts: Counter[str] = Counter()
    return _redact_obj(obj, counts, None), counts


def _keyed_kind(key: str | None, value: str, quoted: bool = True) -> str | None:
    """The placeholder type for a whole dict value under a secret-named key, else None."""
    if key is None or not is_secret_name(key) or not looks_like_secret_value(value, quoted, name=key):
        return None
    if find_secrets(value):  # a typed secret inside (sk-..., a URL password) wins over the name rule
        return None
    return "password" if _PASSWORD_NAME.search(key.strip(_NAME_STRIP)) else "secret"


def _redact_obj(obj: Any, counts: Counter[str], key: str | None) -> Any:
    if isinstance(obj, str | int) and not isinstance(obj, bool):
        # an int under a secret key ({"pin_password": 123456}) is judged like a bare JSON number
        kind = _keyed_kind(key, obj) if isinstance(obj, str) else _keyed_kind(key, str(obj), quoted=False)
        if kind is not None:
            counts[kind] += 1
            return PLACEHOLDER.format(kind)
        if isinstance(obj, int):
            return obj
        text, found = redact(obj)
        counts.update(found)
        return text
    if isinstance(obj, dict):
        return {k: _redact_obj(v, counts, k if isinstance(k, str) else None) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v, counts, None) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_obj(v, counts, None) for v in obj)
    return obj


class Redactor:
    """Redacts many texts and values, accumulating counts by type for the stage's receipt."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def redact(self, text: str) -> str:
        """Redacted text; the counts of this call are added to :attr:`counts`."""
        out, found = redact(text)
        self.counts.update(found)
        return out

    def redact_value(self, obj: Any) -> Any:
        """Redacted copy of a JSON-like value; counts accumulate in :attr:`counts`."""
        out, found = redact_value(obj)
        self.counts.update(found)
        return out

    @property
    def total(self) -> int:
        """Number of secrets redacted so far, all types together."""
        return sum(self.counts.values())
