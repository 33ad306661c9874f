"""Patterns and value heuristics of :mod:`mcp_distill.redact.scrub` (the scanner that applies them).

Here: the detector table, the keyed-rule regexes and the judges of whether a value under a secret
name is a literal, with the stoplists they use.

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

Linear time (the patterns' share; the scanner's is in :mod:`mcp_distill.redact.scrub`): every pattern
starts with a literal (``sk-``, ``eyJ``, ``://``; the boundary look-behind comes after it) or a
look-behind that only lets a match start at the beginning of a run of its own characters, runs are
consumed with possessive quantifiers (Python 3.11+) and the other repeats are bounded, so the work
per start position is bounded by a constant.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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


def _prefixed(prefix: str, body: str, boundary: str = r"[A-Za-z0-9]") -> re.Pattern[str]:
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
