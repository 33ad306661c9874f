"""More detectors for :mod:`mcp_distill.redact.scrub`: token formats of gitleaks' and detect-secrets'
rule sets that :mod:`mcp_distill.redact.patterns` did not have, personal data (phone numbers, public
IP addresses, payment card numbers), plain-word passphrases and an entropy rule for unknown tokens.

docs/redaction.md lists every kind with its source and its test. Choices, and why:

* Token rules need their fixed prefix (``pypi-AgEI``, ``SG.``, ``dop_v1_``...): a prefix makes a
  false positive on ordinary text practically impossible, so no context is needed.
* ``phone``: only numbers written as phone numbers (a leading ``+`` or NANP ``(415) 555-0132`` /
  ``415-555-0132`` punctuation), then checked by libphonenumber (``phonenumbers``) for a real
  numbering plan. Bare digit runs are ids, counts and epoch timestamps in agent logs, never taken.
* ``ip_address``: IPv4/IPv6 that :mod:`ipaddress` calls *global*; private, loopback, link-local
  and documentation ranges (``10.0.0.1``, ``127.0.0.1``, ``192.0.2.1``) carry nothing personal and
  are kept, so are dotted versions after ``v``/``version``.
* ``card_number``: 13-19 digits (spaces or dashes between groups) with a valid Luhn check digit
  and an issuer prefix of Visa, Mastercard, Amex, Discover, JCB, Diners or UnionPay.
* ``high_entropy``: a token of 24+ characters of ``[A-Za-z0-9_+/=-]`` holding upper case, lower
  case and digits, whose character classes change at least every third character and whose Shannon
  entropy is at least 4.0 bits per character, less than half of it in word-like runs. Hex strings
  (git SHAs, sha256, UUIDs) are never taken:
  agent traces are full of them and they are hashes, not credentials. Identifiers in CamelCase or
  snake_case change class rarely and stay; so do ``sha512-`` integrity strings, ``base64,`` data,
  crypt hashes (``$2b$12$...``), certificate / public key blocks and API object ids with a lowercase
  word prefix (``msg_01Xn...``, ``toolu_01...``, ``chatcmpl-...``): an unknown secret format with
  such a prefix is missed, a known one has its own rule.
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator

import phonenumbers

from mcp_distill.redact.patterns import _ENGLISH_SHAPE, _PROSE_WORDS, _STOPWORDS, _prefixed, _Rule


def _rule(kind: str, prefix: str, body: str, boundary: str = r"[A-Za-z0-9]") -> _Rule:
    return _Rule(kind, _prefixed(prefix, body, boundary))


#: (kind, rules), in the order of scrub.SECRET_TYPES. Sources: gitleaks config/gitleaks.toml and
#: detect-secrets' plugins (docs/redaction.md names the rule each comes from).
TOKEN_RULES: tuple[_Rule, ...] = (
    _rule("pypi_token", "pypi-AgEIcHlwaS5vcmc", r"[\w-]{50,}+"),
    _Rule("sendgrid_key", re.compile(r"SG\.(?<![\w.-]SG\.)[\w-]{22}\.[\w-]{43}(?![\w-])")),
    _rule("twilio_key", "SK", r"[0-9a-fA-F]{32}(?![0-9A-Za-z])", "[A-Za-z0-9]"),
    _Rule("mailchimp_key", re.compile(r"(?<![0-9a-f])[0-9a-f]{32}-us\d{1,2}(?!\d)"), hints=("-us",)),
    _Rule("discord_token", re.compile(r"(?<![\w.-])[MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,38}(?![\w-])")),
    _Rule("telegram_token", re.compile(r"(?<![\d:])\d{8,10}:AA[\w-]{33}(?![\w-])"), hints=(":AA",)),
    _rule("square_token", "sq0", r"(?:atp-[\w-]{22}|csp-[\w-]{43})(?![\w-])"),
    _rule("shopify_token", "shp", r"(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![\w])"),
    _rule("digitalocean_token", "do", r"[por]_v1_[a-f0-9]{64}(?![\w])"),
    _rule("doppler_token", "dp.", r"(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}(?![\w])", r"[\w.-]"),
    _rule("databricks_token", "dapi", r"[a-h0-9]{32}(?:-\d)?(?![\w])"),
    _rule("linear_key", "lin_api_", r"[A-Za-z0-9]{40}(?![\w])"),
    _rule("postman_key", "PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}(?![\w])"),
    _rule("pulumi_token", "pul-", r"[a-f0-9]{40}(?![\w])"),
    _rule("age_secret_key", "AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    _rule("grafana_token", "gl", r"(?:sa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|c_[A-Za-z0-9+/]{32,}+={0,2})"),
    _rule("sentry_token", "sntry", r"[su]_[\w+/=]{40,}+"),
    _rule("groq_key", "gsk_", r"[A-Za-z0-9]{48,}+"),
    _rule("replicate_token", "r8_", r"[A-Za-z0-9]{37}(?![\w])"),
    _rule("perplexity_key", "pplx-", r"[A-Za-z0-9]{48}(?![\w])"),
    _rule("vault_token", "hv", r"[sb]\.[\w-]{90,}+"),
    _rule("artifactory_key", "AKCp", r"[A-Za-z0-9]{69}(?![\w])", "[A-Za-z0-9]"),
    _rule("mailgun_key", "key-", r"[0-9a-f]{32}(?![\w])"),
    _rule("newrelic_key", "NRAK-", r"[A-Z0-9]{27}(?![\w])"),
)

TOKEN_KINDS: tuple[str, ...] = tuple(dict.fromkeys(r.type for r in TOKEN_RULES))
#: Kinds found by the functions below (scrub.SECRET_TYPES puts them after the keyed rules).
PII_KINDS: tuple[str, ...] = ("card_number", "phone", "ip_address")
ENTROPY_KIND = "high_entropy"

# -- personal data ------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,5}){1,4}|\+\d{8,14}"
    r"|\(\d{3}\)[ ]?\d{3}[ .-]\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w.-]?\d)"
)
_IPV4 = re.compile(r"(?<![\w.:-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:.])")
_VERSION_BEFORE = re.compile(r"(?:\bv|version|release|ver)[ :=]*$", re.IGNORECASE)
# Written as card numbers are: one run of 13-19 digits, groups of four, or Amex's 4-6-5.
_CARD = re.compile(r"(?<![\w.,-])(?:\d{13,19}|\d{4}(?:([ -])\d{4})(?:\1\d{4}){1,2}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{5})"
                   r"(?![\w-]|[.,]\d)")
_CARD_IIN = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cards(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _CARD_IIN.match(digits) and _luhn(digits):
            yield "card_number", m.span()


def phones(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    for m in _PHONE.finditer(text):
        raw = m.group()
        digits = sum(ch.isdigit() for ch in raw)
        if not 10 <= digits <= 15:
            continue
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            yield "phone", m.span()


def ips(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    if "." in text:
        for m in _IPV4.finditer(text):
            if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                continue
            try:
                if ipaddress.IPv4Address(m.group()).is_global:
                    yield "ip_address", m.span()
            except ValueError:
                continue
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6.finditer(text):
            if sum(bool(g) for g in m.group().split(":")) < 3:
                continue  # "::6", "a::b": slices and short labels, not addresses worth a placeholder
            try:
                if ipaddress.IPv6Address(m.group()).is_global:
                    yield "ip_address", m.span()
            except ValueError:
                continue


# -- entropy ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_+/=-]{24,256}+(?![A-Za-z0-9_+/=-])")
# PEM blocks that are not private keys (certificates, public keys): public material, left alone.
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]{1,40}-----[\s\S]{0,16384}?-----END [A-Z0-9 ]{1,40}-----")
_HEXISH = re.compile(r"^[0-9a-fA-F-]+$")
# An API object id: a short lowercase word and "_"/"-" before the random part (msg_..., req_...,
# toolu_..., chatcmpl-..., call_...). Credentials with such prefixes have their own rules above.
_ID_PREFIX = re.compile(r"^[a-z]{2,12}[_-]")
_SKIP_BEFORE = ("base64,", "$")  # data: URLs; crypt hashes ($2b$12$..., $argon2id$...)
_HASH_PREFIX = ("sha1-", "sha256-", "sha384-", "sha512-")  # subresource integrity / lockfile hashes
MIN_ENTROPY = 4.0
MIN_SWITCH_RATE = 1 / 3
MIN_PIECE = 16
_PIECES = re.compile(r"[/=_]+")
#: Share of a token covered by word-like runs (``Class``, ``name``) above which it is an identifier;
#: random base62 tokens of 24-40 characters reach it 2.5 % of the time (a miss we accept).
MAX_WORD_COVER = 0.5
_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}")


def _class(ch: str) -> int:
    return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3


def shannon(token: str) -> float:
    """Shannon entropy of ``token`` in bits per character."""
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def looks_random(token: str) -> bool:
    """Mixed case and digits, classes switching often, high entropy, not hex (module doc)."""
    core = token.rstrip("=")
    if _HEXISH.match(core) or not (any(c.islower() for c in core) and any(c.isupper() for c in core)
                                   and sum(c.isdigit() for c in core) >= 2):
        return False
    switches = sum(_class(a) != _class(b) for a, b in itertools.pairwise(core))
    # a 16-character string cannot reach 4 bits per character: the bar follows the length
    if switches < MIN_SWITCH_RATE * (len(core) - 1) or shannon(core) < min(MIN_ENTROPY, math.log2(len(core)) - 0.5):
        return False
    return sum(len(w) for w in _WORDISH.findall(core)) < MAX_WORD_COVER * len(core)


def entropy_tokens(text: str) -> Iterator[tuple[str, tuple[int, int]]]:
    blocks = [m.span() for m in _PEM_BLOCK.finditer(text)] if "-----BEGIN" in text else []
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token.startswith(_HASH_PREFIX) or _ID_PREFIX.match(token) or text.endswith(_SKIP_BEFORE, 0, m.start()):
            continue
        if any(a <= m.start() < b for a, b in blocks):
            continue
        # judged by its longest piece between "/", "=" and "_": LLVM_DIR=/usr/lib/llvm-14/cmake is a
        # path, BashOutput_83665086... an event name; a random piece of 16+ characters is not
        piece = max(_PIECES.split(token), key=len)
        if len(piece) < MIN_PIECE or not looks_random(piece):
            continue
        yield ENTROPY_KIND, m.span()


# -- plain-word passphrases ---------------------------------------------------------------------

#: After a password name and ``:``/``=``: 3-8 lowercase words and nothing else up to the line end.
PASSPHRASE = re.compile(
    r"""["'`]?[ \t]*+(?::|=)[ \t]*+(?P<q>["'`]?)(?P<v>[a-z]{2,20}+(?:[ \t-][a-z]{2,20}+){2,7}+)(?P=q)[ \t]*+"""
    r"""(?=[\r\n,;}]|\\[nr"]|$)"""
)


def plain_passphrase(words: str) -> bool:
    """A diceware phrase, not a sentence: no English function word, no -ed/-ing/-ly/-ble word (status
    messages are written that way), at most one stop word ("correct horse battery staple")."""
    parts = re.split(r"[ \t-]", words)
    if any(w in _PROSE_WORDS or _ENGLISH_SHAPE.search(w) for w in parts):
        return False  # "password updated successfully", "must be at least ..."
    return sum(w in _STOPWORDS for w in parts) <= 1
