"""The text sent to a model: the system prompt, the fault report and the code it needs.

Every piece of repository text and test output passes through :func:`redact`
before it enters a message, so that secret literals stay out of prompts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from patches.context import symbol_source, symbol_span
from patches.errors import EditError
from patches.types import FaultKind, RepairRequest, TraceFrame

# A file up to these sizes is sent whole, and a larger one as a window around the failing line.
WHOLE_FILE_LINES = 400
WHOLE_FILE_CHARS = 16_000
WINDOW_LINES = 60  # lines on each side of the failing line in a window
MAX_MESSAGE_CHARS = 2_000  # exception message
MAX_OUTPUT_CHARS = 4_000  # test output, cut in the middle
MAX_FRAMES = 20  # innermost traceback frames shown

REDACTED = "[REDACTED]"

SYSTEM_PROMPT = """\
You fix bugs in a Python repository. You get one fault (a failing test, a lint \
error or a module that cannot be imported) with its traceback, the test output \
and the code around it. Find the cause and fix it in the source code.

Reply with a one or two sentence explanation of the cause, then one or more \
SEARCH/REPLACE blocks. Only the blocks are applied. Each block looks like this:

path/to/file.py
<<<<<<< SEARCH
existing lines, copied exactly
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- Put the file path, relative to the repository root, alone on the line before \
the block (or before its code fence).
- SEARCH copies whole existing lines exactly, with their indentation, comments \
and blank lines. It must match exactly one place in the file: add neighbouring \
lines when a short SEARCH would match more than once, but keep it short.
- An empty SEARCH section creates a new file. Use it for nothing else.
- Make the smallest change that fixes the cause. Do not reformat, rename or \
reorganise code that the fix does not need.
- Never edit tests, conftest.py or pytest configuration. Never skip or xfail a \
test, weaken an assertion, or hide an error with a broad `except`.
- Do not add a dependency that the repository does not already use.
"""

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


@dataclass(frozen=True)
class CodeExcerpt:
    """A file to show the model, with the line the fault points at.

    A read-only excerpt (a test) is shown as its enclosing function only and
    is marked as not to be edited.
    """

    path: str
    source: str
    line: int
    read_only: bool = False
    symbol: str | None = None  # qualified name of the function to show whole


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide secret values in ``text``.

    ``secrets`` are exact values to hide wherever they occur, such as API keys
    and the values of secret-named environment variables. Values shorter than
    six characters are ignored because hiding them would garble ordinary text.
    Then ``sk-...`` keys and the values of secret-named assignments are hidden.
    """
    for secret in sorted({value for value in secrets if len(value) >= 6}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _OPENAI_STYLE_KEY.sub(f"sk-{REDACTED}", text)
    return "".join(_redact_line(line) for line in text.splitlines(keepends=True))


def build_messages(
    request: RepairRequest, excerpts: list[CodeExcerpt], secrets: Iterable[str] = ()
) -> list[dict[str, str]]:
    """Build the chat messages for ``request``: the system prompt and one user message."""
    secrets = tuple(secrets)
    sections = [_fault_section(request)]
    if request.frames:
        sections.append(_traceback_section(request.frames))
    if request.test_output.strip():
        output = _cut_middle(request.test_output.strip(), MAX_OUTPUT_CHARS)
        sections.append(f"## Test output (trimmed)\n\n{_fenced(output, 'text')}")
    for excerpt in excerpts:
        section = _code_section(excerpt)
        if section:
            sections.append(section)
    sections.append(
        "## Task\n\nFix the cause of this fault in the source code. Explain the cause in one or "
        "two sentences, then give the SEARCH/REPLACE blocks."
    )
    user = redact("\n\n".join(sections), secrets)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]


def _redact_line(line: str) -> str:
    body = line.rstrip("\r\n")
    match = _SECRET_ASSIGNMENT.search(body)
    if match is None or not _SECRET_LITERAL.match(match.group("value")):
        return line
    ending = line[len(body) :]
    return f"{body[: match.start('value')]}{REDACTED}{body[match.end('value') :]}{ending}"


