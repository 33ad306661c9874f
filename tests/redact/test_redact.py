"""Redaction: every kind of planted secret is removed and typed, ordinary code and text is untouched.

Secrets are generated from a seeded RNG at import time instead of being written out literally, so
this file carries no string that a secret scanner (or a reader) could mistake for a live credential.
"""

from __future__ import annotations

import copy
import json
import random
import string
from collections import Counter

import pytest

from mcp_distill.redact.scrub import (
    SECRET_TYPES,
    Redactor,
    SecretSpan,
    find_secrets,
    redact,
    redact_value,
)

_RNG = random.Random(20240601)
_ALNUM = string.ascii_letters + string.digits


def _tok(n: int, alphabet: str = _ALNUM) -> str:
    """Random token that contains a digit, an upper and a lower letter where the alphabet has them."""
    assert n >= 3, "a token needs room for a digit, an upper and a lower letter"
    while True:
        t = "".join(_RNG.choice(alphabet) for _ in range(n))
        need = [c for c in (string.digits, string.ascii_uppercase, string.ascii_lowercase) if set(c) & set(alphabet)]
        if all(set(t) & set(c) for c in need):
            return t


def _pem(kind: str = "RSA ") -> str:
    body = "\n".join(_tok(64, _ALNUM + "+/") for _ in range(4))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n{_tok(20)}==\n-----END {kind}PRIVATE KEY-----"


_JWT = f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.{_tok(43)}"
_AWS_SECRET = _tok(40, _ALNUM + "/+")

