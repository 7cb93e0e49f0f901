"""Keeping secrets out of prompts, heal records and logs.

Three kinds of value are hidden:

- exact values: the API key, the values of environment variables whose
  names look secret (KEY, SECRET, TOKEN, PASSWORD, CREDENTIAL, AUTH), and
  the values assigned in the repository's ``.env`` files;
- well-known key formats: OpenAI-style ``sk-`` keys, AWS access key ids,
  GitHub and Slack tokens, bearer tokens and PEM private key blocks;
- the values of secret-named assignments in code and configuration.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 6  # shorter exact values are not hidden, because that would garble text

# Environment variables whose values are hidden; AUTHOR names are not secrets.
_SECRET_VARIABLE = re.compile(
    r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE
)

# A line that assigns a secret-looking name (api_key, apikey, secret, token, password),
# with an optional type annotation.
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<key>(api[_-]?key|secret|token|password)\w*['\"]?(\s*:\s*[\w.\[\]| ]+?)?\s*[:=]\s*)"
    r"(?P<value>\S.*?)\s*,?$",
    re.IGNORECASE,
)
# Values worth hiding after such a name: a string literal, or a bare word of eight or more
# characters with letters and digits (as in a .env dump). Code such as ``token = tokens[0]``
# or ``max_tokens=100`` is left alone.
_SECRET_LITERAL = re.compile(
    r"^([rbuf]{0,2}['\"].*|(?=[^\s()\[\]{},]*[a-z])(?=[^\s()\[\]{},]*\d)[^\s()\[\]{},]{8,})$",
    re.IGNORECASE,
)
_OPENAI_STYLE_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")

# Key formats recognised on their own, wherever they appear.
_KEY_PATTERNS = (
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),  # GitHub token
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack token
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*"),
    re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL
    ),
)
_ENV_LINE = re.compile(r"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?P<value>.*?)\s*$")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide secret values in ``text``.

    ``secrets`` are exact values to hide wherever they occur, such as API keys
    and the values of secret-named environment variables. Values shorter than
    ``MIN_SECRET_CHARS`` characters are ignored because hiding them would garble ordinary text.
    Then known key formats and the values of secret-named assignments are hidden.
    """
    values = {value for value in secrets if len(value) >= MIN_SECRET_CHARS}
    for secret in sorted(values, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _OPENAI_STYLE_KEY.sub(f"sk-{REDACTED}", text)
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return "".join(_redact_line(line) for line in text.splitlines(keepends=True))


def _redact_line(line: str) -> str:
    body = line.rstrip("\r\n")
    match = _SECRET_ASSIGNMENT.search(body)
    if match is None or not _SECRET_LITERAL.match(match.group("value")):
        return line
    ending = line[len(body) :]
    return f"{body[: match.start('value')]}{REDACTED}{body[match.end('value') :]}{ending}"


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the values of environment variables whose names look secret."""
    environ = os.environ if environ is None else environ
    return [value for name, value in environ.items() if _SECRET_VARIABLE.search(name) and value]


def shareable_secrets(root: Path) -> list[str]:
    """Return the values assigned in the ``.env`` files at the top of the repository at ``root``."""
    values = []
    for file in sorted(root.glob(".env*")):
        try:
            text = file.read_text(encoding="utf-8") if file.is_file() else ""
        except (OSError, UnicodeDecodeError) as error:
            logging.getLogger(__name__).debug("cannot read %s for secrets: %s", file, error)
            continue
        for line in text.splitlines():
            match = _ENV_LINE.match(line)
            if match:
                values.append(match.group("value").strip().strip("'\""))
    return [value for value in values if len(value) >= MIN_SECRET_CHARS]


class RedactingFilter(logging.Filter):
    """A logging filter that hides secrets in every record it passes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message, self._secrets)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True