def _fault_section(request: RepairRequest) -> str:
    kinds = {
        FaultKind.TEST: "failing test",
        FaultKind.LINT: "lint error",
        FaultKind.COLLECTION: "module that pytest cannot collect",
        FaultKind.CRASH: "uncaught exception that stopped a running program",
    }
    lines = ["## Fault", "", request.summary, "", f"Kind: {kinds[request.kind]}"]
    if request.test_ids:
        lines.append(f"Failing tests: {', '.join(request.test_ids)}")
    if request.location is not None:
        where = f"{request.location.path}:{request.location.line}"
        if request.location.symbol:
            where += f" in {request.location.symbol}"
        lines.append(f"Location: {where}")
    if request.lint_code:
        lines.append(f"Lint rule: {request.lint_code}")
    if request.lint_fix is not None:
        lines.append(
            f"Ruff suggests ({request.lint_fix.applicability}): {request.lint_fix.message}"
        )
    message = _cut_middle(request.message.strip(), MAX_MESSAGE_CHARS)
    if request.exc_type:
        lines += ["", "Exception:", _fenced(f"{request.exc_type}: {message}", "text")]
    elif message:
        lines += ["", "Message:", _fenced(message, "text")]
    return "\n".join(lines)


def _traceback_section(frames: tuple[TraceFrame, ...]) -> str:
    shown = frames[-MAX_FRAMES:]
    lines = []
    if len(frames) > len(shown):
        lines.append(f"[{len(frames) - len(shown)} outer frames left out]")
    for frame in shown:
        lines.append(f'  File "{frame.path}", line {frame.line}, in {frame.function}')
        if frame.source.strip():
            lines.append(f"    {frame.source.strip()}")
    return f"## Traceback (innermost call last)\n\n{_fenced(chr(10).join(lines), 'text')}"


def _code_section(excerpt: CodeExcerpt) -> str:
    if excerpt.read_only:
        title = f"### {excerpt.path}: test `{excerpt.symbol}` (read only, do not edit)"
        try:
            text = symbol_source(excerpt.source, excerpt.symbol or "", excerpt.path) or ""
        except EditError:
            text = ""  # a test file that does not parse is in the traceback already
        return f"{title}\n\n{_fenced(text.rstrip(), 'python')}" if text else ""

    lines = excerpt.source.splitlines()
    parts = []
    failing = lines[excerpt.line - 1].strip() if 0 < excerpt.line <= len(lines) else ""
    span = _symbol_span(excerpt)
    if span is not None:
        start, end = span
        function = "".join(excerpt.source.splitlines(keepends=True)[start - 1 : end])
        parts.append(
            f"### {excerpt.path}: `{excerpt.symbol}`, lines {start}-{end}\n\n"
            f"{_fenced(function.rstrip(), 'python')}"
        )
    if len(lines) <= WHOLE_FILE_LINES and len(excerpt.source) <= WHOLE_FILE_CHARS:
        parts.append(
            f"### {excerpt.path} (whole file, {len(lines)} lines)\n\n"
            f"{_fenced(excerpt.source.rstrip(), 'python')}"
        )
    else:
        first = max(1, excerpt.line - WINDOW_LINES)
        last = min(len(lines), excerpt.line + WINDOW_LINES)
        window = "\n".join(lines[first - 1 : last])
        parts.append(
            f"### {excerpt.path}, lines {first}-{last} of {len(lines)}\n\n"
            f"{_fenced(window, 'python')}"
        )
    if failing:
        parts.append(f"Line {excerpt.line} of {excerpt.path}, where the fault points: `{failing}`")
    return "\n\n".join(parts)


def _symbol_span(excerpt: CodeExcerpt) -> tuple[int, int] | None:
    if not excerpt.symbol:
        return None
    try:
        return symbol_span(excerpt.source, excerpt.symbol, excerpt.path)
    except EditError:
        return None  # the file does not parse, but the whole file or window still shows it


def _fenced(text: str, language: str) -> str:
    """Wrap ``text`` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _cut_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters cut ...]\n{text[-half:]}"