# (expected type, text with the secret planted, the secret that must disappear)
SAMPLES: list[tuple[str, str, str]] = [
    ("aws_access_key_id", "export AWS_ACCESS_KEY_ID={s}", "AKIA" + _tok(16, string.ascii_uppercase + string.digits)),
    ("aws_access_key_id", "creds: {s} (temporary)", "ASIA" + _tok(16, string.ascii_uppercase + string.digits)),
    ("aws_secret_key", "aws_secret_access_key = {s}", _AWS_SECRET),
    ("aws_secret_key", '{{"SecretAccessKey": "{s}"}}', _tok(40, _ALNUM + "/+")),
    ("google_api_key", "const key = fetchWith('{s}')", "AIza" + _tok(35, _ALNUM + "_-")),
    ("azure_key", 'AZURE_STORAGE_KEY="{s}"', _tok(86, _ALNUM + "+/") + "=="),
    ("azure_key", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};EndpointSuffix=x", _tok(86) + "=="),
    ("azure_key", "client secret value {s} from the portal", "aB3" + "8Q~" + _tok(34, _ALNUM + "_-.~")),
    ("github_token", "git clone https://x:{s}@github.com/o/r", "ghp_" + _tok(36)),
    ("github_token", "GH_TOKEN={s}", "gho_" + _tok(36)),
    ("github_token", "token {s} expires", "ghs_" + _tok(36)),
    ("github_token", "use {s} for ci", "github_pat_" + _tok(22) + "_" + _tok(59)),
    ("openai_key", "OPENAI_API_KEY={s}", "sk-" + _tok(48)),
    ("openai_key", "client = OpenAI(api_key='{s}')", "sk-proj-" + _tok(40) + "_" + _tok(40)),
    ("anthropic_key", "x-api-key: {s}", "sk-ant-api03-" + _tok(93, _ALNUM + "_-") + "AA"),
    ("slack_token", "SLACK_BOT_TOKEN={s}", f"xoxb-{_tok(12, string.digits)}-{_tok(13, string.digits)}-{_tok(24)}"),
    ("slack_token", "user token {s}", f"xoxp-{_tok(12, string.digits)}-{_tok(24)}"),
    ("slack_webhook", "post to {s} when done", f"https://hooks.slack.com/services/T{_tok(8)}/B{_tok(10)}/{_tok(24)}"),
    ("stripe_key", "stripe.api_key = {s}", "sk_live_" + _tok(24)),
    ("stripe_key", "restricted {s}", "rk_live_" + _tok(24)),
    ("huggingface_token", "huggingface-cli login --token {s}", "hf_" + _tok(34)),
    ("gitlab_token", "PRIVATE-TOKEN {s}", "glpat-" + _tok(20)),
    ("npm_token", "//registry.npmjs.org/:_authToken={s}", "npm_" + _tok(36)),
    ("jwt", "cookie session={s}; Path=/", _JWT),
    ("bearer_token", 'curl -H "Authorization: Bearer {s}" https://api.example.com', _tok(40, _ALNUM + "-._~")),
    ("basic_auth", "Authorization: Basic {s}", _tok(28, _ALNUM + "+/") + "="),
    ("private_key", "key file:\n{s}\nend of file", _pem()),
    ("private_key", "{s}", _pem("OPENSSH ")),
    ("private_key", "{s}", _pem("")),
    ("url_password", "DATABASE_URL=postgres://app_user:{s}@db.internal:5432/app", _tok(16)),
    ("url_password", "redis://:{s}@cache:6379/0", _tok(12)),
    ("password", 'password = "{s}"', "S3cr3t!" + _tok(6)),
    ("password", "DB_PASSWORD={s}", _tok(14)),
    ("password", '  db_password: "{s}"', _tok(12, _ALNUM + "!#%")),
    ("password", "mysql --password={s} -h db", _tok(12)),
    ("secret", '{{"client_secret": "{s}"}}', _tok(32)),
    ("secret", "api_key: {s}", _tok(20)),
    ("secret", "githubToken = '{s}'", _tok(24)),
    ("secret", "X-Api-Key: {s}", _tok(32, string.hexdigits.lower())),
    ("secret", "session_token := `{s}`", _tok(30)),
    ("secret", "settings['auth'] = '{s}'", _tok(16)),
    ("secret", "AWS_SESSION_TOKEN={s}", "IQoJb3JpZ2luX2Vj" + _tok(60, _ALNUM + "/+") + "=="),
    ("email", "contact jane.doe+build@example.co.uk for access", "jane.doe+build@example.co.uk"),
    ("email", "From: <ops@mcp-distill.dev>", "ops@mcp-distill.dev"),
    # gitleaks / detect-secrets formats (docs/redaction.md)
    ("pypi_token", "twine upload -p {s}", "pypi-AgEIcHlwaS5vcmc" + _tok(60, _ALNUM + "_-")),
    ("sendgrid_key", "SENDGRID={s}", "SG." + _tok(22, _ALNUM + "_-") + "." + _tok(43, _ALNUM + "_-")),
    ("twilio_key", "twilio key {s}", "SK" + _tok(32, "0123456789abcdef")),
    ("mailchimp_key", "mc {s} ok", _tok(32, "0123456789abcdef") + "-us14"),
    ("discord_token", "bot.run('{s}')", "M" + _tok(23) + "." + _tok(6) + "." + _tok(27)),
    ("telegram_token", "bot {s} started", "123456789:AA" + _tok(33, _ALNUM + "_-")),
    ("square_token", "square {s}", "sq0atp-" + _tok(22)),
    ("shopify_token", "shop {s}", "shpat_" + _tok(32, "0123456789abcdef")),
    ("digitalocean_token", "doctl auth init -t {s}", "dop_v1_" + _tok(64, "0123456789abcdef")),
    ("doppler_token", "doppler {s}", "dp.pt." + _tok(43)),
    ("databricks_token", "databricks {s}", "dapi" + _tok(32, "0123456789abcdefgh")),
    ("linear_key", "linear {s}", "lin_api_" + _tok(40)),
    ("postman_key", "postman {s}", "PMAK-" + _tok(24, "0123456789abcdef") + "-" + _tok(34, "0123456789abcdef")),
    ("pulumi_token", "pulumi login {s}", "pul-" + _tok(40, "0123456789abcdef")),
    ("age_secret_key", "{s}", "AGE-SECRET-KEY-1" + _tok(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
    ("grafana_token", "grafana {s}", "glsa_" + _tok(32) + "_" + _tok(8, "0123456789abcdef")),
    ("sentry_token", "SENTRY {s}", "sntrys_" + _tok(60)),
    ("groq_key", "groq {s}", "gsk_" + _tok(52)),
    ("replicate_token", "replicate {s}", "r8_" + _tok(37)),
    ("perplexity_key", "pplx {s}", "pplx-" + _tok(48)),
    ("vault_token", "VAULT {s}", "hvs." + _tok(95, _ALNUM + "_-")),
    ("artifactory_key", "jfrog {s}", "AKCp" + _tok(69)),
    ("mailgun_key", "mailgun {s}", "key-" + _tok(32, "0123456789abcdef")),
    ("newrelic_key", "newrelic {s}", "NRAK-" + _tok(27, string.ascii_uppercase + string.digits)),
    # personal data, passphrases, unknown formats
    ("card_number", "paid with {s} yesterday", "4111 1111 1111 1111"),
    ("card_number", "card={s};", "5555-5555-5555-4444"),
    ("phone", "call me at {s} tomorrow", "+1 415-555-0132"),
    ("phone", "office {s}", "(415) 867-5309"),
    ("phone", "whatsapp {s}", "+44 20 7946 0958"),
    ("ip_address", "ssh root@{s} -p 22", "93.184.216.34"),
    ("ip_address", "resolved to {s} first", "2606:4700:4700::1111"),
    ("password", "password: {s}", "correct horse battery staple"),
    ("password", '{{"password": "{s}"}}', "tulip orbit canyon walrus"),
    ("secret", "app.secret_key = '{s}'", "dev-key-123"),
    ("high_entropy", "X-Custom: {s}", _tok(32)),
    ("high_entropy", "webhook signing value {s} (rotate monthly)", "Q7-" + _tok(38)),
]

# Secrets hidden behind an encoding: JSON-escaped, after a literal \n, \uXXXX, URL-encoded.
ENCODED: list[tuple[str, str]] = [
    ('{\\"password\\": \\"hunter2\\"}', "hunter2"),
    ("rejected: line one\\nghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("x\\tAKIAIOSFODNN7EXAMPL3 y", "AKIAIOSFODNN7EXAMPL3"),
    ("\\u0067hp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "hp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("https://x.test/cb?token%3Dghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("q=password%3Dhunter2x%26next", "hunter2x"),
    ('"{\\\\\\"password\\\\\\": \\\\\\"s3cr3t-pw\\\\\\"}"', "s3cr3t-pw"),
]


@pytest.mark.parametrize(("text", "secret"), ENCODED)
def test_encoded_secrets_are_found_through_their_escapes(text: str, secret: str) -> None:
    out, counts = redact(text)
    assert secret not in out, out
    assert counts
    assert redact(out) == (out, Counter())


def test_escaped_text_keeps_its_escaping_around_the_placeholder() -> None:
    out, _ = redact('{\\"password\\": \\"hunter2\\", \\"user\\": \\"app\\"}')
    assert out == '{\\"password\\": \\"[REDACTED:password]\\", \\"user\\": \\"app\\"}'


@pytest.mark.parametrize("text", [
    "version 1.2.3.4 of the tool; listen on 0.0.0.0:8080, 127.0.0.1, 10.1.2.3 and 192.168.0.10",
    "at 12:30:45 the run ended; ipv6 loopback ::1 and fe80::1 are local",
    "order 1234 5678 9012 3456 (not Luhn) and epoch 1733318400123 ms",
    "line 4242, 415 tests, 2024-05-01, id 5551234567",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8, uuid 123e4567-e89b-12d3-a456-426614174000",
    "class ThisIsAVeryLongClassNameForTesting123 and get_user_account_settings_by_id2",
    "password: updated successfully",
    "The password must contain letters and digits",
])
def test_new_detectors_leave_ordinary_text_alone(text: str) -> None:
    assert find_secrets(text) == []


@pytest.mark.parametrize(("kind", "template", "secret"), SAMPLES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SAMPLES)])
def test_each_sample_is_redacted_with_its_type(kind: str, template: str, secret: str) -> None:
    text = template.format(s=secret)
    found = find_secrets(text)
    assert [f.type for f in found] == [kind]
    start, end = found[0].span
    assert text[start:end] == secret
    out, counts = redact(text)
    assert secret not in out
    assert f"[REDACTED:{kind}]" in out
    assert counts == Counter({kind: 1})
    assert find_secrets(out) == []
    assert redact(out) == (out, Counter())


def test_every_type_has_samples() -> None:
    assert {k for k, _, _ in SAMPLES} == set(SECRET_TYPES)
    assert len(SAMPLES) >= 20


def test_mixed_document_counts_every_type_and_leaves_nothing() -> None:
    filler = [
        "The agent ran the migration and the tests passed.",
        "def connect(url: str) -> Connection:\n    return sqlite3.connect(url)",
        "- step 3: rebuild the index (took 4.2 s)",
        "See commit 9fceb02d0ae598e95dc970b74767f19372d61af8 for details.",
    ]
    parts: list[str] = []
    for i, (_, template, secret) in enumerate(SAMPLES):
        parts.append(filler[i % len(filler)])
        parts.append(template.format(s=secret))
    text = "\n".join(parts)
    out, counts = redact(text)
    assert counts == Counter(k for k, _, _ in SAMPLES)
    for _, _, secret in SAMPLES:
        assert secret not in out
    assert find_secrets(out) == []
    for line in filler:
        assert line in out
    assert redact(out) == (out, Counter())


FALSE_POSITIVES = """\
token = None
password: str
password: str | None = None
api_key=os.environ["OPENAI_API_KEY"]
api_key = os.getenv("API_KEY")
self.secret_key = secret_key
self.access_token = access_token
token = tokens[i - 1]
secret = get_secret("db")
auth = HTTPBasicAuth(user, password)
headers = {"Authorization": f"Bearer {token}"}
password = "********"
password: ${DB_PASSWORD}
api_key: "{{ vault_api_key }}"
api_key: "<your-api-key>"
token_env = "GITHUB_TOKEN"
api_key = "OPENAI_API_KEY"
max_tokens = 4096
num_tokens: 1234567890
token_url = "https://oauth2.example.com/token"
password_hash = "$2b$12$KIXQJv7mPqW3bB2eZz8Z0eG6aYpF1sJm0uQpX9rT5yLw4nHc8dVfS"
password_file = "/run/secrets/db_password"
secretName: my-app-tls-secret
secret: my-app-credentials
auth: true
oauth = "abcdefgh12345"
if token == "abcdefgh12345678":
commit 9fceb02d0ae598e95dc970b74767f19372d61af8
sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
request_id = "123e4567-e89b-12d3-a456-426614174000"
"integrity": "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUR7rnnDH4k3hCyfQg=="
"resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"
hash = "sha256:3c3a7ef3b8e4b1bbd3a2a3c1c76b8c6f2d6e1b2a4c5d6e7f8091a2b3c4d5e6f7"
checksum = "a2b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7"
"node_modules/js-tokens": {"version": "4.0.0"}
"dependencies": {"auth": "^1.2.3", "secret-handshake": "~10.11.12"}
git@github.com:org/repo.git
ssh://git@github.com/org/repo.git
<img src="logo@2x.png"> and icon@3x.webp
@pytest.fixture and @app.route("/login")
npm install @scope/pkg@1.2.3
postgres://app_user@db.internal:5432/app
https://example.com:8443/path?q=1#frag
http://localhost:8080/api
The bearer of this letter. Bearer tokens expire. Bearer authentication is described in RFC 6750.
Authorization: Bearer ${TOKEN}
the task-sk-foo-bar-baz-quux-long-name and the disk-skimming-routine-for-large-files
sk-learn is a typo for scikit-learn
AKIAIOSFODNN7EXAMPL is one short
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo
-----END PUBLIC KEY-----
-----BEGIN CERTIFICATE-----
MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ
-----END CERTIFICATE-----
x = a == b; y = c != d; z := compute()
for token in tokenize(source): yield token
def authenticate(self, password: str, token: str | None = None) -> bool:
PWD=/home/agent/work
const apiKey = process.env.API_KEY;
export GITHUB_TOKEN=$(gh auth token)
token: ${{ secrets.GITHUB_TOKEN }}
self.token = self._make_token(user)
https://user@example.com/path
"""


def test_false_positive_corpus_is_left_unchanged() -> None:
    assert find_secrets(FALSE_POSITIVES) == []
    assert redact(FALSE_POSITIVES) == (FALSE_POSITIVES, Counter())


# Short or spaced secrets under an explicit secret name or after "password is" (reviewer's cases and
# their neighbours): (text, the secret that must disappear). Weak demo passwords, not credentials.
LABELLED_SHORT: list[tuple[str, str]] = [
    ("export PGPASSWORD=hunter0", "hunter0"),
    ("the password is: hunter0", "hunter0"),
    ('{"password": "correct horse battery 0"}', "correct horse battery 0"),
    ("passwd=letmein", "letmein"),
    ('password = "hunter2"', "hunter2"),
    ("my password is hunter0", "hunter0"),
    ("password: hunter0", "hunter0"),
    ("pwd: hunter0", "hunter0"),
    ("MYSQL_PWD=letmein mysql -u root", "letmein"),
    ("DB_PASSWORD=hunter", "hunter"),
    ("POSTGRES_PASSWORD: postgres", "postgres"),
    ("password: letmein  # dev only", "letmein"),
    ("mysql --password=letmein -h db", "letmein"),
    ('docker run -e "PGPASSWORD=letmein" postgres', "letmein"),
    ("The password was 'hunter 2'.", "hunter 2"),
    ("My password is letmein.", "letmein"),
    ("the passphrase is `p@ss w0rd`", "p@ss w0rd"),
    ("db_password := `abc`", "abc"),
    ("SECRET_KEY = 'dev'", "dev"),
    ("spring.datasource.password=hunter2", "hunter2"),
]


@pytest.mark.parametrize(("text", "secret"), LABELLED_SHORT, ids=[t for t, _ in LABELLED_SHORT])
def test_short_and_spaced_labelled_secrets_are_found_and_redacted(text: str, secret: str) -> None:
    found = find_secrets(text)
    assert len(found) == 1
    start, end = found[0].span
    assert text[start:end] == secret
    kind = found[0].type
    assert kind == ("secret" if "SECRET" in text else "password")
    out, counts = redact(text)
    assert secret not in out and f"[REDACTED:{kind}]" in out
    assert counts == Counter({kind: 1})
    assert redact(out) == (out, Counter())
    assert find_secrets(json.dumps(out)) == []  # an export writes the text JSON-encoded


def test_redact_value_catches_short_values_under_secret_keys() -> None:
    value = {
        "db_password": "hunter2",
        "PGPASSWORD": "pw!",
        "auth": {"password": "correct horse battery 0", "user": "app"},
        "pin_password": 123456,
        "token": "Hello",  # logprobs: a short value under a token key is text, not a credential
        "api_key": "",
        "password": "correct horse battery staple",  # plain words: taken for a phrase, as in text
        "secret": 4096,
        "passwd": True,
    }
    out, counts = redact_value(value)
    assert out == {
        "db_password": "[REDACTED:password]",
        "PGPASSWORD": "[REDACTED:password]",
        "auth": {"password": "[REDACTED:password]", "user": "app"},
        "pin_password": "[REDACTED:password]",
        "token": "Hello",
        "api_key": "",
        "password": "[REDACTED:password]",
        "secret": 4096,
        "passwd": True,
    }
    assert counts == Counter(password=5)
    assert find_secrets(json.dumps(out)) == []  # the serialised row agrees with the key rule
    assert find_secrets(json.dumps(value))  # and the text rule sees the same secrets before
    assert redact_value(out) == (out, Counter())


# Code and prose around the short-value rules that must stay as it is.
SHORT_FALSE_POSITIVES = """f(password=secret)
connect(
    password=secret,
)
{ password: secret }
password = hunter
token: Token
password: SecretStr
password: Password
auth: keycloak
if password is None:
if password is not None and token:
the password is incorrect
The password is checked against the stored hash.
Password is required.
Password must be at least 8 characters
errors = {"password": "Password must be at least 8 characters"}
print("Password: " + password + "!")
read -rsp "Password: " PASSWORD
bash: pwd: command not found
passwd: password updated successfully
OLDPWD=/tmp/build
UPDATE users SET password = :password WHERE id = :id
token = "EOF"
{"token": "Hello", "logprob": -0.25}
password = "x"
password: ********
echo "password: $PASSWORD"
export PGPASSWORD=$PGPASSWORD
export PGPASSWORD="${DB_PASSWORD}"
psql -h db  # PGPASSWORD=${DB_PASSWORD}
hashed = password_hash(password)
password = models.CharField(max_length=128)
password: z.string().min(8, "too short"),
api_key: str = Field(..., env="API_KEY")
GITHUB_TOKEN=abcdefgh
password:
  - rotate monthly
"""


def test_short_value_rules_leave_code_and_prose_alone() -> None:
    assert find_secrets(SHORT_FALSE_POSITIVES) == []
    assert redact(SHORT_FALSE_POSITIVES) == (SHORT_FALSE_POSITIVES, Counter())
    for line in SHORT_FALSE_POSITIVES.splitlines():
        assert find_secrets(json.dumps(line)) == [], line


def test_offsets_survive_unicode_whose_lowercase_is_longer() -> None:
    # "İ".lower() is two code points: the keyword scan must not drift off the original offsets.
    pw = _tok(12)
    text = f'İstanbul İİ password = "{pw}" and x@example.com'
    out, counts = redact(text)
    assert out == 'İstanbul İİ password = "[REDACTED:password]" and [REDACTED:email]'
    assert counts == Counter(password=1, email=1)


def test_context_around_a_secret_is_kept() -> None:
    pw = _tok(16)
    out, _ = redact(f"postgres://app_user:{pw}@db.internal:5432/app?sslmode=require")
    assert out == "postgres://app_user:[REDACTED:url_password]@db.internal:5432/app?sslmode=require"
    out, _ = redact(f'db = connect(host="db", password="{pw}", port=5432)')
    assert out == 'db = connect(host="db", password="[REDACTED:password]", port=5432)'
    bearer = _tok(32)
    out, _ = redact(f"Authorization: Bearer {bearer}")
    assert out == "Authorization: Bearer [REDACTED:bearer_token]"


def test_most_specific_type_wins_overlaps() -> None:
    key = "sk-" + _tok(48)
    assert redact(f'api_key = "{key}"') == ('api_key = "[REDACTED:openai_key]"', Counter(openai_key=1))
    assert redact(f"Authorization: Bearer {_JWT}")[1] == Counter(jwt=1)
    ant = "sk-ant-api03-" + _tok(60)
    assert redact(ant)[1] == Counter(anthropic_key=1)
    assert redact(f"aws_secret_access_key={_AWS_SECRET}")[1] == Counter(aws_secret_key=1)
    pw = _tok(12)
    out, counts = redact(f"DATABASE_URL=mysql://root:{pw}@localhost/db")
    assert counts == Counter(url_password=1) and "root" in out and "localhost" in out


def test_pem_blocks_escaped_truncated_and_repeated() -> None:
    pem = _pem("EC ")
    escaped = pem.replace("\n", "\\n")
    out, counts = redact(f'{{"private_key": "{escaped}", "type": "service_account"}}')
    assert out == '{"private_key": "[REDACTED:private_key]", "type": "service_account"}'
    assert counts == Counter(private_key=1)
    truncated = pem.rsplit("\n", 2)[0]  # the END line and the last body line cut off
    out, counts = redact(f"{truncated}\n... (output truncated)")
    assert counts == Counter(private_key=1) and "(output truncated)" in out
    assert "BEGIN EC PRIVATE KEY" not in out and pem.splitlines()[1] not in out
    two = f"{_pem()}\nbetween\n{_pem('OPENSSH ')}"
    out, counts = redact(two)
    assert out == "[REDACTED:private_key]\nbetween\n[REDACTED:private_key]"
    assert counts == Counter(private_key=2)


def test_find_secrets_returns_typed_sorted_spans() -> None:
    email = "a.b@example.org"
    key = "ghp_" + _tok(36)
    text = f"mail {email} then push with {key}."
    found = find_secrets(text)
    assert found == [
        SecretSpan("email", (5, 5 + len(email))),
        SecretSpan("github_token", (text.index(key), text.index(key) + len(key))),
    ]
    assert found[0].type == "email" and found[1].span[1] - found[1].span[0] == len(key)


def test_redact_value_walks_structures_and_uses_key_context() -> None:
    pw, sec = _tok(12), _tok(20)
    value = {
        "password": pw,  # alone the value looks like any string: the key says it is a secret
        "note": f"token={sec}",
        "max_tokens": 4096,
        "token": None,
        "items": ["plain", {"email": "ops@example.com"}, ("sk-" + _tok(48), 3.5)],
        "nested": {"api_key": "sk-" + _tok(48), "ok": True, "label": "password"},
    }
    before = copy.deepcopy(value)
    out, counts = redact_value(value)
    assert value == before  # the input is not modified
    assert out["password"] == "[REDACTED:password]"
    assert out["note"] == "token=[REDACTED:secret]"
    assert out["max_tokens"] == 4096 and out["token"] is None
    assert out["items"][0] == "plain"
    assert out["items"][1] == {"email": "[REDACTED:email]"}
    assert out["items"][2] == ("[REDACTED:openai_key]", 3.5)
    assert out["nested"] == {"api_key": "[REDACTED:openai_key]", "ok": True, "label": "password"}
    assert counts == Counter(password=1, secret=1, email=1, openai_key=2)
    assert redact_value(out) == (out, Counter())


def test_redactor_accumulates_counts() -> None:
    r = Redactor()
    assert r.redact("nothing here") == "nothing here"
    r.redact(f"a@example.com and b@example.com and {'hf_' + _tok(34)}")
    r.redact_value({"secret": _tok(16), "list": ["c@example.com"]})
    assert r.counts == Counter(email=3, huggingface_token=1, secret=1)
    assert r.total == 5


def test_idempotent_on_redacted_and_placeholder_text() -> None:
    text = "\n".join(t.format(s=s) for _, t, s in SAMPLES)
    once, _ = redact(text)
    assert redact(once) == (once, Counter())
    literal = "password = [REDACTED:password] secret: '[REDACTED:secret]' [REDACTED:secret]: x"
    assert redact(literal) == (literal, Counter())


ADVERSARIAL_PIECES = [
    "a",
    " ",
    "\n",
    "AKIA",
    "a@",
    "a@b.",
    "a.",
    "eyJ",
    "eyJa.",
    "sk-",
    "sk-a",
    "password=",
    'password = "',
    "_password:",
    "http://a:",
    "a://b:c",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "Bearer a",
    "_azure_key=",
    "AccountKey=",
    "aaaaQ~",
    "Authorization: Basic ",
    "https://hooks.slack.com/services/",
    "password is ",
    "the password is: a",
    "PGPASSWORD=",
    "pwd: ",
    'password = "a ',
    "passwd=a\\",
    "(password=x, ",
]


@pytest.mark.slow
def test_one_megabyte_of_adversarial_text_is_handled() -> None:
    """Linear-time patterns: each input finishes (a backtracking regex would never return here).

    Measured on the 2-core dev machine: at most ~1 s per MB for the worst piece, ~10 ms per MB for
    text without secret-like content. No timing assertion (flaky by nature); a catastrophic pattern
    shows up as this test hanging.
    """
    size = 1_000_000
    rng = random.Random(3)
    inputs = [(p * (size // len(p) + 1))[:size] for p in ADVERSARIAL_PIECES]
    inputs.append("".join(rng.choice(ADVERSARIAL_PIECES) for _ in range(size // 6))[:size])
    for text in inputs:
        out, _ = redact(text)
        assert find_secrets(out) == []
    pem_out, pem_counts = redact(inputs[ADVERSARIAL_PIECES.index("-----BEGIN RSA PRIVATE KEY-----\n")])
    assert pem_counts["private_key"] >= 1 and "PRIVATE KEY" not in pem_out.replace("[REDACTED:private_key]", "")
