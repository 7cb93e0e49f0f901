"""The text sent to a model: the system prompt, the fault report and the code it needs.

Every piece of repository text and test output passes through :func:`redact`
before it enters a message, so that secret literals stay out of prompts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from patches.prompt_context import CodeContext
from patches.secrets import redact
from patches.types import FaultKind, FeedbackKind, RepairRequest, TraceFrame, Turn

MAX_MESSAGE_CHARS = 2_000  # exception message
MAX_OUTPUT_CHARS = 4_000  # test output, cut in the middle
MAX_FRAMES = 20  # innermost traceback frames shown

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

# pytest lines that carry the failure: "E   ..." details, "> " source lines, "path.py:12: Error"
# locations, and the short summary's FAILED and ERROR lines.
_RELEVANT_OUTPUT = re.compile(r"^(E\s|>\s|\S+\.py:\d+:|FAILED |ERROR |_{3,} )")


def build_messages(
    request: RepairRequest, context: CodeContext, secrets: Iterable[str] = ()
) -> list[dict[str, str]]:
    """Build the chat messages for ``request``: the system prompt, the fault, earlier rounds.

    Each earlier round of ``request.history`` becomes the model's reply and a
    user message saying what went wrong with it.
    """
    secrets = tuple(secrets)
    sections = [_fault_section(request)]
    if request.frames:
        sections.append(_traceback_section(request.frames))
    output = relevant_output(request.test_output)
    if output:
        sections.append(f"## Test output (trimmed)\n\n{_fenced(output, 'text')}")
    if context.sections:
        sections.append("## Code")
    for section in context.sections:
        sections.append(f"### {section.title}\n\n{_fenced(section.code, section.language)}")
    if context.editable:
        allowed = ", ".join(sorted(context.editable))
        sections.append(f"Files you may edit: {allowed}.")
    sections.append(
        "## Task\n\nFix the cause of this fault in the source code. Explain the cause in one or "
        "two sentences, then give the SEARCH/REPLACE blocks."
    )
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": redact("\n\n".join(sections), secrets)},
    ]
    for turn in request.history:
        messages.append({"role": "assistant", "content": redact(turn.reply, secrets)})
        messages.append({"role": "user", "content": redact(feedback_message(turn), secrets)})
    return messages


def feedback_message(turn: Turn) -> str:
    """Tell the model what happened to its last reply and what to send next."""
    if turn.kind is FeedbackKind.NOT_APPLIED:
        return (
            f"Your reply could not be used: {turn.problem}\n\n"
            "Nothing was applied, and the files are still as shown above. Send the complete "
            "set of SEARCH/REPLACE blocks again, corrected. Copy each SEARCH section exactly "
            "from the real lines."
        )
    return (
        "Your edits applied, but the fault is not fixed. The validation failed:\n\n"
        f"{_fenced(turn.problem, 'text')}\n\n"
        "Your edits were not kept, so the files are still as shown above. Find the real cause "
        "and send new SEARCH/REPLACE blocks."
    )


def relevant_output(output: str) -> str:
    """Keep the lines of pytest output that explain a failure, or cut the middle of the rest."""
    lines = output.strip().splitlines()
    relevant = [line for line in lines if _RELEVANT_OUTPUT.match(line)]
    text = "\n".join(relevant) if relevant else output.strip()
    return _cut_middle(text, MAX_OUTPUT_CHARS)


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
